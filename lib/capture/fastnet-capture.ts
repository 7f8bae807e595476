// Methods fastnet-drop, fastnet-read, fastnet-ring and fastnet-zc: adapters
// over a fastnet Session (lib/fastnet.ts), which does the work: drop counts in
// the kernel and hands nothing over, read copies frames out of the module's
// queue, ring counts or copies them in the mapped ring, and zc (zero-copy,
// e1000 and virtio_net) does the same in a ring the NIC writes into by DMA.
import * as fastnet from '../fastnet';
import { native } from '../native';
import { CaptureBase, type BatchCounts, type Capabilities, type CaptureStats } from './base';
import type { ResolvedOptions } from './options';

export type FastnetMethod = 'fastnet-drop' | 'fastnet-read' | 'fastnet-ring' | 'fastnet-zc';

/** The fastnet mode behind each method. */
export const FASTNET_MODES: Record<FastnetMethod, fastnet.ModeName> = {
  'fastnet-drop': 'drop',
  'fastnet-read': 'read',
  'fastnet-ring': 'ring',
  'fastnet-zc': 'zerocopy',
};

/** Modes whose frames are taken from the mapped ring. */
const RING_MODES: readonly fastnet.ModeName[] = ['ring', 'zerocopy'];

const META_STRIDE = native.fastnet.META_STRIDE;

/** Sleeps the thread (drop mode has nothing to poll for). */
const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

export class FastnetCapture extends CaptureBase {
  readonly capabilities: Capabilities;
  readonly session: fastnet.Session;
  readonly #mode: fastnet.ModeName;
  #frames = 0;
  #ipv4 = 0;
  #bytes = 0;
  /** drop: the kernel's counters at the last countBatch(). */
  #seen = { received: 0, bytes: 0 };

  constructor(method: FastnetMethod, device: string, options: ResolvedOptions) {
    super(method, device, options);
    this.#mode = FASTNET_MODES[method];
    const bind: fastnet.BindOptions = {};
    if (RING_MODES.includes(this.#mode)) {
      if (options.ringSize !== undefined) bind.slots = options.ringSize;
      if (options.frameSize !== undefined) bind.slotSize = options.frameSize;
      if (options.batch) bind.batch = true;
      if (options.timeoutMs !== undefined) bind.batchDelayUs = options.timeoutMs * 1000;
    } else if (this.#mode === 'read' && options.ringSize !== undefined) {
      bind.queueLength = options.ringSize;
    }
    if (options.pass) bind.passThrough = true;
    // An expression with the capture's snap length, as the other methods compile it.
    if (options.filter !== undefined) {
      bind.filter = typeof options.filter === 'string' ? fastnet.compileFilter(options.filter, options.snapLength) : options.filter;
    }
    this.session = fastnet.open();
    try {
      this.session.bind(device, this.#mode, bind);
    } catch (error) {
      this.session.close();
      throw error;
    }
    this.capabilities = { frames: this.#mode !== 'drop', timestamps: this.#mode !== 'drop' };
    this.opened();
  }

  /** drop: poll() never reports frames (none is kept), so countBatchAsync() looks at the counters every 5 ms. */
  protected override pollSliceMs(): number {
    return this.#mode === 'drop' ? 5 : -1;
  }

  protected readyFd(): number {
    return this.session.fd;
  }

  protected countReady(timeoutMs: number): BatchCounts {
    if (this.#mode === 'drop') return this.#countDropped(timeoutMs);
    // batch: poll() first, so frames are taken when the kernel announces a batch. One wait at most.
    const waited = this.options.batch === true && timeoutMs !== 0;
    if (waited) this.session.wait(timeoutMs);
    let counts = this.#take();
    if (counts.packets === 0 && timeoutMs !== 0 && !waited) {
      this.session.wait(timeoutMs);
      counts = this.#take();
    }
    return this.#add(counts.packets, counts.ipv4, counts.bytes);
  }

  protected copyReady(): fastnet.PacketBatch {
    const batch =
      RING_MODES.includes(this.#mode)
        ? this.session.ring.drain(this.options.batchSize)
        : this.session.readBatch(this.options.batchSize, this.options.snapLength);
    let bytes = 0;
    for (let i = 0; i < batch.count; i++) bytes += batch.meta[i * META_STRIDE + 2];
    this.#add(batch.count, batch.count ? batch.countIPv4() : 0, bytes);
    return batch;
  }

  protected methodStats(): CaptureStats {
    const kernel = this.session.stats();
    if (this.#mode === 'drop') {
      return { received: kernel.received, ipv4: 0, bytes: kernel.receivedBytes, dropped: kernel.dropped, detail: { ...kernel } };
    }
    return { received: this.#frames, ipv4: this.#ipv4, bytes: this.#bytes, dropped: kernel.dropped, detail: { ...kernel } };
  }

  protected release(): void {
    this.session.close();
  }

  /** The module's own error for a device gone (ENODEV, from FASTNET_STATS). */
  protected override goneError(): Error {
    return this.session.pollError();
  }

  #take(): fastnet.Counts {
    const max = this.options.batchSize;
    return RING_MODES.includes(this.#mode)
      ? this.session.ring.count(max, { countIPv4: true })
      : this.session.readCount(max, { snapLength: this.options.snapLength, countIPv4: true });
  }

  /** drop: what the kernel counted since the last call; frames are never read, so no IPv4 count. */
  #countDropped(timeoutMs: number): BatchCounts {
    const deadline = timeoutMs < 0 ? Infinity : Date.now() + timeoutMs;
    for (;;) {
      const { received, receivedBytes } = this.session.stats();
      const frames = received - this.#seen.received;
      const bytes = receivedBytes - this.#seen.bytes;
      if (frames > 0 || Date.now() >= deadline) {
        this.#seen = { received, bytes: receivedBytes };
        return this.#add(frames, 0, bytes);
      }
      sleepMs(Math.min(5, deadline - Date.now()));
    }
  }

  #add(frames: number, ipv4: number, bytes: number): BatchCounts {
    this.#frames += frames;
    this.#ipv4 += ipv4;
    this.#bytes += bytes;
    return { frames, ipv4, bytes };
  }
}
