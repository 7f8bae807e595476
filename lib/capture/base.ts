// What every capture method shares: the async iterator and loop() over
// batches (lib/batch-iterator.ts, as fastnet sessions have them) and
// countBatchAsync() (waiting on the event loop, no thread-pool thread),
// AbortSignal, close() and `using`. A method supplies four
// things: a descriptor to wait on, a no-copy count of what is ready, a copy
// of what is ready, and its counters; and calls opened() once it holds them.

import { Wakers, batchesOf, loopOver, pollFailed } from '../batch-iterator';
import { abortError, checkInteger, invalidState, systemError } from '../errors';
import { PacketBatch } from '../fastnet';
import { native } from '../native';
import type { CaptureMethod, ResolvedOptions } from './options';

/** No-copy counts of one batch: frames, IPv4 frames (bytes 12-13), bytes on the wire. */
export interface BatchCounts {
  frames: number;
  ipv4: number;
  bytes: number;
}

export interface CaptureStats {
  /** Frames this capture took and counted (countBatch and batches together). */
  received: number;
  /** Of those, IPv4 frames. */
  ipv4: number;
  /** Their bytes, as long as they were on the wire. */
  bytes: number;
  /** Frames lost, as the method counts them: tp_drops, ps_drop, XDP_STATISTICS, fastnet's dropped. */
  dropped: number;
  /** The method's own counters, under their own names. */
  detail: Record<string, number>;
}

export interface BatchOptions {
  /** Ends this iteration (or loop) at the next batch boundary; the capture stays open. */
  signal?: AbortSignal;
}

/** What a method offers beyond counting. */
export interface Capabilities {
  /** Batches carry the frames' bytes (false: fastnet-drop only counts). */
  frames: boolean;
  /**
   * Frames carry a CLOCK_REALTIME timestamp in nanoseconds (else timestampNs is 0n): the kernel's,
   * or for af_xdp (which has none) the time the frame is taken off the ring in user space.
   */
  timestamps: boolean;
}

/** One capture, whatever its method. */
export interface Capture extends Disposable, AsyncIterable<PacketBatch> {
  readonly method: CaptureMethod;
  readonly device: string;
  readonly capabilities: Capabilities;
  readonly closed: boolean;
  /**
   * Takes the frames ready now (up to batchSize) and counts them in place,
   * natively, without a copy to JavaScript; only if none is ready, waits up
   * to `timeoutMs` (-1: for ever) for some, blocking the thread. {frames: 0}
   * when the time ran out.
   *
   * The wait blocks the whole event loop: timers, I/O, promises and signal
   * handlers (a SIGINT handler included) run only once it ends, and with
   * -1 on an idle device it never ends. It is the benchmark's hot loop; to
   * wait with the event loop running, use countBatchAsync().
   */
  countBatch(timeoutMs?: number): BatchCounts;
  /**
   * countBatch() that waits on the event loop (no thread, no blocking):
   * takes the frames ready now, up to batchSize, counted in place; if none
   * is, waits up to `timeoutMs` (default -1: for ever) for some while
   * timers, I/O and signal handlers run. Resolves {frames: 0} when the
   * time runs out, `signal` aborts, or the capture is closed meanwhile.
   */
  countBatchAsync(timeoutMs?: number, options?: BatchOptions): Promise<BatchCounts>;
  /** Batches of copied frames as they come; ends on close() or an abort. */
  batches(options?: BatchOptions): AsyncGenerator<PacketBatch, void, undefined>;
  /** Calls `callback` with each batch, like pcap_loop; resolves with the frames seen. */
  loop(callback: (batch: PacketBatch) => unknown, options?: BatchOptions): Promise<number>;
  stats(): CaptureStats;
  close(): void;
}

export abstract class CaptureBase implements Capture {
  readonly method: CaptureMethod;
  readonly device: string;
  abstract readonly capabilities: Capabilities;
  protected readonly options: ResolvedOptions;
  readonly #wakers = new Wakers();
  #closed = false;
  readonly #onAbort = (): void => this.close();

