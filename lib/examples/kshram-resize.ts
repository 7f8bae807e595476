// Resizes every slot (slot i to 4 KiB << i by default, up to 512 KiB; pass
// sizes to choose) and prints /proc/kshram before and after.
//   node dist/examples/kshram-resize.js [SIZE...]
import { type CommandSpec, integerValue, runCommand } from '../cli/args';
import { KshramSlot, MAX_SLOT_SIZE, SLOT_COUNT, readProcTable } from '../kshram';

export function resizeAll(sizes: number[]): void {
  for (let i = 0; i < SLOT_COUNT; i++) {
    using slot = new KshramSlot(i);
    slot.resize(sizes[i % sizes.length]);
  }
}

export function printTable(title: string): void {
  console.log(title);
  for (const { slot, size } of readProcTable()) console.log(`  slot ${slot}: ${size} bytes`);
}

const spec: CommandSpec = {
  name: 'node dist/examples/kshram-resize.js',
  synopsis: '[SIZE...]',
  description:
    `Resizes every slot and prints /proc/kshram before and after. SIZE in bytes, 1 to ${MAX_SLOT_SIZE};\n` +
    'slot i gets SIZE number i (the list repeats); without SIZE, slot i gets 4 KiB << i.',
  positionals: { min: 0, max: SLOT_COUNT },
};

if (require.main === module) {
  runCommand(spec, ({ positionals }) => {
    const args = positionals.map((text) => integerValue('SIZE', text, 1, MAX_SLOT_SIZE));
    const sizes = args.length > 0 ? args : Array.from({ length: SLOT_COUNT }, (_, i) => 4096 << i);
    printTable('before:');
    resizeAll(sizes);
    printTable('after:');
  });
}
