// Resizes every slot (slot i to 4 KiB << i by default, up to 512 KiB; pass
// sizes to choose) and prints /proc/kshram before and after.
//   node dist/examples/kshram-resize.js [SIZE...]
import { KshramSlot, SLOT_COUNT, readProcTable } from '../kshram';

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

if (require.main === module) {
  const args = process.argv.slice(2).map(Number);
  const sizes = args.length > 0 ? args : Array.from({ length: SLOT_COUNT }, (_, i) => 4096 << i);
  printTable('before:');
  resizeAll(sizes);
  printTable('after:');
}