  /** Throws Node's AbortError, before anything is opened, if options.signal has aborted. */
  constructor(method: CaptureMethod, device: string, options: ResolvedOptions) {
    this.method = method;
    this.device = device;
    this.options = options;
    if (options.signal?.aborted) throw abortError(options.signal.reason);
  }

  /**
   * Each method's constructor calls this once its socket, ring or program is
   * open: only from then on may options.signal close the capture (a listener
   * added earlier would outlive a failed open). close() removes it, so one
   * signal can serve any number of captures.
   */
  protected opened(): void {
    this.options.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The descriptor that becomes readable when frames are ready. */
  protected abstract readyFd(): number;
  protected abstract countReady(timeoutMs: number): BatchCounts;
  protected abstract copyReady(): PacketBatch;
  protected abstract methodStats(): CaptureStats;
  protected abstract release(): void;

  /** countBatchAsync() polls at most this long before it counts again (-1: until readable); drop mode has nothing to poll. */
  protected pollSliceMs(): number {
    return -1;
  }

  protected checkOpen(): void {
    if (this.#closed) throw invalidState(`The ${this.method} capture on ${this.device} is closed`);
  }

  countBatch(timeoutMs = 0): BatchCounts {
    this.checkOpen();
    checkTimeout(timeoutMs);
    return this.countReady(timeoutMs);
  }

  async countBatchAsync(timeoutMs = -1, options: BatchOptions = {}): Promise<BatchCounts> {
    this.checkOpen();
    checkTimeout(timeoutMs);
    const { signal } = options;
    let counts = this.countReady(0);
    if (counts.frames > 0 || timeoutMs === 0 || signal?.aborted) return counts;
    const deadline = timeoutMs < 0 ? Infinity : performance.now() + timeoutMs;
    const slice = this.pollSliceMs();
    const waker = this.#wakers.add(signal);
    try {
      for (;;) {
        const left = deadline - performance.now();
        if (left <= 0) return counts;
        const ms = left === Infinity ? slice : Math.ceil(slice < 0 ? left : Math.min(left, slice));
        const revents = await native.fastnet.pollAsync(this.readyFd(), waker, ms, this.device);
        if (this.#closed || signal?.aborted) return counts;
        counts = this.countReady(0);
        if (counts.frames > 0) return counts;
        if (pollFailed(revents)) throw this.goneError();
      }
    } finally {
      this.#wakers.remove(waker);
    }
  }

  async *batches(options: BatchOptions = {}): AsyncGenerator<PacketBatch, void, undefined> {
    this.checkOpen();
    if (!this.capabilities.frames) {
      throw invalidState(`${this.method} hands no frames to user space: use countBatch()`);
    }
    yield* batchesOf(
      {
        take: () => this.copyReady(),
        fd: () => this.readyFd(),
        path: this.device,
        wakers: this.#wakers,
        closed: () => this.#closed,
        gone: () => this.goneError(),
      },
      options.signal,
    );
  }

  [Symbol.asyncIterator](): AsyncIterator<PacketBatch> {
    return this.batches();
  }

  loop(callback: (batch: PacketBatch) => unknown, options: BatchOptions = {}): Promise<number> {
    return loopOver(this.batches(options), callback);
  }

  stats(): CaptureStats {
    this.checkOpen();
    return this.methodStats();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.options.signal?.removeEventListener('abort', this.#onAbort);
    this.#wakers.wakeAll();
    this.release();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * poll() reported an error and nothing came: the device went down or
   * away. The sockets' (AF_PACKET: socket, socket-mmsg, pcap; AF_XDP) is
   * the kernel's ENETDOWN, which packet_notifier and xsk_notifier set as the
   * socket's error on NETDEV_DOWN and NETDEV_UNREGISTER (and recv() returns,
   * for the methods that read with it); fastnet's methods ask the module.
   */
  protected goneError(): Error {
    return systemError('ENETDOWN', 'poll', this.device, `${this.device} went down or away`);
  }
}

/** -1 (for ever) to 2^31 - 1 ms, as poll() takes it. */
function checkTimeout(timeoutMs: number): void {
  checkInteger('timeoutMs', timeoutMs, -1, 2 ** 31 - 1);
}
