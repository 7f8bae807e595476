// `kmodlab bench`'s command line: parsed with node:util's parseArgs in
// strict mode, every value checked here, so that a bad option is one clear
// message (and exit code 2) before anything is set up in the guest.
import { parseArgs } from 'node:util';

import { METHODS } from '../capture/options';

/**
 * Every method the benchmark knows: the library's capture methods, then its
 * own (fastnet-ring without batched wakeups, zero-copy's ceiling, tcpdump,
 * the stack alone); which ones run is up to bench-methods.
 */
export const METHOD_NAMES = [...METHODS, 'fastnet-ring-unbatched', 'zc-ceiling', 'tcpdump', 'stack'] as const;
export type MethodName = (typeof METHOD_NAMES)[number];

/** pktgen: in the guest, synchronous injection; host: paced frames from the host's framegen into the e1000 (boot with --traffic). */
export const SOURCE_NAMES = ['pktgen', 'host'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

/** An offered rate in frames per second, or 'max': as fast as the source goes. */
export type Rate = number | 'max';

export interface BenchOptions {
  methods: MethodName[] | null;
  source: SourceName;
  rates: Rate[];
  sizes: number[];
  durationSec: number;
  repeats: number;
  slots: number;
  slotSize: number;
  queueLength: number;
  bufferSize: number;
  maxBatch: number;
  outDir: string;
  soaker: boolean;
  profile: MethodName | null;
  full: boolean;
}

/** A bad command line: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
  readonly exitCode = 2;
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

export const HELP = `usage: kmodlab bench [options]
Compares the ways of receiving raw frames in user space on the same traffic,
inside the VM (npm start runs it there): per method, offered and delivered
frames per second, loss, guest CPU per frame and the ratio to pcap. Writes a
table, JSON with every raw sample, and a plot (SVG, PNG) to the output folder.

  -m, --methods LIST     methods, comma-separated (default: every capture method;
                         tcpdump, stack and fastnet-ring-unbatched (readable at every
                         frame), the references, by name; zc-ceiling, zero-copy counting
                         without touching the data, runs with host):
                         ${METHOD_NAMES.join(', ')}
  -s, --source NAME      pktgen (in the guest; default) or host (paced frames from the host's
                         framegen into the e1000: the VM booted with --traffic; npm start does it)
  -r, --rates LIST       offered frames/s, comma-separated: numbers, 50k, 1.5M, or max (default ${DEFAULTS.rates};
                         host: numbers only, default ${HOST_DEFAULTS.rates})
  -z, --sizes LIST       frame sizes in bytes, ${FRAME_SIZE_MIN}-${FRAME_SIZE_MAX} (default ${DEFAULTS.sizes})
  -d, --duration SEC     seconds per point (default ${DEFAULTS.duration}; host ${HOST_DEFAULTS.duration})
  -n, --repeats N        runs of each point, methods interleaved (default ${DEFAULTS.repeats}; host ${HOST_DEFAULTS.repeats})
      --slots N          fastnet ring slots, a power of two (default ${DEFAULTS.slots})
      --slot-size BYTES  fastnet ring slot size, a power of two >= 2048 (default ${DEFAULTS.slotSize})
      --queue-length N   fastnet read queue length (default ${DEFAULTS.queueLength})
      --buffer-size SIZE socket/pcap/af_xdp buffer, bytes (4M, 512k...; default ${DEFAULTS.bufferSize})
      --max-batch N      frames taken per batch, at most (default ${DEFAULTS.maxBatch})
  -o, --out DIR          output folder (default ${DEFAULTS.out})
      --full             the full sweep: rates ${FULL_SWEEP.rates}, sizes ${FULL_SWEEP.sizes},
                         ${FULL_SWEEP.duration} s, ${FULL_SWEEP.repeats} repeats (host: rates ${HOST_FULL_SWEEP.rates});
                         explicit options still win
      --profile METHOD   after the sweep, perf record one run of METHOD at the first rate and size
      --no-soaker        no CPU soaker: CPU per frame from /proc/stat only
  -h, --help             this text
`;

function fail(message: string): never {
  throw new UsageError(message);
}

/** "4M", "512k", "1.5M", "2048" -> a number (k = 1000 for rates, 1024 for sizes). */
export function parseQuantity(text: string, name: string, unit: 1000 | 1024): number {
  const match = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text.trim());
  if (!match) fail(`--${name}: '${text}' is not a number (digits, optionally with k or M)`);
  const scale = match[2] === '' ? 1 : match[2].toLowerCase() === 'k' ? unit : unit * unit;
  const value = Number(match[1]) * scale;
  if (!Number.isSafeInteger(value)) fail(`--${name}: '${text}' is not a whole number`);
  return value;
}

