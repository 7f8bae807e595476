#!/usr/bin/env node
// The `kmodlab` command: one subcommand a file in lib/cli/.
import { bench } from './bench';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; summary: string }> = {
  bench: { run: bench, summary: 'compare the capture methods on the same traffic (in the VM)' },
};

const USAGE = `usage: kmodlab COMMAND [options]   (kmodlab COMMAND --help for its options)
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help') {
    (name === undefined ? process.stderr : process.stdout).write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`kmodlab: unknown command '${name}'\n${USAGE}`);
    return 2;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
