// Two child processes share one kshram mapping: the writer bumps a counter in
// the slot, the reader watches it move through its own mapping, with no
// syscall between them. Run: node dist/examples/kshram-share.js [SLOT] [COUNT]
import { fork } from 'node:child_process';

import { type CommandSpec, integerValue, runCommand } from '../cli/args';
import { KshramSlot, SLOT_COUNT } from '../kshram';

const COUNTER = 0; // byte offset of the 32-bit counter
const DONE = 4; // the writer sets this to 1 when it has finished

function writer(index: number, count: number): void {
  using slot = new KshramSlot(index);
  using mapping = slot.map();
  const words = new Int32Array(mapping.buffer.buffer, 0, 2);
  for (let i = 1; i <= count; i++) Atomics.store(words, COUNTER / 4, i);
  Atomics.store(words, DONE / 4, 1);
}

function reader(index: number): void {
  using slot = new KshramSlot(index);
  using mapping = slot.map();
  const words = new Int32Array(mapping.buffer.buffer, 0, 2);
  let seen = 0;
  let changes = 0;
  while (Atomics.load(words, DONE / 4) === 0 || seen !== Atomics.load(words, COUNTER / 4)) {
    const now = Atomics.load(words, COUNTER / 4);
    if (now !== seen) {
      if (now < seen) throw new Error(`counter went backwards: ${seen} -> ${now}`);
      seen = now;
      changes++;
    }
  }
  process.send?.({ seen, changes });
}

/** Runs the writer and the reader as two children; resolves with what the reader saw. */
export async function share(index: number, count: number): Promise<{ seen: number; changes: number }> {
  {
    using slot = new KshramSlot(index);
    slot.write(Buffer.alloc(8)); // counter and flag start at zero
  }
  const script = __filename;
  const readerChild = fork(script, ['--reader', String(index)]);
  const result = new Promise<{ seen: number; changes: number }>((resolve, reject) => {
    readerChild.once('message', (m) => resolve(m as { seen: number; changes: number }));
    readerChild.once('exit', (code) => code !== 0 && reject(new Error(`reader exited with ${code}`)));
  });
  const writerChild = fork(script, ['--writer', String(index), String(count)]);
  await new Promise((resolve) => writerChild.once('exit', resolve));
  return result;
}

const spec: CommandSpec = {
  name: 'node dist/examples/kshram-share.js',
  synopsis: '[SLOT] [COUNT]',
  description:
    'Two child processes map /dev/kshramSLOT (default 0): the writer counts to COUNT (default 1000000)\n' +
    'in the slot, the reader follows the counter through its own mapping.',
  positionals: { min: 0, max: 2 },
};

if (require.main === module) {
  const [first, ...rest] = process.argv.slice(2);
  if (first === '--writer') writer(Number(rest[0]), Number(rest[1]));
  else if (first === '--reader') reader(Number(rest[0]));
  else {
    runCommand(spec, async ({ positionals: [slotText = '0', countText = '1000000'] }) => {
      const slot = integerValue('SLOT', slotText, 0, SLOT_COUNT - 1);
      const { seen, changes } = await share(slot, integerValue('COUNT', countText, 1, 2 ** 31 - 1));
      console.log(`reader saw the counter reach ${seen} (${changes} distinct values observed) through its own mapping`);
    });
  }
}
