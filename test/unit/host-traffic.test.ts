// HostTraffic (lib/host-traffic.ts) against a real out/bin/framegen on the
// host, without a VM: the frames go to a UDP socket of the test's own, bound
// where QEMU's would be. send() rejects when framegen dies or its folder goes,
// and stop() ends a send within framegen's batch of frames.
import { spawn, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { HostTraffic, STOP_BATCH_FRAMES, decodeFrame, framePatternIntact, type TrafficResult } from '../../lib/host-traffic';
import { PcapWriter } from '../../lib/pcap-file';
import { SAMPLE_FILE, sampleFrames, sampleTraffic } from '../fixtures/sample-traffic';

const FRAMEGEN = path.resolve(__dirname, '..', '..', 'out', 'bin', 'framegen');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Above the 10 s each send is given to settle, so a send that never does fails as 'pending'.
jest.setTimeout(30_000);

let dir: string;
let framegen: ChildProcess;
let framegenExited: Promise<void>;
/** QEMU's end of the link: counts framegen's frames. */
let qemuSocket: dgram.Socket;
let received: number;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'framegen-test-'));
  framegen = spawn(FRAMEGEN, [dir], { stdio: 'ignore' });
  framegenExited = new Promise((resolve) => framegen.on('exit', () => resolve()));
  const ports = path.join(dir, 'ports');
  for (let i = 0; !fs.existsSync(ports); i++) {
    if (i > 100) throw new Error(`framegen wrote no ${ports}`);
    await sleep(50);
  }
  const qemuPort = Number(fs.readFileSync(ports, 'utf8').trim().split(/\s+/)[1]);
  received = 0;
  qemuSocket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  qemuSocket.on('message', (frame) => {
    if (decodeFrame(frame)) received++;
  });
  await new Promise<void>((resolve) => qemuSocket.bind(qemuPort, '127.0.0.1', resolve));
});

afterEach(async () => {
  framegen.kill('SIGKILL');
  await framegenExited;
  qemuSocket.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The send's outcome, or 'pending' if it has not settled within `ms`. */
async function settled(sending: Promise<TrafficResult>, ms: number): Promise<TrafficResult | Error | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    sending.catch((err: Error) => err),
    new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms))),
  ]);
  clearTimeout(timer);
  return outcome;
}

async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(5);
  }
}

test('send() rejects with ERR_HOST_TRAFFIC_GONE within seconds when framegen is killed mid-send', async () => {
  const traffic = new HostTraffic(dir);
  const sending = traffic.send({ size: 60, count: 10_000_000, rate: 1000 });
  await until('the first frames', 5000, () => received > 50);
  framegen.kill('SIGKILL');
  const outcome = await settled(sending, 10_000);
  expect(outcome).toBeInstanceOf(Error);
  expect(outcome).toMatchObject({ code: 'ERR_HOST_TRAFFIC_GONE', message: expect.stringMatching(/framegen is not running: its heartbeat .*alive has not moved/) });
});

test('send() rejects with ERR_HOST_TRAFFIC_GONE when the folder goes mid-send, and framegen exits', async () => {
  const traffic = new HostTraffic(dir);
  const sending = traffic.send({ size: 60, count: 10_000_000, rate: 1000 });
  await until('the first frames', 5000, () => received > 50);
  fs.rmSync(dir, { recursive: true, force: true });
  const outcome = await settled(sending, 10_000);
  expect(outcome).toMatchObject({ code: 'ERR_HOST_TRAFFIC_GONE', message: expect.stringContaining(`framegen's folder ${dir} is gone`) });
  expect((outcome as Error).cause).toMatchObject({ code: 'ENOENT', syscall: 'stat' });
  // framegen notices in its send loop, not only between requests.
  expect(await Promise.race([framegenExited.then(() => 'exited'), sleep(2000).then(() => 'running')])).toBe('exited');
});

test('stop() during a long send: at most a batch of frames more', async () => {
  const traffic = new HostTraffic(dir);
  const sending = traffic.send({ size: 60, count: 10_000_000, rate: 2000 });
  // Past framegen's old check at frame 1024, so the old 1024-frame batch would show.
  await until('1100 frames', 10_000, () => received >= 1100);
  // From the check phase, right after the event loop took what the socket held: frames that
  // framegen had sent and the loop had not yet counted would show as sent after the stop.
  await new Promise((resolve) => setImmediate(resolve));
  const atStop = received;
  traffic.stop();
  const result = await sending;
  await sleep(100); // the last frames on the loopback socket
  expect(result.sent).toBe(received);
  // Plus what reached the socket between that turn and the stop: 10 ms at 2000 frames/s.
  expect(result.sent - atStop).toBeLessThanOrEqual(STOP_BATCH_FRAMES + 20);
});