function integer(text: string, name: string, min: number, max: number, unit: 1000 | 1024 = 1024): number {
  const value = parseQuantity(text, name, unit);
  if (value < min || value > max) fail(`--${name}: ${value} is out of range (${min} to ${max})`);
  return value;
}

function powerOfTwo(text: string, name: string, min: number, max: number): number {
  const value = integer(text, name, min, max);
  if ((value & (value - 1)) !== 0) fail(`--${name}: ${value} is not a power of two`);
  return value;
}

function list(text: string, name: string): string[] {
  const items = text.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) fail(`--${name}: empty item in '${text}'`);
  return items;
}

export function parseRates(text: string): Rate[] {
  return list(text, 'rates').map((item) => (item === 'max' ? 'max' : integer(item, 'rates', 1, 100_000_000, 1000)));
}

export function parseMethods(text: string): MethodName[] {
  const methods = list(text, 'methods');
  for (const method of methods) {
    if (!(METHOD_NAMES as readonly string[]).includes(method)) {
      fail(`--methods: unknown method '${method}' (known: ${METHOD_NAMES.join(', ')})`);
    }
  }
  if (new Set(methods).size !== methods.length) fail(`--methods: a method is named twice in '${text}'`);
  return methods as MethodName[];
}

/** Parses `kmodlab bench` arguments; throws UsageError on anything wrong. */
export function parseBenchOptions(argv: string[]): BenchOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        methods: { type: 'string', short: 'm' },
        source: { type: 'string', short: 's' },
        rates: { type: 'string', short: 'r' },
        sizes: { type: 'string', short: 'z' },
        duration: { type: 'string', short: 'd' },
        repeats: { type: 'string', short: 'n' },
        slots: { type: 'string' },
        'slot-size': { type: 'string' },
        'queue-length': { type: 'string' },
        'buffer-size': { type: 'string' },
        'max-batch': { type: 'string' },
        out: { type: 'string', short: 'o' },
        full: { type: 'boolean' },
        profile: { type: 'string' },
        'no-soaker': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    // parseArgs' own messages name the option; only the class changes.
    fail((error as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';

  const full = v.full ?? false;
  const source = v.source ?? 'pktgen';
  if (!(SOURCE_NAMES as readonly string[]).includes(source)) {
    fail(`--source: unknown source '${source}' (known: ${SOURCE_NAMES.join(', ')})`);
  }
  const host = source === 'host';
  const preset = (name: keyof typeof FULL_SWEEP, fallback: string) => {
    if (host && name !== 'sizes') return (full ? HOST_FULL_SWEEP : HOST_DEFAULTS)[name];
    return full ? FULL_SWEEP[name] : fallback;
  };
  const sizes = list(v.sizes ?? preset('sizes', DEFAULTS.sizes), 'sizes').map((item) =>
    integer(item, 'sizes', FRAME_SIZE_MIN, FRAME_SIZE_MAX),
  );
  const durationText = v.duration ?? preset('duration', DEFAULTS.duration);
  const durationSec = Number(durationText);
  if (!/^\d+(\.\d+)?$/.test(durationText) || durationSec < 0.5 || durationSec > 600) {
    fail(`--duration: '${durationText}' must be seconds from 0.5 to 600`);
  }
  let profile: MethodName | null = null;
  if (v.profile !== undefined) [profile] = parseMethods(v.profile);
  if (profile && host) fail('--profile: runs with the pktgen source only');
  const rates = parseRates(v.rates ?? preset('rates', DEFAULTS.rates));
  if (host && rates.includes('max')) {
    fail("--rates: the host source is paced: give rates in frames/s ('max', an unpaced sender, starves QEMU)");
  }
  if (host && rates.some((rate) => rate !== 'max' && rate > 1_000_000)) fail('--rates: the host source sends at most 1M frames/s');

  return {
    methods: v.methods === undefined ? null : parseMethods(v.methods),
    source: source as SourceName,
    rates,
    sizes,
    durationSec,
    repeats: integer(v.repeats ?? preset('repeats', DEFAULTS.repeats), 'repeats', 1, 100),
    slots: powerOfTwo(v.slots ?? DEFAULTS.slots, 'slots', 2, 65536),
    slotSize: powerOfTwo(v['slot-size'] ?? DEFAULTS.slotSize, 'slot-size', 2048, 65536),
    queueLength: integer(v['queue-length'] ?? DEFAULTS.queueLength, 'queue-length', 1, 65536),
    bufferSize: integer(v['buffer-size'] ?? DEFAULTS.bufferSize, 'buffer-size', 65536, 1 << 30),
    maxBatch: integer(v['max-batch'] ?? DEFAULTS.maxBatch, 'max-batch', 1, 65536),
    outDir: v.out ?? DEFAULTS.out,
    soaker: !(v['no-soaker'] ?? false),
    profile,
    full,
  };
}
