// The benchmark's consumers: every method of lib/capture does the same work
// per frame (read bytes 12-13, count IPv4) in its native countBatch() loop.
// `tcpdump` (tcpdump -w /dev/null, the seed's baseline), `tcpdump-fastnet`
// (the same tcpdump with libpcap-fastnet.so preloaded, on fastnet:DEV, or
// fastnet-zc:DEV with the host source; the capture takes the frames, as the
// fastnet methods here do), `tcpdump-fastnet-pass` (the same, with the
// frames left to the stack as well, the library's default) and `stack` (no
// capture: the source alone) are references, run when asked for by name;
// `zc-ceiling` (zero-copy, slots handed back without their data being read)
// shows the emulated NIC's own ceiling beside the host source's methods;
// `fastnet-ring-unbatched` (fastnet-ring with `batch: false`, readable at
// every frame) shows, by name, what the ring's batched wakeups save;
// `fastnet-drop-unfiltered` (fastnet-drop without --filter) is the reference a
// filter's cost is measured against, in the same run.
import { spawn } from 'node:child_process';

import * as fastnet from '../fastnet';
import { pcapPreloadEnv } from '../pcap-preload';
import { type CaptureMethod, type CaptureOptions, METHODS, OPTION_METHODS, openCapture } from '../capture';
import type { BenchOptions, MethodName, SourceName } from './bench-options';

/** What a consumer took out of one run. */
export interface RunCounts {
  /** Frames user space counted (fastnet-drop and stack: frames the kernel took). */
  frames: number;
  ipv4: number;
  bytes: number;
  /** Frames the capture itself reports lost (ring or queue full, kernel drops), when it knows. */
  captureDropped: number | null;
  /** fastnet zero-copy: frames the NIC missed for lack of an armed slot, as the session counts them. */
  nicMissed?: number | null;
}

/** One method bound to the benchmark's device for one run. */
export interface Consumer {
  /** Consumes until `deadlineNs` (process.hrtime.bigint()), counting. */
  consumeUntil(deadlineNs: bigint): Promise<void>;
  /** After the source stopped (having sent `sent` frames): takes what is left, closes, returns the run's counts. */
  finish(sent: number): Promise<RunCounts>;
}

export type ConsumerFactory = (device: string, options: BenchOptions) => Promise<Consumer>;

/** Methods that take every frame whatever --filter says: their loss counts against every frame sent. */
export const IGNORES_FILTER: readonly MethodName[] = ['fastnet-drop-unfiltered', 'stack'];

/** A method of lib/capture, counted by its native countBatch(); with --filter unless `unfiltered`. */
function captureConsumer(method: CaptureMethod, extra: CaptureOptions = {}, unfiltered = false): ConsumerFactory {
  return async (device, options) => {
    // Only the options the method uses: the library refuses the others.
    const settings: CaptureOptions = { batchSize: options.maxBatch, ...extra };
    if (options.filter !== null && !unfiltered) settings.filter = options.filter;
    if (OPTION_METHODS.bufferSize.includes(method)) settings.bufferSize = options.bufferSize;
    if (method === 'fastnet-read') settings.ringSize = options.queueLength;
    if (method === 'fastnet-ring' || method === 'fastnet-zc' || method === 'af_xdp') settings.ringSize = options.slots;
    if (method === 'fastnet-ring' || method === 'fastnet-zc') settings.frameSize = options.slotSize;
    // One latency bound for every method that hands frames over in batches (not the unbatched ring).
    if (OPTION_METHODS.timeoutMs.includes(method) && settings.batch !== false) settings.timeoutMs = options.timeoutMs;
    const capture = openCapture(method, device, settings);
    return {
      async consumeUntil(deadlineNs) {
        for (;;) {
          const left = Number(deadlineNs - process.hrtime.bigint()) / 1e6;
          if (left <= 0) return;
          // Waits (in poll) only when nothing was ready: a full batch goes round at once.
          capture.countBatch(Math.min(Math.ceil(left), 100));
        }
      },
      async finish() {
        try {
          while (capture.countBatch(0).frames > 0);
          const stats = capture.stats();
          // fastnet-drop hands no frame to user space: the kernel's count is its delivery.
          return {
            frames: stats.received,
            ipv4: stats.ipv4,
            bytes: stats.bytes,
            captureDropped: stats.dropped,
            nicMissed: stats.detail.nicMissed ?? null,
          };
        } finally {
          capture.close();
        }
      },
    };
  };
}

