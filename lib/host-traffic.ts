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
import * as os from 'node:os';

import {
  checkBoolean,
  checkInteger,
  checkObject,
  checkOneOf,
  checkString,
  invalidArgType,
  invalidArgValue,
  invalidState,
  outOfRange,
  systemError,
} from './errors';

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
/**
 * How long to wait after the guest wrote the e1000's receive control register (RCTL: a link-up,
 * leaving zero-copy with no traffic to fill its slots, promiscuous mode) before sending: QEMU's
 * e1000 takes no frame for up to 1 s after it (hardware: about 10 ms). docs/fastnet.md.
 */
export const RCTL_HOLD_MS = 1100;
/** framegen's heartbeat (every 100 ms) not moving for this long: it is gone. */
const HEARTBEAT_TIMEOUT_MS = 3000;

/** The transport protocols framegen generates. */
export const PROTOCOLS = ['udp', 'tcp', 'icmp'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** The smallest frame of each protocol that holds the payload's header (a TCP header is 20 bytes, UDP's and ICMP's 8). */
export const PROTOCOL_FRAME_MIN: Record<Protocol, number> = { udp: 60, tcp: 70, icmp: 60 };

export interface TrafficRequest {
  /** Bytes a frame, FRAME_SIZE_MIN to FRAME_SIZE_MAX (70 at least with TCP). */
  size: number;
  /** Frames to send. */
  count: number;
  /** Frames a second, paced by the host; 0 sends as fast as it can (which starves QEMU). */
  rate: number;
  /**
   * Destination ports 9 to 9 + ports - 1, frame by frame: frame i goes to port 9 + i % ports,
   * so a filter `dst port 9` keeps 1 frame in `ports` (default 1: port 9 only).
   */
  ports?: number;
  /** Source addresses, 1 to 250: 192.168.77.1 (the host), then .3, .4, ... (default 1). */
  addresses?: number;
  /** Transport protocols, in turn (default ['udp']); TCP segments and ICMP echo requests carry the same payload. */
  protocols?: readonly Protocol[];
}

/**
 * A capture file replayed into the guest's NIC, as tcpreplay does: at the file's own pace
 * (scaled by `multiplier`), at `pps` frames a second, or as fast as possible (`topspeed`).
 * At most one of the three; the file's pace by default.
 */
export interface ReplayRequest {
  /**
   * A pcap or pcapng file of Ethernet frames. framegen reads it on the host, so it must be a
   * path the host has too: anything under the project's folder (the guest's /tmp is its own).
   */
  file: string;
  /** Frames a second (tcpreplay --pps). */
  pps?: number;
  /** The file's gaps divided by this: 2 replays twice as fast (tcpreplay --multiplier; default 1). */
  multiplier?: number;
  /** No pacing (tcpreplay --topspeed): which starves QEMU beyond a few thousand frames. */
  topspeed?: boolean;
  /** Times through the file, back to back (default 1). */
  loops?: number;
  /** Frames to send at most (default: the file's frames times loops). */
  count?: number;
}

export interface TrafficResult {
  /** The request's id: in every generated frame's payload. */
  id: number;
  sent: number;
  /**
   * Frames the host kernel dropped at QEMU's socket meanwhile: QEMU stops
   * reading it while the e1000 has no free receive buffer, so these are the
   * frames the NIC could not take.
   */
  hostDropped: number;
  seconds: number;
  /** Replay: frames longer than FRAME_SIZE_MAX, not sent (0 for generated frames). */
  skipped: number;
}

/** The host side of `--traffic` is gone: code ERR_HOST_TRAFFIC_GONE. */
function goneError(message: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code: 'ERR_HOST_TRAFFIC_GONE' });
}

