// `kmodlab bench`'s command line: its definition for lib/cli/args.ts (which
// parses it, refuses unknown options and prints --help), and the bench's own
// domain: methods, sources, rates and sizes written as 50k or 4M, the presets
// of --full and --source host. Every value is checked here, so that a bad
// option is one message (and exit status 2) before anything is set up in the guest.
import { METHODS } from '../capture/options';
import { native } from '../native';
import type { NicName } from '../host-traffic';
import { type CommandSpec, type Values, UsageError, badValue, choiceValue, parseCommandLine } from './args';

/**
 * Every method the benchmark knows: the library's capture methods, then its
 * own (fastnet-ring without batched wakeups, fastnet-drop without the
 * --filter, zero-copy's ceiling, tcpdump, tcpdump through libpcap-fastnet.so,
 * the stack alone); which ones run is up to bench-methods.
 */
export const METHOD_NAMES = [
  ...METHODS,
  'fastnet-ring-unbatched',
  'fastnet-drop-unfiltered',
  'zc-ceiling',
  'tcpdump',
  'tcpdump-fastnet',
  'tcpdump-fastnet-pass',
  'stack',
] as const;
export type MethodName = (typeof METHOD_NAMES)[number];

/** pktgen: in the guest, synchronous injection; host: paced frames from the host's framegen into the e1000 (boot with --traffic). */
export const SOURCE_NAMES = ['pktgen', 'host'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

/** The host source's NIC (qemu/vm.sh --nic; its driver: NIC_DRIVERS): the e1000 or virtio-net. */
export const NIC_NAMES = ['e1000', 'virtio'] as const satisfies readonly NicName[];

/** An offered rate in frames per second, or 'max': as fast as the source goes. */
export type Rate = number | 'max';

export interface BenchOptions {
  methods: MethodName[] | null;
  source: SourceName;
  /** host: the NIC the frames come in on (npm start boots the VM with it). */
  nic: NicName;
  rates: Rate[];
  sizes: number[];
  durationSec: number;
  repeats: number;
  slots: number;
  slotSize: number;
  queueLength: number;
  bufferSize: number;
  maxBatch: number;
  /** How long pcap, fastnet-ring, fastnet-zc and zc-ceiling may hold frames to hand them over as one batch, ms. */
  timeoutMs: number;
  /** A tcpdump expression every method applies in the kernel (fastnet-drop-unfiltered and stack aside), or null. */
  filter: string | null;
  /** Destination ports the source cycles over, frame by frame, from 9 (1: every frame to port 9). */
  ports: number;
  outDir: string;
  soaker: boolean;
  profile: MethodName | null;
  full: boolean;
  /** host: a pcap or pcapng file replayed at each rate instead of generated frames (sizes: [0]). */
  pcap: string | null;
}

/** The short default `npm start` runs: a few minutes under TCG. */
export const DEFAULTS = {
  rates: 'max',
  sizes: '64',
  duration: '3',
  repeats: '3',
  slots: '4096',
  slotSize: '2048',
  queueLength: '4096',
  bufferSize: '4M',
  maxBatch: '256',
  // pcap's own default block timeout (lib/capture): every batching method gets the same latency bound.
  timeoutMs: '100',
  out: 'out/bench',
} as const;

/** What --full sweeps. */
export const FULL_SWEEP = { rates: '20k,50k,100k,200k,max', sizes: '64,512,1500', duration: '5', repeats: '3' } as const;

/**
 * The host source's rates: it is paced by the host (an unpaced sender starves
 * QEMU), so 'max' has no meaning there and every rate is a number.
 */
export const HOST_DEFAULTS = { rates: '10k,30k', duration: '2', repeats: '2' } as const;
export const HOST_FULL_SWEEP = { rates: '5k,10k,20k,40k,60k,80k,100k', duration: '5', repeats: '3' } as const;

/** A loss below this share of what was sent counts as loss-free (the loss-free rate). */
export const LOSS_FREE_PCT = 0.1;

export const FRAME_SIZE_MIN = 60;
/** A 1500-byte MTU plus the Ethernet header. */
export const FRAME_SIZE_MAX = 1514;

export const BENCH_SPEC = {
  name: 'kmodlab bench',
  synopsis: '[options]',
  description: `Compares the ways of receiving raw frames in user space on the same traffic,
inside the VM (npm start runs it there): per method, offered and delivered
frames per second, loss, guest CPU per frame and the ratio to pcap. Writes a
table, JSON with every raw sample, and a plot (SVG, PNG) to the output folder.`,
  options: {
    methods: {
      type: 'string',
      short: 'm',
      value: 'LIST',
      help: `methods, comma-separated (default: every capture method;
tcpdump, tcpdump-fastnet (the same tcpdump on fastnet:DEV,
fastnet-zc:DEV with host, through libpcap-fastnet.so, taking
the frames), tcpdump-fastnet-pass (leaving them to the stack), stack
and fastnet-ring-unbatched (readable at every frame), the
references, by name; zc-ceiling, zero-copy counting without
touching the data, runs with host):
${METHOD_NAMES.join(', ')}`,
    },
    source: {
      type: 'string',
      short: 's',
      value: 'NAME',
      choices: SOURCE_NAMES,
      default: 'pktgen',
      help: `pktgen (in the guest) or host (paced frames from the host's framegen
into the NIC: the VM booted with --traffic; npm start does it)`,
    },
    nic: {
      type: 'string',
      value: 'MODEL',
      choices: NIC_NAMES,
      default: 'e1000',
      help: `host: the guest NIC the frames come in on, e1000 (fastnet zero-copy) or
virtio (virtio-net; npm start boots the VM with it)`,
    },
    rates: {
      type: 'string',
      short: 'r',
      value: 'LIST',
      help: `offered frames/s, comma-separated: numbers, 50k, 1.5M, or max (default ${DEFAULTS.rates};
host: numbers only, default ${HOST_DEFAULTS.rates})`,
    },
    sizes: { type: 'string', short: 'z', value: 'LIST', help: `frame sizes in bytes, ${FRAME_SIZE_MIN}-${FRAME_SIZE_MAX} (default ${DEFAULTS.sizes})` },
    duration: { type: 'string', short: 'd', value: 'SEC', help: `seconds per point (default ${DEFAULTS.duration}; host ${HOST_DEFAULTS.duration})` },
    repeats: {
      type: 'string',
      short: 'n',
      value: 'N',
      help: `runs of each point, methods interleaved (default ${DEFAULTS.repeats}; host ${HOST_DEFAULTS.repeats})`,
    },
    slots: { type: 'string', value: 'N', help: `fastnet ring slots, a power of two (default ${DEFAULTS.slots})` },
    'slot-size': { type: 'string', value: 'BYTES', help: `fastnet ring slot size, a power of two >= 2048 (default ${DEFAULTS.slotSize})` },
    'queue-length': { type: 'string', value: 'N', help: `fastnet read queue length (default ${DEFAULTS.queueLength})` },
    'buffer-size': { type: 'string', value: 'SIZE', help: `socket/pcap/af_xdp buffer, bytes (4M, 512k...; default ${DEFAULTS.bufferSize})` },
    'max-batch': { type: 'string', value: 'N', help: `frames taken per batch, at most (default ${DEFAULTS.maxBatch})` },
    'timeout-ms': {
      type: 'string',
      value: 'MS',
      help: `how long pcap (its block timeout), fastnet-ring, fastnet-zc and
zc-ceiling (their batch delay) may hold frames to hand over a batch:
one latency bound for all (default ${DEFAULTS.timeoutMs}; tcpdump's is its own, 1000)`,
    },
    filter: {
      type: 'string',
      short: 'f',
      value: 'EXPR',
      help: `a tcpdump expression every method applies in the kernel (tcpdump
included; fastnet-drop-unfiltered and stack ignore it): loss is
counted against the frames it keeps, e.g. 'udp dst port 9'`,
    },
    ports: {
      type: 'string',
      value: 'N',
      help: `UDP destination ports the source cycles over, 9 to 8+N, one a frame
(default 1); with --filter 'udp dst port 9' the filter keeps 1/N`,
    },
    out: { type: 'string', short: 'o', value: 'DIR', default: DEFAULTS.out, help: 'output folder' },
    full: {
      type: 'boolean',
      help: `the full sweep: rates ${FULL_SWEEP.rates}, sizes ${FULL_SWEEP.sizes},
${FULL_SWEEP.duration} s, ${FULL_SWEEP.repeats} repeats (host: rates ${HOST_FULL_SWEEP.rates});
explicit options still win`,
    },
    profile: {
      type: 'string',
      value: 'METHOD',
      choices: METHOD_NAMES,
      help: 'after the sweep, perf record one run of METHOD at the first rate and size',
    },
    'no-soaker': {
      type: 'boolean',
      help: `no CPU soaker: CPU per frame from /proc/stat only (always so with
the host source: under TCG busy vCPUs starve QEMU's thread that reads
the host's frames, which the host then drops)`,
    },
    'check-only': {
      type: 'boolean',
      help: `check the options, print nothing and exit 0 (a bad one: its message,
exit 2) without running; npm start does it on the host before it
boots the VM`,
    },
    pcap: {
      type: 'string',
      value: 'FILE',
      help: `host: replay FILE (pcap or pcapng, under the project's folder)
at each rate, looped, instead of generated frames; no --sizes
(e.g. test/fixtures/sample-traffic.pcapng)`,
    },
  },
} satisfies CommandSpec;

/** "4M", "512k", "1.5M", "2048" -> a number (k = 1000 for rates, 1024 for sizes). */
export function parseQuantity(text: string, name: string, unit: 1000 | 1024): number {
  const match = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text.trim());
  if (!match) throw badValue(`--${name}`, 'a number (digits, optionally with k or M)', text);
  const scale = match[2] === '' ? 1 : match[2].toLowerCase() === 'k' ? unit : unit * unit;
  const value = Number(match[1]) * scale;
  if (!Number.isSafeInteger(value)) throw badValue(`--${name}`, 'a whole number', text);
  return value;
}

