// kmodlab pcap -- COMMAND [ARG...]: runs any libpcap program (tcpdump,
// tshark, your own) with libpcap-fastnet.so preloaded, so that it can
// capture devices named fastnet:IFNAME (fastnet's ring) and
// fastnet-zc:IFNAME (zero-copy, the project's e1000). --lib-path prints the
// library's path, for LD_PRELOAD=... by hand. docs/pcap-preload.md.
import { spawn } from 'node:child_process';
import * as os from 'node:os';

import { pcapPreloadEnv, pcapPreloadPath } from '../pcap-preload';
import { type CommandSpec, type ParsedCommandLine, UsageError, execute } from './args';

export const spec = {
  name: 'kmodlab pcap',
  synopsis: '-- COMMAND [ARG...] | --lib-path',
  description: `Runs COMMAND with libpcap-fastnet.so preloaded: its libpcap captures
fastnet:IFNAME (fastnet's mmap ring) and fastnet-zc:IFNAME (zero-copy, the
project's e1000 and virtio_net) as devices; every other device and file stays libpcap's.
  kmodlab pcap -- tcpdump -i fastnet:eth0 -w eth0.pcap 'udp port 53'
  kmodlab pcap -- tshark -i fastnet-zc:eth0 -c 100 -w eth0.pcapng`,
  options: {
    'lib-path': { type: 'boolean', help: "print the library's path and exit: LD_PRELOAD=$(kmodlab pcap --lib-path) COMMAND" },
  },
  positionals: { min: 0, max: Infinity },
  epilog: "Exit status: COMMAND's own (128 + N when signal N ended it); 1 if the library is not built or COMMAND cannot start; 2 usage error.",
} satisfies CommandSpec;

/** `kmodlab pcap ARGS`: resolves with the exit status. */
export function run(argv: string[]): Promise<number> {
  return execute(spec, main, argv);
}

async function main({ values, positionals }: ParsedCommandLine<typeof spec>): Promise<number> {
  if (values['lib-path']) {
    if (positionals.length > 0) throw new UsageError('--lib-path takes no COMMAND');
    process.stdout.write(`${pcapPreloadPath()}\n`);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('missing COMMAND: kmodlab pcap -- COMMAND [ARG...]');
  const [command, ...args] = positionals;
  const child = spawn(command, args, { env: pcapPreloadEnv(), stdio: 'inherit' });
  // A terminal's Ctrl-C reaches COMMAND itself (same process group); a signal sent to this process is passed on.
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, forward);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
    });
  } finally {
    for (const signal of signals) process.off(signal, forward);
  }
}
