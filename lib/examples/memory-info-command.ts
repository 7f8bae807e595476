// Sends one command to /proc/memory_info and prints what the file shows, or
// the error: node dist/examples/memory-info-command.js 'FILTER|bash'
import { type CommandSpec, runCommand } from '../cli/args';
import { command, type MemoryInfoError } from '../memory-info';

const spec: CommandSpec = {
  name: 'node dist/examples/memory-info-command.js',
  synopsis: "'RESET' | 'ALL' | 'FILTER|<name>' | 'DEL|<name>'",
  description: 'Sends one command to /proc/memory_info and prints what the file shows, or the error.',
  positionals: { min: 1, max: 1 },
};

runCommand(spec, ({ positionals: [cmd] }) => {
  try {
    process.stdout.write(command(cmd));
  } catch (err) {
    const e = err as MemoryInfoError;
    if (e.kernelMessage) e.message += `: [ERROR]: ${e.kernelMessage}`;
    throw e;
  }
});