function integer(text: string, name: string, min: number, max: number, unit: 1000 | 1024 = 1024): number {
  const value = parseQuantity(text, name, unit);
  if (value < min || value > max) throw badValue(`--${name}`, `an integer from ${min} to ${max}`, text);
  return value;
}

function powerOfTwo(text: string, name: string, min: number, max: number): number {
  const value = integer(text, name, min, max);
  if ((value & (value - 1)) !== 0) throw badValue(`--${name}`, `a power of two from ${min} to ${max}`, text);
  return value;
}

function list(text: string, name: string): string[] {
  const items = text.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) throw badValue(`--${name}`, 'a comma-separated list without empty items', text);
  return items;
}

export function parseRates(text: string): Rate[] {
  return list(text, 'rates').map((item) => (item === 'max' ? 'max' : integer(item, 'rates', 1, 100_000_000, 1000)));
}

export function parseMethods(text: string): MethodName[] {
  const methods = list(text, 'methods').map((method) => choiceValue('--methods', method, METHOD_NAMES));
  if (new Set(methods).size !== methods.length) throw badValue('--methods', 'distinct methods', text);
  return methods;
}

/** A tcpdump expression libpcap compiles for Ethernet (its message in the UsageError otherwise). */
export function parseFilter(text: string): string {
  try {
    native.capture.checkFilter(text);
  } catch (error) {
    throw new UsageError(`--filter: ${(error as Error).message}`);
  }
  return text;
}

