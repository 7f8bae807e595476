// The little network fastnet's VM tests capture on: a veth pair whose
// `dev` end (10.77.N.2) stays here, where the test binds fastnet and runs
// a UDP receiver, and whose peer (10.77.N.1) sits in its own namespace,
// where netsend (test/helpers/netsend.c) sends from. pktgen injects
// straight into `dev`'s receive path. Static neighbours: no ARP, and no
// IPv6: a capture holds exactly what the test sent.
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Namespace, PKTGEN_MAGIC, VethPair, pktgenRun, pktgenSetup } from '../../lib/traffic';

export const NETSEND = path.join(__dirname, '..', '..', 'out', 'bin', 'netsend');
export const UDP_PORT = 9000;

/** Ethernet 14 + IPv4 20 + UDP 8. */
export const UDP_HEADERS = 42;

export class Topology implements Disposable {
  readonly ns: Namespace;
  readonly veth: VethPair;
  readonly dev: string;
  readonly address: string;
  readonly peerAddress: string;

  constructor(index: number) {
    this.dev = `fnb${index}`;
    this.address = `10.77.${index}.2`;
    this.peerAddress = `10.77.${index}.1`;
    // Room for every datagram a test sends before it reads any.
    fs.writeFileSync('/proc/sys/net/core/rmem_max', String(32 << 20));
    this.ns = new Namespace(`fnet${index}`);
    this.veth = new VethPair(this.dev, `fna${index}`, {
      address: `${this.address}/24`,
      peerAddress: `${this.peerAddress}/24`,
      peerNamespace: this.ns,
      staticNeighbours: true,
    });
  }

  /** netsend's UDP datagrams from the peer: `count` of `size` bytes, payload seq + pattern. */
  async sendUdp(count: number, size: number, port = UDP_PORT): Promise<void> {
    // On one CPU: veth queues each frame on the sending CPU's backlog, so a sender the scheduler
    // moves mid-stream has two CPUs deliver its frames, out of order (seen on 2 vCPUs under load).
    const out = await this.ns.run('taskset', ['-c', '0', NETSEND, 'udp', this.address, String(port), String(count), String(size)]);
    expect(out.trim()).toBe(`sent ${count}`);
  }

  /** pktgen: `count` UDP frames of `size` bytes into dev's receive path, for the stack to take. */
  inject(count: number, size = 64, port = UDP_PORT): void {
    this.setupInjection(count, size, port);
    pktgenRun();
  }

  /** Configures pktgen as inject() does, for pktgenRunAsync(). */
  setupInjection(count: number, size = 64, port = UDP_PORT): void {
    pktgenSetup({
      device: this.dev,
      count,
      size,
      dstMac: this.veth.mac,
      src: this.peerAddress,
      dst: this.address,
      udpDstPort: port,
    });
  }

  close(): void {
    this.veth.close();
    this.ns.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A UDP socket on dev's address: what the stack delivered. */
export class UdpReceiver {
  readonly socket: dgram.Socket;
  readonly datagrams: Buffer[] = [];

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (message) => this.datagrams.push(message));
  }

  static async open(address: string, port = UDP_PORT): Promise<UdpReceiver> {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 16 << 20 });
    await new Promise<void>((resolve) => socket.bind(port, address, resolve));
    return new UdpReceiver(socket);
  }

  get count(): number {
    return this.datagrams.length;
  }

  reset(): void {
    this.datagrams.length = 0;
  }

  /**
   * Waits until `count` datagrams arrived, or `ms` went by with none arriving; returns how many
   * did. (A deadline on the whole wait failed on a loaded host: 2208 of 2300 in 3 s, the rest
   * counted by the next test.)
   */
  async settle(count: number, ms = 3000): Promise<number> {
    let seen = this.count;
    let deadline = Date.now() + ms;
    while (this.count < count && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      if (this.count !== seen) [seen, deadline] = [this.count, Date.now() + ms];
    }
    // Anything more than expected would show up now.
    await new Promise((r) => setTimeout(r, 50));
    return this.count;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/**
 * What is wrong with a netsend datagram's frame (headers, sequence number,
 * pattern), or null. Plain checks, one expect() per test: jest's matchers
 * cost too much per frame under TCG.
 */
export function udpFrameProblem(frame: Buffer, seq: number, size: number, port = UDP_PORT): string | null {
  if (frame.length !== UDP_HEADERS + size) return `frame ${seq}: ${frame.length} bytes, not ${UDP_HEADERS + size}`;
  if (frame.readUInt16BE(12) !== 0x0800) return `frame ${seq}: EtherType ${frame.readUInt16BE(12).toString(16)}`;
  if (frame[14 + 9] !== 17) return `frame ${seq}: IP protocol ${frame[14 + 9]}`;
  if (frame.readUInt16BE(14 + 20 + 2) !== port) return `frame ${seq}: UDP port ${frame.readUInt16BE(36)}`;
  const payload = frame.subarray(UDP_HEADERS);
  if (payload.readUInt32BE(0) !== seq) return `frame ${seq}: sequence number ${payload.readUInt32BE(0)}`;
  for (let i = 4; i < size; i++) {
    if (payload[i] !== ((seq + i) & 0xff)) return `frame ${seq}: payload byte ${i} is ${payload[i]}`;
  }
  return null;
}

/** Frames must be netsend's datagrams first, first + 1, ... of `size` bytes. */
export function expectUdpFrames(frames: Buffer[], count: number, size: number, first = 0): void {
  expect(frames).toHaveLength(count);
  const problems = frames.map((frame, i) => udpFrameProblem(frame, first + i, size)).filter((p) => p !== null);
  expect(problems).toEqual([]);
}

/** pktgen's sequence number in one of its frames, or -1 without its magic. */
export function pktgenSeq(frame: Buffer): number {
  return frame.length >= UDP_HEADERS + 8 && frame.readUInt32BE(UDP_HEADERS) === PKTGEN_MAGIC
    ? frame.readUInt32BE(UDP_HEADERS + 4)
    : -1;
}

/** pktgen frames, each once, in order: n consecutive sequence numbers. */
export function expectPktgenFrames(frames: Buffer[], n: number): void {
  const seqs = frames.map(pktgenSeq);
  expect(seqs).toHaveLength(n);
  const first = seqs[0] ?? 0;
  expect(first).toBeGreaterThanOrEqual(0);
  expect(seqs.filter((seq, i) => seq !== first + i)).toEqual([]);
}

/** Counters of /proc/net/snmp's Udp line. */
export function udpCounters(): Record<string, number> {
  const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((name, i) => [name, values[i]]));
}
