// The benchmark's consumers: every method does the same work per frame (read
// bytes 12-13, count IPv4) in a native loop. fastnet's modes come from
// lib/fastnet.ts; `tcpdump` (tcpdump -w /dev/null, the seed's baseline) and
// `stack` (no capture: the source alone) are references. The other methods
// come from lib/capture.ts once it is there (see available()).
import { spawn } from 'node:child_process';

import * as fastnet from '../fastnet';
import type { BenchOptions, MethodName } from './bench-options';

/** What a consumer took out of one run. */
export interface RunCounts {
  /** Frames user space counted (fastnet-drop and stack: frames the kernel took). */
  frames: number;
  ipv4: number;
  bytes: number;
  /** Frames the capture itself reports lost (ring or queue full, kernel drops), when it knows. */
  captureDropped: number | null;
}

/** One method bound to the benchmark's device for one run. */
export interface Consumer {
  /** Consumes until `deadlineNs` (process.hrtime.bigint()), counting. */
  consumeUntil(deadlineNs: bigint): Promise<void>;
  /** After the source stopped (having sent `sent` frames): takes what is left, closes, returns the run's counts. */
  finish(sent: number): Promise<RunCounts>;
}

export type ConsumerFactory = (device: string, options: BenchOptions) => Promise<Consumer>;

const sleepView = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleepView, 0, 0, ms);
}

/** A fastnet session in one mode, counted by the addon's no-copy loops. */
function fastnetConsumer(mode: 'drop' | 'read' | 'ring'): ConsumerFactory {
  return async (device, options) => {
    const bindOptions: fastnet.BindOptions =
      mode === 'ring' ? { slots: options.slots, slotSize: options.slotSize } : mode === 'read' ? { queueLength: options.queueLength } : {};
    const session = fastnet.open().bind(device, mode, bindOptions);
    const total = { frames: 0, ipv4: 0, bytes: 0 };
    const take = (): number => {
      if (mode === 'drop') return 0;
      const c =
        mode === 'ring'
          ? session.ring.count(options.maxBatch, { countIPv4: true })
          : session.readCount(options.maxBatch, { countIPv4: true, snapLength: 65536 });
      total.frames += c.packets;
      total.ipv4 += c.ipv4;
      total.bytes += c.bytes;
      return c.packets;
    };
    return {
      async consumeUntil(deadlineNs) {
        for (;;) {
          const left = Number(deadlineNs - process.hrtime.bigint()) / 1e6;
          if (left <= 0) return;
          // Sleep in poll() only when there was nothing: a full batch goes round at once.
          if (take() === 0) {
            if (mode === 'drop') sleepMs(Math.min(left, 100));
            else session.wait(Math.min(Math.ceil(left), 100));
          }
        }
      },
      async finish() {
        try {
          while (take() > 0);
          const stats = session.stats();
          if (mode === 'drop') return { frames: stats.received, ipv4: stats.received, bytes: stats.receivedBytes, captureDropped: 0 };
          return { ...total, captureDropped: stats.dropped };
        } finally {
          session.close();
        }
      },
    };
  };
}

/** An external program reading the device until SIGINT, its counts parsed from its report. */
function tcpdumpConsumer(): ConsumerFactory {
  return async (device, options) => {
    const child = spawn('tcpdump', ['-i', device, '-n', '-q', '-p', '-B', String(options.bufferSize >> 10), '-w', '/dev/null'], {
      stdio: ['ignore', 'ignore', 'pipe'],
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

/** The consumers this build has, by method name; the others say why they are missing. */
export function available(): Map<MethodName, ConsumerFactory> {
  return new Map<MethodName, ConsumerFactory>([
    ['fastnet-drop', fastnetConsumer('drop')],
    ['fastnet-read', fastnetConsumer('read')],
    ['fastnet-ring', fastnetConsumer('ring')],
    ['tcpdump', tcpdumpConsumer()],
    ['stack', stackConsumer()],
  ]);
}

/** Why a known method cannot run in this build. */
export const MISSING: Partial<Record<MethodName, string>> = {
  socket: 'needs lib/capture.ts (issue 9, capture classes)',
  'socket-mmsg': 'needs lib/capture.ts (issue 9, capture classes)',
  pcap: 'needs lib/capture.ts (issue 9, capture classes)',
  af_xdp: 'needs lib/capture.ts (issue 9, capture classes)',
  'fastnet-zc': 'needs the e1000 zero-copy mode and the host source (zero-copy issue)',
};

/** The method every ratio is taken against, when it ran; else the seed's tcpdump baseline. */
export function referenceMethod(methods: MethodName[]): MethodName | null {
  if (methods.includes('pcap')) return 'pcap';
  if (methods.includes('tcpdump')) return 'tcpdump';
  return null;
}
