// kshram at work: the slots and their sizes, a message left in kernel memory,
// every slot resized, and two processes sharing one mapping.
import { readMessage, writeMessage } from './kshram-message';
import { printTable, resizeAll } from './kshram-resize';
import { share } from './kshram-share';
import { KshramSlot } from '../kshram';
import { type CommandSpec, runCommand } from '../cli/args';

async function main(): Promise<void> {
  using slot = new KshramSlot(0);
  console.log(`kshram: ${slot.slotCount()} slots`);
  printTable('/proc/kshram at load:');

  writeMessage(1, 'hello from an earlier process');
  console.log(`slot 1 message, read back by a fresh open: ${JSON.stringify(readMessage(1))}`);

  resizeAll([1024, 4096, 65536, 1 << 20, 2 << 20, 4 << 20, 100, 3 << 20]);
  printTable('/proc/kshram after resizing every slot:');

  const { seen, changes } = await share(2, 200_000);
  console.log(`two children shared slot 2: the reader followed the writer's counter to ${seen} (${changes} values seen live)`);

  using mapping = new KshramSlot(5).map();
  console.log(`slot 5 maps all ${mapping.length} bytes; resizing it while mapped:`);
  try {
    using again = new KshramSlot(5);
    again.resize(4096);
  } catch (e) {
    console.log(`  refused as expected: ${(e as Error).message}`);
  }
}

const spec: CommandSpec = {
  name: 'node dist/examples/kshram-demo.js',
  synopsis: '',
  description: 'kshram at work: the slots, a message left in kernel memory, every slot resized, two processes sharing a mapping.',
};

runCommand(spec, main);