/** tcpdump's packet buffer timeout (its pcap_open_live to_ms), which libpcap makes the block timeout. */
const TCPDUMP_TIMEOUT_MS = 1000;

/**
 * How tcpdump reads the device: `packet-socket` is Debian's libpcap on its
 * own; the others preload libpcap-fastnet.so, on fastnet:DEV (pktgen: the
 * ring, 2048-byte slots, as many as -B holds) or fastnet-zc:DEV (host:
 * zero-copy on the e1000 or virtio-net). `fastnet-take` sets
 * FASTNET_PCAP_CONSUME=1: the capture takes the frames, as the bench's
 * fastnet-ring and fastnet-zc do and as netmap's `tcpdump -i netmap:eth0` does; `fastnet-pass` leaves them to the
 * stack too, as a packet socket must (zero-copy takes them either way).
 */
type TcpdumpPath = 'packet-socket' | 'fastnet-take' | 'fastnet-pass';

/** An external program reading the device until SIGINT, its counts parsed from its report. */
function tcpdumpConsumer(path: TcpdumpPath): ConsumerFactory {
  return async (device, options) => {
    const fastnet = path !== 'packet-socket';
    const name = fastnet ? `${options.source === 'host' ? 'fastnet-zc' : 'fastnet'}:${device}` : device;
    const args = ['-i', name, '-n', '-q', '-p', '-B', String(options.bufferSize >> 10), '-w', '/dev/null'];
    const child = spawn('tcpdump', options.filter === null ? args : [...args, options.filter], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: !fastnet ? process.env : pcapPreloadEnv({ ...process.env, FASTNET_PCAP_CONSUME: path === 'fastnet-take' ? '1' : '0' }),
    });
    let report = '';
    child.stderr!.on('data', (chunk: Buffer) => (report += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // tcpdump says "listening on" once its socket is bound.
    await waitFor(() => report.includes('listening on') || child.exitCode !== null, 20_000);
    if (child.exitCode !== null) throw new Error(`tcpdump failed: ${report.trim()}`);
    return {
      async consumeUntil(deadlineNs) {
        const left = Number(deadlineNs - process.hrtime.bigint()) / 1e6;
        if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
      },
      async finish() {
        // libpcap hands frames over a TPACKET_V3 block at a time, and the kernel retires a block
        // that is not full only after tcpdump's timeout (1000 ms): what arrived in that last
        // second would be neither captured nor dropped at SIGINT, and counted as lost.
        await new Promise((resolve) => setTimeout(resolve, TCPDUMP_TIMEOUT_MS + 100));
        child.kill('SIGINT');
        await exited;
        return parseTcpdumpReport(report);
      },
    };
  };
}

/** tcpdump's closing report: "N packets captured", "N packets dropped by kernel". */
export function parseTcpdumpReport(report: string): RunCounts {
  const field = (label: string): number => {
    const match = new RegExp(`(\\d+) packets? ${label}`).exec(report);
    if (!match) throw new Error(`tcpdump's report has no "${label}": ${report.trim()}`);
    return Number(match[1]);
  };
  const frames = field('captured');
  // tcpdump does not look into frames it only writes: every pktgen frame is IPv4.
  return { frames, ipv4: frames, bytes: 0, captureDropped: field('dropped by kernel') };
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a consumer to start');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * No consumer: the frames go up the stack (UDP to a closed port). Injection
 * is synchronous, so the stack took every frame the source sent.
 */
function stackConsumer(): ConsumerFactory {
  return async () => {
    return {
      async consumeUntil(deadlineNs) {
        const left = Number(deadlineNs - process.hrtime.bigint()) / 1e6;
        if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
      },
      async finish(sent) {
        return { frames: sent, ipv4: sent, bytes: 0, captureDropped: null };
      },
    };
  };
}

/**
 * The zero-copy ceiling: fastnet zero-copy with a consumer that only hands
 * the published slots back (ring.count() without countIPv4 reads the slot
 * metadata, never a frame's bytes). What it delivers is what the emulated
 * NIC and the ring carry at all, whatever the consumer does with the data.
 */
function zcCeilingConsumer(): ConsumerFactory {
  return async (device, options) => {
    const session = fastnet.open();
    try {
      session.bind(device, 'zerocopy', {
        slots: options.slots,
        slotSize: options.slotSize,
        batch: true, // as fastnet-zc's
        batchDelayUs: options.timeoutMs * 1000,
        ...(options.filter === null ? {} : { filter: options.filter }),
      });
    } catch (error) {
      session.close();
      throw error;
    }
    const { ring } = session;
    let frames = 0;
    let bytes = 0;
    const take = () => {
      const counts = ring.count(options.maxBatch);
      frames += counts.packets;
      bytes += counts.bytes;
      return counts.packets;
    };
    return {
      async consumeUntil(deadlineNs) {
        for (;;) {
          const left = Number(deadlineNs - process.hrtime.bigint()) / 1e6;
          if (left <= 0) return;
          if (take() === 0) session.wait(Math.min(Math.ceil(left), 100));
        }
      },
      async finish() {
        try {
          while (take() > 0);
          const stats = session.stats();
          return { frames, ipv4: 0, bytes, captureDropped: stats.dropped, nicMissed: stats.nicMissed };
        } finally {
          session.close();
        }
      },
    };
  };
}

/** The consumers this build has, by method name: lib/capture's methods, then the references. */
export function available(): Map<MethodName, ConsumerFactory> {
  const methods = new Map<MethodName, ConsumerFactory>(METHODS.map((m) => [m, captureConsumer(m)]));
  methods.set('fastnet-ring-unbatched', captureConsumer('fastnet-ring', { batch: false }));
  methods.set('fastnet-drop-unfiltered', captureConsumer('fastnet-drop', {}, true));
  methods.set('zc-ceiling', zcCeilingConsumer());
  methods.set('tcpdump', tcpdumpConsumer('packet-socket'));
  methods.set('tcpdump-fastnet', tcpdumpConsumer('fastnet-take'));
  methods.set('tcpdump-fastnet-pass', tcpdumpConsumer('fastnet-pass'));
  methods.set('stack', stackConsumer());
  return methods;
}

/**
 * Methods a source cannot feed. pktgen (netif_receive) hands the same skb to
 * the stack with an extra reference; generic XDP on such a shared skb hits a
 * BUG in pskb_expand_head, so lib/capture refuses af_xdp on a pktgen device.
 */
export const NOT_WITH_SOURCE: Record<SourceName, Partial<Record<MethodName, string>>> = {
  pktgen: {
    af_xdp: "generic XDP on pktgen's shared skbs crashes the kernel (BUG in pskb_expand_head): af_xdp runs with the host source",
    'fastnet-zc': "zero-copy needs a NIC that DMAs into the ring (e1000, virtio-net), and pktgen's frames never pass a NIC: --source host",
    'zc-ceiling': "zero-copy needs a NIC that DMAs into the ring (e1000, virtio-net), and pktgen's frames never pass a NIC: --source host",
  },
  host: {
    stack: "the host's frames can be lost before the stack, and nothing counts what the stack took: no reference without a capture",
  },
};

/** Methods that run only when asked for by name. */
const BY_NAME: readonly MethodName[] = [
  'fastnet-ring-unbatched',
  'fastnet-drop-unfiltered',
  'tcpdump',
  'tcpdump-fastnet',
  'tcpdump-fastnet-pass',
  'stack',
];

/**
 * What runs without --methods: every capture method the source can feed
 * (and, with the host source, the zero-copy ceiling); the rest by name.
 */
export function defaultMethods(all: Map<MethodName, ConsumerFactory>, source: SourceName): Map<MethodName, ConsumerFactory> {
  return new Map([...all].filter(([name]) => !BY_NAME.includes(name) && !NOT_WITH_SOURCE[source][name]));
}

/** Why a known method cannot run in this build (none now; kept for methods that need an optional part). */
export const MISSING: Partial<Record<MethodName, string>> = {};

/** The method every ratio is taken against, when it ran; else the seed's tcpdump baseline. */
export function referenceMethod(methods: MethodName[]): MethodName | null {
  if (methods.includes('pcap')) return 'pcap';
  if (methods.includes('tcpdump')) return 'tcpdump';
  return null;
}
