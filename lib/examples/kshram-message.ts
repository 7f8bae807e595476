// Leaves a message in a kshram slot for a later run to pick up:
//   node dist/examples/kshram-message.js write 0 "hello"
//   node dist/examples/kshram-message.js read 0
// The message lives in kernel memory until the module is unloaded.
import { KshramSlot } from '../kshram';

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

if (require.main === module) {
  const [verb, slot = '0', ...words] = process.argv.slice(2);
  if (verb === 'write') {
    writeMessage(Number(slot), words.join(' '));
    console.log(`wrote ${JSON.stringify(words.join(' '))} to /dev/kshram${slot}`);
  } else if (verb === 'read') {
    console.log(`/dev/kshram${slot} holds ${JSON.stringify(readMessage(Number(slot)))}`);
  } else {
    console.error('usage: kshram-message.js write SLOT TEXT... | read SLOT');
    process.exit(2);
  }
}