/** The bench's options from its parsed command line: presets filled in, every value checked (UsageError). */
export function benchOptions(v: Values<typeof BENCH_SPEC>): BenchOptions {
  const { full, source } = v;
  const host = source === 'host';
  const preset = (name: keyof typeof FULL_SWEEP, fallback: string) => {
    if (host && name !== 'sizes') return (full ? HOST_FULL_SWEEP : HOST_DEFAULTS)[name];
    return full ? FULL_SWEEP[name] : fallback;
  };
  const pcap = v.pcap ?? null;
  if (v.nic !== 'e1000' && !host) throw new UsageError('--nic chooses the NIC of the host source: add --source host');
  if (pcap !== null && !host) throw new UsageError('--pcap replays a file with the host source: add --source host');
  if (pcap !== null && v.sizes !== undefined) throw new UsageError("--sizes does not apply to --pcap: the file's frames have their own sizes");
  if (v.ports !== undefined && pcap !== null) throw new UsageError("--ports does not apply to --pcap: the file's frames have their own ports");
  // A replay's frames are the file's: size 0 stands for them in the samples and the table.
  const sizes =
    pcap !== null
      ? [0]
      : list(v.sizes ?? preset('sizes', DEFAULTS.sizes), 'sizes').map((item) => integer(item, 'sizes', FRAME_SIZE_MIN, FRAME_SIZE_MAX));
  const durationText = v.duration ?? preset('duration', DEFAULTS.duration);
  const durationSec = Number(durationText);
  if (!/^\d+(\.\d+)?$/.test(durationText) || durationSec < 0.5 || durationSec > 600) {
    throw badValue('--duration', 'seconds from 0.5 to 600', durationText);
  }
  const profile = v.profile ?? null;
  if (profile && host) throw new UsageError('--profile runs with the pktgen source only');
  const ratesText = v.rates ?? preset('rates', DEFAULTS.rates);
  const rates = parseRates(ratesText);
  if (host && rates.includes('max')) {
    throw badValue('--rates', "frames/s with the host source, which is paced ('max', an unpaced sender, starves QEMU)", ratesText);
  }
  if (host && rates.some((rate) => rate !== 'max' && rate > 1_000_000)) {
    throw badValue('--rates', 'at most 1M frames/s with the host source', ratesText);
  }

  if (v.filter !== undefined && pcap !== null) {
    throw new UsageError("--filter with --pcap: the bench counts loss against the frames a filter keeps, which it knows for its own sources' frames only");
  }
  return {
    methods: v.methods === undefined ? null : parseMethods(v.methods),
    filter: v.filter === undefined ? null : parseFilter(v.filter),
    ports: integer(v.ports ?? '1', 'ports', 1, 65527),
    source,
    nic: v.nic,
    rates,
    sizes,
    durationSec,
    repeats: integer(v.repeats ?? preset('repeats', DEFAULTS.repeats), 'repeats', 1, 100),
    slots: powerOfTwo(v.slots ?? DEFAULTS.slots, 'slots', 2, 65536),
    slotSize: powerOfTwo(v['slot-size'] ?? DEFAULTS.slotSize, 'slot-size', 2048, 65536),
    queueLength: integer(v['queue-length'] ?? DEFAULTS.queueLength, 'queue-length', 1, 65536),
    bufferSize: integer(v['buffer-size'] ?? DEFAULTS.bufferSize, 'buffer-size', 65536, 1 << 30),
    maxBatch: integer(v['max-batch'] ?? DEFAULTS.maxBatch, 'max-batch', 1, 65536),
    timeoutMs: integer(v['timeout-ms'] ?? DEFAULTS.timeoutMs, 'timeout-ms', 1, 60_000),
    outDir: v.out,
    // Measured (docs/benchmark.md): fastnet-zc at 10k lost 6.5% with the soaker, 0 without.
    soaker: !v['no-soaker'] && !host,
    profile,
    full,
    pcap,
  };
}

/** Parses `kmodlab bench` arguments: 'help', or the options; throws UsageError on anything wrong. */
export function parseBenchOptions(argv: string[]): BenchOptions | 'help' {
  const parsed = parseCommandLine(BENCH_SPEC, argv);
  return parsed === 'help' ? parsed : benchOptions(parsed.values);
}
