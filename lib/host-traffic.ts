// Frames from the host into the guest's e1000, for fastnet's zero-copy mode.
// `qemu/vm.sh --traffic` starts qemu/framegen on the host, at the other end
// of the e1000's QEMU socket backend (loopback UDP), and tells the guest
// where to reach it: $KMODLAB_TRAFFIC, a folder of the run in out/, which
// the guest shares with the host read-write over 9p. A request is a file
// renamed into place; framegen sends the frames, paced on its own clock,
// and answers with how many it sent. framegen also answers ARP and ping for
// HOST_IP, so the guest can ping through the e1000, and moves the mtime of
// `alive` in the folder every 100 ms: a send() whose framegen has died (or
// whose folder is gone: the run is over) rejects instead of waiting forever.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

import { checkInteger, invalidState, systemError } from './errors';

export const HOST_IP = '192.168.77.1';
export const GUEST_IP = '192.168.77.2';
export const GUEST_MAC = '52:54:00:12:34:56';
/**
 * Frame sizes framegen sends: Ethernet header to payload, FCS excluded. Past
 * 1514 a frame is longer than Ethernet's: the e1000 takes it only with
 * rx-all (`ethtool -K eth0 rx-all on`) or a jumbo MTU.
 */
export const FRAME_SIZE_MIN = 60;
export const FRAME_SIZE_MAX = 9018;
/** Where the UDP payload starts: Ethernet 14 + IPv4 20 + UDP 8. */
export const PAYLOAD_OFFSET = 42;
/** "KMZC", the 32-bit run id, the 64-bit sequence number; then the pattern. */
const PAYLOAD_HEADER = 16;
/** framegen sends at most this many frames after stop() (it looks for the request that often). */
export const STOP_BATCH_FRAMES = 64;
/** framegen's heartbeat (every 100 ms) not moving for this long: it is gone. */
const HEARTBEAT_TIMEOUT_MS = 3000;

export interface TrafficRequest {
  /** Bytes a frame, FRAME_SIZE_MIN to FRAME_SIZE_MAX. */
  size: number;
  /** Frames to send. */
  count: number;
  /** Frames a second, paced by the host; 0 sends as fast as it can (which starves QEMU). */
  rate: number;
}

export interface TrafficResult {
  /** The request's id: in every frame's payload. */
  id: number;
  sent: number;
  /**
   * Frames the host kernel dropped at QEMU's socket meanwhile: QEMU stops
   * reading it while the e1000 has no free receive buffer, so these are the
   * frames the NIC could not take.
   */
  hostDropped: number;
  seconds: number;
}

/** The host side of `--traffic` is gone: code ERR_HOST_TRAFFIC_GONE. */
function goneError(message: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code: 'ERR_HOST_TRAFFIC_GONE' });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The host's frame generator, as the guest sees it. */
export class HostTraffic {
  readonly dir: string;
  #nextId: number;

  /** Whether this guest was booted with `--traffic`. */
  static available(): boolean {
    return Boolean(process.env.KMODLAB_TRAFFIC);
  }

  constructor(dir = process.env.KMODLAB_TRAFFIC) {
    if (!dir) throw invalidState('No host traffic: boot the guest with `qemu/vm.sh --traffic`');
    this.dir = path.resolve(dir);
    // Ids differ from one process to the next, so a late answer is never taken for ours.
    this.#nextId = (process.pid * 1000 + (Date.now() % 1000)) % 0x7fffffff;
  }