test('a stop() before framegen takes the request still stops it', async () => {
  const traffic = new HostTraffic(dir);
  const sending = traffic.send({ size: 60, count: 5000, rate: 5000 });
  traffic.stop(); // framegen looks for a request every 20 ms: not yet taken
  const result = await sending;
  expect(result.sent).toBeLessThanOrEqual(STOP_BATCH_FRAMES);
  // And the next send is not stopped by it.
  expect((await traffic.send({ size: 60, count: 100, rate: 0 })).sent).toBe(100);
});

describe('flows and replays', () => {
  /** Every frame QEMU's end gets, with when it came. */
  let frames: { at: bigint; data: Buffer }[];
  beforeEach(() => {
    frames = [];
    qemuSocket.on('message', (data) => frames.push({ at: process.hrtime.bigint(), data }));
  });

  /** The 16-bit one's complement sum of `parts` (0 when a checksum in them is right). */
  function sum16(...parts: Buffer[]): number {
    let sum = 0;
    for (const part of parts) for (let i = 0; i < part.length; i += 2) sum += (part[i] << 8) | (i + 1 < part.length ? part[i + 1] : 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    return ~sum & 0xffff;
  }

  test('ports, addresses and protocols cycle frame by frame, ports first, with right checksums and the sequence payload', async () => {
    const traffic = new HostTraffic(dir);
    const result = await traffic.send({ size: 100, count: 48, rate: 0, ports: 4, addresses: 2, protocols: ['udp', 'tcp', 'icmp'] });
    expect(result).toMatchObject({ sent: 48, skipped: 0 });
    await until('48 frames', 5000, () => frames.length >= 48);
    const protocols = ['udp', 'tcp', 'icmp'];
    frames.forEach(({ data }, i) => {
      const d = decodeFrame(data);
      expect(d).toMatchObject({
        id: result.id,
        seq: i,
        port: protocols[Math.floor(i / 8) % 3] === 'icmp' ? null : 9 + (i % 4),
        source: Math.floor(i / 4) % 2 ? '192.168.77.3' : '192.168.77.1',
        protocol: protocols[Math.floor(i / 8) % 3],
      });
      expect(data.length).toBe(100);
      expect(framePatternIntact(data, i)).toBe(true);
      expect(sum16(data.subarray(14, 34))).toBe(0);
      const l4 = data.subarray(34);
      if (d!.protocol === 'icmp') expect(sum16(l4)).toBe(0);
      if (d!.protocol === 'tcp') {
        const pseudo = Buffer.concat([data.subarray(26, 34), Buffer.from([0, 6, l4.length >> 8, l4.length & 0xff])]);
        expect(sum16(pseudo, l4)).toBe(0);
      }
    });
  });

  test('a filter on dst port 9 keeps 1 frame in `ports`', async () => {
    const traffic = new HostTraffic(dir);
    await traffic.send({ size: 60, count: 100, rate: 0, ports: 5 });
    await until('100 frames', 5000, () => frames.length >= 100);
    expect(frames.filter(({ data }) => data.readUInt16BE(36) === 9)).toHaveLength(20);
  });

  test('bad flows are refused before a request: TCP below 70 bytes, no or repeated protocols, out-of-range spreads', () => {
    const traffic = new HostTraffic(dir);
    expect(() => traffic.send({ size: 64, count: 1, rate: 0, protocols: ['tcp'] })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('>= 70 with tcp') }),
    );
    expect(() => traffic.send({ size: 64, count: 1, rate: 0, protocols: [] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => traffic.send({ size: 64, count: 1, rate: 0, protocols: ['udp', 'udp'] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => traffic.send({ size: 64, count: 1, rate: 0, protocols: ['sctp' as 'udp'] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => traffic.send({ size: 64, count: 1, rate: 0, ports: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => traffic.send({ size: 64, count: 1, rate: 0, addresses: 251 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(fs.existsSync(path.join(dir, 'request'))).toBe(false);
  });

  test('the shipped sample is test/fixtures/sample-traffic.ts\'s output, replayed frame for frame at its own pace', async () => {
    expect(fs.readFileSync(SAMPLE_FILE).equals(sampleTraffic())).toBe(true);
    const expected = sampleFrames().map(({ frame }) => {
      const f = Buffer.concat([frame, Buffer.alloc(Math.max(0, 60 - frame.length))]);
      if (!(f[0] & 1)) Buffer.from('525400123456', 'hex').copy(f); // unicast: to the guest
      return f;
    });
    const traffic = new HostTraffic(dir);
    // Four times the file's pace: its 0.898 s take at least 0.224 s at the sender.
    const result = await traffic.replay({ file: SAMPLE_FILE, multiplier: 4 });
    expect(result).toMatchObject({ sent: expected.length, skipped: 0 });
    await until(`${expected.length} frames`, 5000, () => frames.length >= expected.length);
    expect(frames.map((f) => f.data.toString('hex'))).toEqual(expected.map((f) => f.toString('hex')));
    // Stamped as this process reads them: the first can come late by a scheduling delay (4.5 ms
    // beside two VMs), so the span only shows the pace to within that; unpaced, it would be ~0.
    expect(Number(frames[frames.length - 1].at - frames[0].at) / 1e9).toBeGreaterThanOrEqual((0.8978 / 4) * 0.9);
  });

  test('a classic pcap file, microseconds, looped and cut at count, at pps; frames past 9018 bytes skipped', async () => {
    const file = path.join(dir, 'small.pcap');
    {
      using w = PcapWriter.open(file);
      w.write({ data: Buffer.from('525400aabbcc525400000001080045', 'hex'), timestampNs: 1n });
      w.write({ data: Buffer.alloc(9100, 0xee), timestampNs: 2n });
      w.write({ data: Buffer.concat([Buffer.from('ffffffffffff525400000001', 'hex'), Buffer.alloc(100, 7)]), timestampNs: 3n });
    }
    const traffic = new HostTraffic(dir);
    const result = await traffic.replay({ file, pps: 2000, loops: 3, count: 8 });
    // 8 frames of the file taken: 1, 2, 3, 1, 2, 3, 1, 2; the 9100-byte ones skipped.
    expect(result).toMatchObject({ sent: 5, skipped: 3 });
    await until('5 frames', 5000, () => frames.length >= 5);
    expect(frames.map((f) => f.data.length)).toEqual([60, 112, 60, 112, 60]);
    expect(frames[0].data.subarray(0, 15).toString('hex')).toBe('525400123456525400000001080045');
    expect(frames[1].data.subarray(0, 6).toString('hex')).toBe('ffffffffffff');
  });

  test('replay errors: a file that is not a capture, a link type other than Ethernet, a missing file, two pacings', async () => {
    const traffic = new HostTraffic(dir);
    const text = path.join(dir, 'text.pcap');
    fs.writeFileSync(text, 'not a capture at all\n');
    await expect(traffic.replay({ file: text })).rejects.toMatchObject({
      code: 'ERR_PCAP_FORMAT',
      path: text,
      message: expect.stringContaining('neither pcap nor pcapng'),
    });
    const raw = path.join(dir, 'raw.pcap');
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0);
    header.writeUInt32LE(101, 20); // LINKTYPE_RAW
    fs.writeFileSync(raw, header);
    await expect(traffic.replay({ file: raw })).rejects.toMatchObject({ code: 'ERR_PCAP_FORMAT', message: expect.stringContaining('not Ethernet') });
    expect(() => traffic.replay({ file: path.join(dir, 'none.pcap') })).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'stat' }));
    expect(() => traffic.replay({ file: text, pps: 10, topspeed: true })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    // framegen is still serving.
    expect((await traffic.send({ size: 60, count: 3, rate: 0 })).sent).toBe(3);
  });

  test('framegen reports a file the host cannot open as a Node-style error', async () => {
    const traffic = new HostTraffic(dir);
    const file = path.join(dir, 'unreadable.pcap');
    fs.mkdirSync(file); // stat() in the "guest" passes; framegen finds no regular file
    await expect(traffic.replay({ file })).rejects.toMatchObject({ code: 'EINVAL', syscall: 'open', path: file });
  });
});
