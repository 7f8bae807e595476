// Leaves a message in a kshram slot for a later run to pick up:
//   node dist/examples/kshram-message.js write 0 "hello"
//   node dist/examples/kshram-message.js read 0
// The message lives in kernel memory until the module is unloaded.
import { type CommandSpec, integerValue, runCommand, UsageError } from '../cli/args';
import { KshramSlot, SLOT_COUNT } from '../kshram';

/** Stores `text` NUL-terminated at the start of the slot. */
export function writeMessage(index: number, text: string): void {
  using slot = new KshramSlot(index);
  const bytes = Buffer.from(`${text}\0`);
  if (bytes.length > slot.size) slot.resize(bytes.length);
  slot.write(bytes);
}

/** Reads up to the first NUL. */
export function readMessage(index: number): string {
  using slot = new KshramSlot(index);
  const data = slot.read();
  const end = data.indexOf(0);
  return data.subarray(0, end < 0 ? data.length : end).toString();
}

const spec: CommandSpec = {
  name: 'node dist/examples/kshram-message.js',
  synopsis: 'write SLOT TEXT... | read SLOT',
  description:
    'write: stores TEXT (NUL-terminated) at the start of /dev/kshramSLOT, growing the slot if needed.\n' +
    'read: prints the message stored there. The message stays in kernel memory until the module is unloaded.',
  positionals: { min: 2, max: Infinity },
};

if (require.main === module) {
  runCommand(spec, ({ positionals: [verb, slotText, ...words] }) => {
    const slot = integerValue('SLOT', slotText, 0, SLOT_COUNT - 1);
    if (verb === 'write') {
      writeMessage(slot, words.join(' '));
      console.log(`wrote ${JSON.stringify(words.join(' '))} to /dev/kshram${slot}`);
    } else if (verb === 'read' && words.length === 0) {
      console.log(`/dev/kshram${slot} holds ${JSON.stringify(readMessage(slot))}`);
    } else {
      throw new UsageError(verb === 'read' ? 'read takes one SLOT' : `unknown verb ${JSON.stringify(verb)}`);
    }
  });
}
