// Batches as they come, written once for fastnet sessions (lib/fastnet.ts)
// and captures (lib/capture/base.ts): take what is ready; when nothing is,
// wait on the event loop (pollAsync: no thread-pool thread) for the source's
// descriptor; end quietly when the source is closed or the signal aborts;
// and when poll() reported an error and still nothing came, throw the
// source's error for a device gone (the kernel's errno, with code, errno and
// syscall: fastnet's ENODEV, the sockets' ENETDOWN).
import { native } from './native';

const uapi = native.fastnet;

/** poll() revents that mean the descriptor will not become readable again. */
const POLL_FAILED = uapi.POLLERR | uapi.POLLHUP | uapi.POLLNVAL;

/** True if poll() reported an error, a hang-up or a closed descriptor. */
export function pollFailed(revents: number): boolean {
  return (revents & POLL_FAILED) !== 0;
}

/**
 * The wakers of a source's pending waits and iterations: close() calls
 * wakeAll(), so that every pollAsync() on the source ends at once.
 */
export class Wakers {
  /** Each waker with what detaches it from its signal. */
  readonly #pending = new Map<number, () => void>();

  /** A new waker for pollAsync(), woken by wakeAll() and by `signal`'s abort; free it with remove(). */
  add(signal?: AbortSignal): number {
    const waker = uapi.createWaker();
    const onAbort = (): void => uapi.wake(waker);
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#pending.set(waker, () => signal?.removeEventListener('abort', onAbort));
    return waker;
  }

  remove(waker: number): void {
    this.#pending.get(waker)?.();
    this.#pending.delete(waker);
    uapi.closeWaker(waker);
  }

  wakeAll(): void {
    for (const waker of this.#pending.keys()) uapi.wake(waker);
  }
}

/** What batchesOf() needs of a source. */
export interface BatchSource<B extends { count: number }> {
  /** What is ready now, copied out (count 0 if nothing is); never waits. */
  take(): B;
  /** The descriptor that polls readable when frames are ready. */
  fd(): number;
  /** Named in pollAsync()'s own errors. */
  path: string;
  wakers: Wakers;
  closed(): boolean;
  /** The error for a device gone: poll() reported one and nothing came. */
  gone(): Error;
}

/**
 * Batches of `source` as they come, until it is closed or `signal` aborts
 * (the iteration then just ends). After a poll() error, the frames still
 * ready come first; then source.gone() is thrown.
 */
export async function* batchesOf<B extends { count: number }>(
  source: BatchSource<B>,
  signal?: AbortSignal,
): AsyncGenerator<B, void, undefined> {
  const waker = source.wakers.add(signal);
  try {
    let failed = false;
    while (!source.closed() && !signal?.aborted) {
      const batch = source.take();
      if (batch.count > 0) {
        failed = false;
        yield batch;
        continue;
      }
      if (failed) throw source.gone();
      failed = pollFailed(await uapi.pollAsync(source.fd(), waker, -1, source.path));
    }
  } finally {
    source.wakers.remove(waker);
  }
}

/** Calls `callback` with each batch (awaiting what it returns), like pcap_loop; resolves with the frames seen. */
export async function loopOver<B extends { count: number }>(
  batches: AsyncIterable<B>,
  callback: (batch: B) => unknown,
): Promise<number> {
  let frames = 0;
  for await (const batch of batches) {
    frames += batch.count;
    await callback(batch);
  }
  return frames;
}
