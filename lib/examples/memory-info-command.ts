// Sends one command to /proc/memory_info and prints what the file shows, or
// the error: node dist/examples/memory-info-command.js 'FILTER|bash'
import { command, type MemoryInfoError } from '../memory-info';

const cmd = process.argv[2];
if (cmd === undefined || process.argv.length > 3) {
  console.error("usage: memory-info-command 'RESET' | 'ALL' | 'FILTER|<name>' | 'DEL|<name>'");
  process.exit(2);
}
try {
  process.stdout.write(command(cmd));
} catch (err) {
  const e = err as MemoryInfoError;
  console.error(`${e.message}${e.kernelMessage ? `: [ERROR]: ${e.kernelMessage}` : ''}`);
  process.exit(1);
}