/** framegen's refusal of a request: a system error (ENOENT...) or ERR_PCAP_FORMAT, Node-style. */
function framegenError(code: string, syscall: string, file: string, message: string): Error {
  if (/^E[A-Z0-9]+$/.test(code) && code in os.constants.errno) {
    return systemError(code, syscall, file || 'framegen', file ? `framegen on the host: ${message}` : message);
  }
  return Object.assign(new Error(`${file}: ${message}`), { code, path: file });
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
   * Sends `count` frames of `size` bytes at `rate` frames a second, in the flows asked for;
   * resolves when all are sent (or fewer, after stop()). Rejects with code
   * ERR_HOST_TRAFFIC_GONE if framegen dies or its folder goes meanwhile, ETIMEDOUT if it does
   * not answer in far longer than the send takes.
   */
  send(request: TrafficRequest): Promise<TrafficResult> {
    checkObject('request', request);
    const size = checkInteger('size', request.size, FRAME_SIZE_MIN, FRAME_SIZE_MAX);
    const count = checkInteger('count', request.count, 0, 2 ** 40);
    const rate = checkInteger('rate', request.rate, 0, 10_000_000);
    const ports = checkInteger('ports', request.ports ?? 1, 1, 65527);
    const addresses = checkInteger('addresses', request.addresses ?? 1, 1, 250);
    const given = request.protocols ?? ['udp'];
    if (!Array.isArray(given)) throw invalidArgType('protocols', 'Array', given);
    if (given.length === 0 || new Set(given).size !== given.length) {
      throw invalidArgValue('protocols', given, 'must name distinct protocols, at least one');
    }
    const protocols = given.map((p: unknown, i) => checkOneOf(`protocols[${i}]`, p, PROTOCOLS));
    const least = Math.max(...protocols.map((p) => PROTOCOL_FRAME_MIN[p]));
    if (size < least) throw outOfRange('size', `>= ${least} with ${protocols.join(', ')}`, size);
    const options = `ports=${ports} addrs=${addresses} protos=${protocols.join(',')}`;
    return this.#request(`${size} ${count} ${rate} ${options}`, rate ? (3000 * count) / rate : count / 10, '');
  }

  /**
   * Replays a pcap or pcapng file into the guest's NIC (see ReplayRequest); unicast frames are
   * readdressed to the guest's MAC, so the NIC takes them. Rejects as send() does, and with
   * framegen's reasons: ENOENT (a path the host does not have), ERR_PCAP_FORMAT (not a pcap or
   * pcapng file of Ethernet frames).
   */
  replay(request: ReplayRequest): Promise<TrafficResult> {
    checkObject('request', request);
    const file = path.resolve(checkString('file', request.file));
    // The guest's own view first: a missing file is Node's ENOENT, from stat.
    fs.statSync(file);
    const pacings = [request.pps !== undefined, request.multiplier !== undefined, request.topspeed === true];
    if (pacings.filter(Boolean).length > 1) {
      throw invalidArgValue('request', 'pps, multiplier, topspeed', 'takes one of pps, multiplier and topspeed at most');
    }
    if (request.topspeed !== undefined) checkBoolean('topspeed', request.topspeed);
    const pps = request.pps === undefined ? 0 : checkInteger('pps', request.pps, 1, 10_000_000);
    const multiplier = request.multiplier ?? (request.topspeed ? 0 : 1);
    if (typeof multiplier !== 'number') throw invalidArgType('multiplier', 'number', multiplier);
    if (!(multiplier >= 0.001 && multiplier <= 1e6) && !(request.topspeed && multiplier === 0)) {
      throw outOfRange('multiplier', '>= 0.001 and <= 1000000', multiplier);
    }
    const loops = checkInteger('loops', request.loops ?? 1, 1, 1_000_000);
    const count = checkInteger('count', request.count ?? 0, 0, 2 ** 40);
    if (/[\n\r]/.test(file)) throw invalidArgValue('file', file, 'must not contain a line break');
    // The time it takes is the file's: framegen's heartbeat, not a deadline, tells it died.
    const expectedMs = pps ? (3000 * (count || 1e6)) / pps : 24 * 3600_000;
    return this.#request(`0 ${count} ${pps} mult=${pps ? 0 : multiplier} loops=${loops} pcap=${file}`, expectedMs, file);
  }

  /** Hands framegen one request ("ID " + `line`) and waits for its answer. */
  async #request(line: string, expectedMs: number, file: string): Promise<TrafficResult> {
    const id = (this.#nextId = (this.#nextId + 1) % 0x7fffffff);
    const response = path.join(this.dir, 'response');
    fs.rmSync(response, { force: true });
    // A stop left from an earlier send: framegen keeps the file until a run ends.
    fs.rmSync(path.join(this.dir, 'stop'), { force: true });
    fs.writeFileSync(path.join(this.dir, 'request.tmp'), `${id} ${line}\n`);
    fs.renameSync(path.join(this.dir, 'request.tmp'), path.join(this.dir, 'request'));

    const deadline = Date.now() + 30_000 + expectedMs;
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
        const words = text.trim().split(/\s+/);
        if (Number(words[0]) === id) {
          if (words[1] === 'error') throw framegenError(words[2], words[3], file, words.slice(4).join(' '));
          const [sent, hostDropped, ns, skipped] = words.slice(1).map(Number);
          return { id, sent, hostDropped, seconds: ns / 1e9, skipped: skipped || 0 };
        }
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

/** The guest NIC models qemu/vm.sh --nic boots with, and the driver each has in the guest. */
export const NIC_DRIVERS = { e1000: 'e1000', virtio: 'virtio_net' } as const;
export type NicName = keyof typeof NIC_DRIVERS;

/** The NIC this guest was booted with (vm.sh sets KMODLAB_NIC with a NIC; the e1000 by default). */
export function bootedNic(): NicName {
  return process.env.KMODLAB_NIC === 'virtio' ? 'virtio' : 'e1000';
}

/** framegen's MAC (qemu/framegen.c). */
export const HOST_MAC = '52:54:00:00:00:01';

/**
 * Makes framegen's address a permanent neighbour of the NIC: the stack's answers to its frames
 * (ICMP, to a closed port) then need no ARP exchange, whose reply a capture would count.
 */
export function pinHostAddress(dev = 'eth0'): void {
  execFileSync('ip', ['neigh', 'replace', HOST_IP, 'lladdr', HOST_MAC, 'dev', dev, 'nud', 'permanent']);
}

/** Addresses the NIC (by default eth0) for HOST_IP and waits for its link. */
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

/** A framegen frame, decoded: its run, sequence number and flow. */
export interface FrameInfo {
  id: number;
  seq: number;
  protocol: Protocol;
  /** The IPv4 source address, dotted. */
  source: string;
  /** The destination port (null for ICMP). */
  port: number | null;
  /** Where its payload ("KMZC", run, sequence, pattern) starts. */
  payloadOffset: number;
}

/** Where an IPv4 UDP, TCP or ICMP frame's payload starts, or -1. */
function payloadOffsetOf(frame: Buffer): number {
  if (frame.length < 34 || frame.readUInt16BE(12) !== 0x0800) return -1;
  const l4 = 14 + (frame[14] & 0xf) * 4;
  switch (frame[23]) {
    case 17:
    case 1:
      return l4 + 8;
    case 6:
      return frame.length > l4 + 12 ? l4 + (frame[l4 + 12] >> 4) * 4 : -1;
    default:
      return -1;
  }
}

/** A framegen frame's run id, sequence number and flow, or null if it is not one. */
export function decodeFrame(frame: Buffer): FrameInfo | null {
  const at = payloadOffsetOf(frame);
  if (at < 0 || frame.length < at + PAYLOAD_HEADER || frame.toString('latin1', at, at + 4) !== 'KMZC') return null;
  const protocol: Protocol = frame[23] === 17 ? 'udp' : frame[23] === 6 ? 'tcp' : 'icmp';
  const l4 = 14 + (frame[14] & 0xf) * 4;
  return {
    id: frame.readUInt32LE(at + 4),
    seq: Number(frame.readBigUInt64LE(at + 8)),
    protocol,
    source: `${frame[26]}.${frame[27]}.${frame[28]}.${frame[29]}`,
    port: protocol === 'icmp' ? null : frame.readUInt16BE(l4 + 2),
    payloadOffset: at,
  };
}

/** Whether a frame's payload after its header is exactly the pattern of its sequence number. */
export function framePatternIntact(frame: Buffer, seq: number): boolean {
  const at = payloadOffsetOf(frame);
  if (at < 0) return false;
  for (let k = at + PAYLOAD_HEADER; k < frame.length; k++) {
    if (frame[k] !== ((seq + k) & 0xff)) return false;
  }
  return true;
}