  /**
   * Sends `count` frames of `size` bytes at `rate` frames a second; resolves when all are sent
   * (or fewer, after stop()). Rejects with code ERR_HOST_TRAFFIC_GONE if framegen dies or its
   * folder goes meanwhile, ETIMEDOUT if it does not answer in far longer than the send takes.
   */
  async send(request: TrafficRequest): Promise<TrafficResult> {
    const size = checkInteger('size', request.size, FRAME_SIZE_MIN, FRAME_SIZE_MAX);
    const count = checkInteger('count', request.count, 0, 2 ** 40);
    const rate = checkInteger('rate', request.rate, 0, 10_000_000);
    const id = (this.#nextId = (this.#nextId + 1) % 0x7fffffff);
    const response = path.join(this.dir, 'response');
    fs.rmSync(response, { force: true });
    // A stop left from an earlier send: framegen keeps the file until a run ends.
    fs.rmSync(path.join(this.dir, 'stop'), { force: true });
    fs.writeFileSync(path.join(this.dir, 'request.tmp'), `${id} ${size} ${count} ${rate}\n`);
    fs.renameSync(path.join(this.dir, 'request.tmp'), path.join(this.dir, 'request'));

    const deadline = Date.now() + 30_000 + (rate ? (3000 * count) / rate : count / 10);
    const alive = path.join(this.dir, 'alive');
    // The heartbeat's mtime as last read, and when (on this clock: the host's may differ) it moved.
    let beat = -1;
    let beatSeen = Date.now();
    let nextLivenessCheck = 0;
    while (Date.now() < deadline) {
      await sleep(25);
      let text: string | undefined;
      try {
        text = fs.readFileSync(response, 'utf8');
      } catch {
        // not yet
      }
      if (text !== undefined) {
        const [answerId, sent, hostDropped, ns] = text.trim().split(/\s+/).map(Number);
        if (answerId === id) return { id, sent, hostDropped, seconds: ns / 1e9 };
      }
      if (Date.now() < nextLivenessCheck) continue;
      nextLivenessCheck = Date.now() + 250;
      try {
        fs.statSync(this.dir);
      } catch (err) {
        throw goneError(`framegen's folder ${this.dir} is gone (the host side of --traffic has ended): request ${id} not answered`, err);
      }
      const mtime = fs.statSync(alive, { throwIfNoEntry: false })?.mtimeMs ?? -1;
      if (mtime !== beat) {
        beat = mtime;
        beatSeen = Date.now();
      } else if (Date.now() - beatSeen > HEARTBEAT_TIMEOUT_MS) {
        throw goneError(
          `framegen is not running: its heartbeat ${alive} has not moved for ${HEARTBEAT_TIMEOUT_MS / 1000} s; request ${id} not answered`,
        );
      }
    }
    throw systemError('ETIMEDOUT', 'read', response, `framegen did not answer request ${id} in ${this.dir}`);
  }

  /** Ends the current send early: framegen sends at most STOP_BATCH_FRAMES more. */
  stop(): void {
    fs.writeFileSync(path.join(this.dir, 'stop'), '');
  }
}

/** Addresses the e1000 (by default eth0) for HOST_IP and waits for its link. */
export async function setupGuestLink(dev = 'eth0', timeoutMs = 20_000): Promise<void> {
  // No IPv6: the device sends nothing the test did not ask for.
  fs.writeFileSync(`/proc/sys/net/ipv6/conf/${dev}/disable_ipv6`, '1');
  execFileSync('ip', ['addr', 'replace', `${GUEST_IP}/24`, 'dev', dev]);
  execFileSync('ip', ['link', 'set', dev, 'up']);
  await waitForCarrier(dev, timeoutMs);
}

/** Waits for the device's link (the e1000's watchdog reports it within seconds of up). */
export async function waitForCarrier(dev = 'eth0', timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (fs.readFileSync(`/sys/class/net/${dev}/carrier`, 'utf8').trim() === '1') return;
    } catch {
      // EINVAL while the device is down.
    }
    if (Date.now() > deadline) throw invalidState(`${dev} has no link after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** A framegen frame's run id and sequence number, or null if it is not one. */
export function decodeFrame(frame: Buffer): { id: number; seq: number } | null {
  if (frame.length < PAYLOAD_OFFSET + PAYLOAD_HEADER || frame.toString('latin1', PAYLOAD_OFFSET, PAYLOAD_OFFSET + 4) !== 'KMZC') {
    return null;
  }
  return {
    id: frame.readUInt32LE(PAYLOAD_OFFSET + 4),
    seq: Number(frame.readBigUInt64LE(PAYLOAD_OFFSET + 8)),
  };
}

/** Whether a frame's payload after its header is exactly the pattern of its sequence number. */
export function framePatternIntact(frame: Buffer, seq: number): boolean {
  for (let k = PAYLOAD_OFFSET + PAYLOAD_HEADER; k < frame.length; k++) {
    if (frame[k] !== ((seq + k) & 0xff)) return false;
  }
  return true;
}
