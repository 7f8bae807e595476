#!/usr/bin/env node
// kmodlab COMMAND [options]: the package's command line. Each command is a
// module under lib/cli/ exporting run(args) -> exit status (lib/cli/args.ts
// parses its options and prints its help); this file only picks one. Exit
// status 2 means a usage error, as with most Unix tools.
import { type CommandSpec, UsageError, execute, helpText } from './args';

/** Every command: its summary for the list, and its module, loaded only when it runs. */
const COMMANDS: Record<string, { summary: string; load(): Promise<{ run(args: string[]): Promise<number> }> }> = {
  capture: { summary: 'capture frames from a device into a pcap file', load: async () => import('./capture') },
  bench: { summary: 'compare the capture methods on the same traffic (in the VM; npm start)', load: async () => import('./bench') },
  pcap: { summary: 'run a libpcap program (tcpdump, tshark) with fastnet:IFNAME devices (LD_PRELOAD)', load: async () => import('./pcap') },
};

const spec = {
  name: 'kmodlab',
  synopsis: 'COMMAND [options]',
  description: "The package's command line: kmodlab COMMAND --help lists a command's options.",
  commands: Object.fromEntries(Object.entries(COMMANDS).map(([name, { summary }]) => [name, summary])),
  positionals: { min: 1, max: 1 },
} satisfies CommandSpec;

async function main(argv: string[]): Promise<number> {
  // Without a command, the list of them, as a usage error.
  if (argv.length === 0) {
    process.stderr.write(helpText(spec));
    return 2;
  }
  // Only the first argument is kmodlab's own (--help, or the command); the rest are the command's.
  return execute(
    spec,
    async ({ positionals: [name] }) => {
      const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
      if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)} (commands: ${Object.keys(COMMANDS).join(', ')})`);
      return (await command.load()).run(argv.slice(1));
    },
    argv.slice(0, 1),
  );
}

void main(process.argv.slice(2)).then((status) => {
  process.exitCode = status;
});
