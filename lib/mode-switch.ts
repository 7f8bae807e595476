// What a mode switch costs in frames: host frames arrive at a paced rate
// while a fastnet session binds and later closes; a packet socket watches the
// device the whole time, so every frame the stack or the session got is seen
// by one of them. The sequence numbers neither saw are the frames the
// switches lost (issue 21: at most about 10 ms of traffic each).
import * as fastnet from './fastnet';
import { openCapture } from './capture';
import { type HostTraffic, decodeFrame } from './host-traffic';

export interface SwitchGapOptions {
  /** The session's mode: ring (copies; the NIC untouched) or zerocopy (the NIC's buffers swapped). */
  mode: 'ring' | 'zerocopy';
  /** Frames a second, paced by the host. */
  rate: number;
  /** When the session binds, and how long it stays bound, in ms from the first frame (default 1000 and 1000). */
  bindAfterMs?: number;
  boundMs?: number;
  /** Traffic after the close, in ms (default 1500: QEMU's e1000 takes no frame for 1 s after RX restarts). */
  afterMs?: number;
}

/** A run of consecutive sequence numbers nobody saw. */
export interface Gap {
  firstSeq: number;
  frames: number;
  /** When the first of them was sent, in ms from the first frame (the host's pacing). */
  atMs: number;
}

export interface SwitchGaps {
  sent: number;
  /** Frames the host kernel dropped at QEMU's socket (QEMU not reading: the NIC took none). */
  hostDropped: number;
  /** Frames the watching packet socket dropped (its buffer full): a gap they fall in is the watcher's, not a switch's. */
  watcherDropped: number;
  /**
   * Frames the kernel had delivered to the session that it had not read when it closed (its
   * statistics after the last read): frames the session was given, lost with it as it closed.
   */
  unreadAtClose: number;
  /** Distinct frames of the run the socket or the session saw. */
  seen: number;
  gaps: Gap[];
  /** Frames of the gaps that began before the session's midpoint: lost around bind(), and after it: around close(). */
  lostAroundBind: number;
  lostAroundClose: number;
  /** How long bind() and close() took, in ms. */
  bindMs: number;
  closeMs: number;
}

/** ret #0: a classic BPF program that takes no frame. */
const REJECT_ALL: fastnet.BpfInstruction[] = [{ code: 0x06, jt: 0, jf: 0, k: 0 }];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Measures the frames lost around a session's bind() and close() on `device` (the host source's NIC, link up). */
export async function measureSwitchGaps(traffic: HostTraffic, device: string, options: SwitchGapOptions): Promise<SwitchGaps> {
  const { mode, rate, bindAfterMs = 1000, boundMs = 1000, afterMs = 1500 } = options;
  const seen = new Map<number, Set<number>>(); // request id -> sequence numbers
  const mark = (batch: fastnet.PacketBatch): number => {
    let frames = 0;
    for (const packet of batch) {
      frames++;
      const frame = decodeFrame(packet.data);
      if (!frame) continue;
      let seqs = seen.get(frame.id);
      if (!seqs) seen.set(frame.id, (seqs = new Set()));
      seqs.add(frame.seq);
    }
    return frames;
  };
  // A buffer for seconds of frames: the watcher may wait while close() runs, or the guest is descheduled.
  using watcher = openCapture('socket', device, { bufferSize: 32 << 20 });
  const stopWatching = new AbortController();
  const watching = watcher.loop(mark, { signal: stopWatching.signal });
  const count = Math.round((rate * (bindAfterMs + boundMs + afterMs)) / 1000);
  const sending = traffic.send({ size: 64, count, rate });
  const started = Date.now();
  await sleep(bindAfterMs);
  let t = Date.now();
  const session = fastnet.open();
  try {
    // Zero-copy: the frames the filter rejects go on up the stack (none yet: there is no filter).
    session.bind(device, mode, { slots: 4096, passThrough: mode === 'zerocopy' });
    const bindMs = Date.now() - t;
    let read = 0;
    while (Date.now() - started < bindAfterMs + boundMs) {
      await session.waitAsync(10);
      read += mark(session.ring.drain());
    }
    // Before close, a zero-copy session stops taking frames: each goes on up the stack, so what is
    // lost from then on is the switch's, not frames given to a session that closed before reading
    // them. (In ring mode the socket, a tap ahead of fastnet's rx_handler, sees every frame.)
    if (mode === 'zerocopy') session.setFilter(REJECT_ALL);
    read += mark(session.ring.drain());
    const unreadAtClose = session.stats().delivered - read;
    t = Date.now();
    session.close();
    const closeMs = Date.now() - t;
    const result = await sending;
    // The socket's last frames.
    await sleep(300);
    stopWatching.abort();
    await watching;
    const watcherDropped = watcher.stats().dropped;

    const seqs = seen.get(result.id) ?? new Set<number>();
    const gaps: Gap[] = [];
    for (let seq = 0; seq < result.sent; seq++) {
      if (seqs.has(seq)) continue;
      const last = gaps.at(-1);
      if (last && last.firstSeq + last.frames === seq) last.frames++;
      else gaps.push({ firstSeq: seq, frames: 1, atMs: (seq * 1000) / rate });
    }
    const midpointMs = bindAfterMs + boundMs / 2;
    const lost = (around: (gap: Gap) => boolean) => gaps.filter(around).reduce((sum, gap) => sum + gap.frames, 0);
    return {
      sent: result.sent,
      hostDropped: result.hostDropped,
      watcherDropped,
      unreadAtClose,
      seen: seqs.size,
      gaps,
      lostAroundBind: lost((gap) => gap.atMs < midpointMs),
      lostAroundClose: lost((gap) => gap.atMs >= midpointMs),
      bindMs,
      closeMs,
    };
  } finally {
    session.close();
    stopWatching.abort();
  }
}
