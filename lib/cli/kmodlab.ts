#!/usr/bin/env node
// kmodlab COMMAND [options]: the package's command line. Each command is a
// module under lib/cli/ exporting run(args) -> exit status; this file only
// picks one. Exit status 2 means a usage error, as with most Unix tools.
import { UsageError } from './usage';

interface Command {
  /** One line for the command list. */
  summary: string;
  /** Runs with the arguments after the command's name; resolves with the exit status. */
  run(args: string[]): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  capture: async () => import('./capture'),
  bench: async () => import('./bench'),
};

// Here rather than loaded, so --help does not load every command.
const SUMMARIES: Record<string, string> = {
  capture: 'capture frames from a device into a pcap file',
  bench: 'compare the capture methods on the same traffic (in the VM; npm start)',
};

function usage(): string {
  return [
    'usage: kmodlab COMMAND [options]   (kmodlab COMMAND --help for its options)',
    '',
    'commands:',
    ...Object.entries(SUMMARIES).map(([name, text]) => `  ${name.padEnd(10)}${text}`),
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '-h' || name === '--help') {
    (name === undefined ? process.stderr : process.stdout).write(usage());
    return name === undefined ? 2 : 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    process.stderr.write(`kmodlab: unknown command ${JSON.stringify(name)}\n${usage()}`);
    return 2;
  }
  const command = await load();
  try {
    return await command.run(args);
  } catch (error) {
    if (error instanceof UsageError) {
      const [synopsis] = error.usage.split('\n');
      process.stderr.write(`kmodlab ${name}: ${error.message}\n${synopsis}\n(kmodlab ${name} --help lists the options)\n`);
      return 2;
    }
    const e = error as NodeJS.ErrnoException;
    process.stderr.write(`kmodlab ${name}: ${e?.message ?? String(error)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error) => {
    process.stderr.write(`kmodlab: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
