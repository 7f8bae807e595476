// fastnet's zero-copy mode on the project's patched e1000, or its patched
// virtio_net in the boot with a virtio-net NIC (KMODLAB_NIC=virtio), fed from
// the host by qemu/framegen. qemu/test.sh boots it with `qemu/vm.sh --traffic
// --iommu`: QEMU's emulated IOMMU makes a DMA into a page that is not mapped
// fault instead of landing somewhere.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import * as fastnet from '../../lib/fastnet';
import * as kmod from '../../lib/kmod';
import { native } from '../../lib/native';
import { readPcapFile } from '../../lib/pcap-file';
import {
  GUEST_IP,
  GUEST_MAC,
  HOST_IP,
  HostTraffic,
  NIC_DRIVERS,
  RCTL_HOLD_MS,
  bootedNic,
  decodeFrame,
  framePatternIntact,
  setupGuestLink,
  waitForCarrier,
  type TrafficRequest,
  type TrafficResult,
} from '../../lib/host-traffic';
import { VethPair, ip, modprobe } from '../../lib/traffic';
import { memorySnapshot, settleMemory } from './meminfo';
import { rounds, userSpaceTest } from './debug-kernel';

const DEV = 'eth0';
const FASTNET_BIND = path.join(__dirname, '..', '..', 'out', 'bin', 'fastnet-bind');
const RING_CONSUMER = path.join(__dirname, '..', '..', 'out', 'bin', 'ring-consumer');
const RTNL_HOLD = path.join(__dirname, '..', '..', 'out', 'bin', 'rtnl-hold');
const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'kmodlab.js');
const code = (name: string) => expect.objectContaining({ code: name });
const NIC = bootedNic();
const DRIVER = NIC_DRIVERS[NIC];
/** The e1000 keeps the descriptor at its tail out of the NIC's hands (its own convention): one slot fewer in the NIC. */
const TAIL_RESERVE = NIC === 'e1000' ? 1 : 0;
/** Tests of what only the e1000 has (rx-all). */
const e1000Only = NIC === 'e1000' ? describe : describe.skip;
/**
 * Tests of what fastnet does alike whatever the driver (refusals before the driver is asked, the
 * filter and pass-through in the NAPI poll, the UAPI from C, another rx_handler, statistics
 * without RTNL): once, in the e1000's boot, and not again in the virtio-net one.
 */
const driverAgnostic = NIC === 'e1000' ? describe : describe.skip;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let traffic: HostTraffic;

beforeAll(async () => {
  if (!HostTraffic.available()) {
    throw new Error('fastnet-zerocopy needs host traffic: `npm test -- --vm test/vm/fastnet-zerocopy` boots with it');
  }
  traffic = new HostTraffic();
  // Booted with --iommu: the NIC's DMA goes through QEMU's emulated DMAR.
  if (process.env.KMODLAB_IOMMU === '1') expect(fs.readdirSync('/sys/class/iommu').length).toBeGreaterThan(0);
  expect(fastnet.deviceDriver(DEV)).toBe(DRIVER);
  await setupGuestLink(DEV);
}, 60_000);

jest.setTimeout(300_000);

/** `kmodlab ARGS` (a capture) once it says it is listening: its exit status and its stderr so far. */
async function startCli(args: string[]): Promise<{ exited: Promise<number | null>; stderr: () => string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => (stderr += text));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  while (!stderr.includes('listening on') && child.exitCode === null) await sleep(20);
  return { exited, stderr: () => stderr };
}

/** Ping through the e1000 to framegen: the interface works. */
function pings(): boolean {
  const result = spawnSync('busybox', ['ping', '-c', '2', '-W', '3', HOST_IP], { encoding: 'utf8' });
  return result.status === 0;
}

interface Seen {
  frames: number;
  /** Of those, frames of an earlier request that QEMU still held (after a test's 1 s RX hold). */
  stale: number;
  /** Of those, the host's answers to the guest's own ARP or ping (framegen answers both). */
  replies: number;
  /** Frames that are not framegen's, or of a later request, or out of order, or damaged. */
  bad: string[];
  lastSeq: number;
}

/** An ARP reply or an ICMP echo reply from framegen's address: the guest's stack asked for it. */
function hostReply(frame: Buffer): boolean {
  if (frame.length < 34 || frame.toString('hex', 6, 12) !== '525400000001') return false;
  const type = frame.readUInt16BE(12);
  return type === 0x0806 || (type === 0x0800 && frame[23] === 1 && frame[34] === 0);
}

/** Checks each frame of a batch: the request's, in order, the right length, the pattern intact. */
function check(batch: fastnet.PacketBatch, id: number, size: number, seen: Seen): void {
  for (const packet of batch) {
    seen.frames++;
    const decoded = decodeFrame(packet.data);
    if (decoded && decoded.id < id) {
      seen.stale++;
    } else if (!decoded && hostReply(packet.data)) {
      seen.replies++;
    } else if (!decoded || decoded.id !== id) {
      const what = decoded ? `request ${decoded.id}` : `${packet.data.length} bytes: ${packet.data.subarray(0, 40).toString('hex')}`;
      seen.bad.push(`frame ${seen.frames}: not of request ${id} (${what})`);
    } else if (decoded.seq <= seen.lastSeq) {
      seen.bad.push(`frame ${seen.frames}: seq ${decoded.seq} after ${seen.lastSeq}`);
    } else if (packet.data.length !== size || packet.originalLength !== size) {
      seen.bad.push(`seq ${decoded.seq}: ${packet.data.length} bytes, not ${size}`);
    } else if (!framePatternIntact(packet.data, decoded.seq)) {
      seen.bad.push(`seq ${decoded.seq}: payload differs`);
    }
    if (decoded && decoded.id === id) seen.lastSeq = decoded.seq;
  }
}

/** Waits until the session's received count stops moving (the NIC is idle). */
async function quiet(session: fastnet.Session): Promise<fastnet.Stats> {
  let last = session.stats();
  for (;;) {
    await sleep(700);
    const now = session.stats();
    if (now.received === last.received) return now;
    last = now;
  }
}

/**
 * Entering zero-copy leaves the NIC the driver's buffers it holds (their frames are copied into
 * slots as they come): after a ring's worth of frames it holds only slots.
 */
async function takeOverDone(session: fastnet.Session): Promise<{ result: TrafficResult; stats: fastnet.Stats }> {
  // The last session left with no traffic to fill its slots, so it stopped RX, and QEMU's e1000
  // takes no frame for 1 s after any write of its receive control register (hardware: about 10 ms).
  await sleep(RCTL_HOLD_MS);
  const { result, seen, stats } = await capture(session, { size: 100, count: 600, rate: 3000 });
  expect(seen.bad).toEqual([]);
  expect(stats.delivered).toBeGreaterThanOrEqual(300);
  return { result, stats };
}

/** Sends `request` from the host while consuming the ring; resolves once all is in. */
async function capture(
  session: fastnet.Session,
  request: TrafficRequest,
): Promise<{ result: TrafficResult; seen: Seen; stats: fastnet.Stats }> {
  const seen: Seen = { frames: 0, stale: 0, replies: 0, bad: [], lastSeq: -1 };
  const abort = new AbortController();
  let id = -1;
  const pending: fastnet.PacketBatch[] = [];
  const consuming = session.loop(
    (batch) => {
      if (id < 0) pending.push(batch);
      else check(batch, id, request.size, seen);
    },
    { signal: abort.signal, maxBatch: 512 },
  );
  const result = await traffic.send(request);
  id = result.id;
  for (const batch of pending.splice(0)) check(batch, id, request.size, seen);
  const stats = await quiet(session);
  // What the last wait left in the ring.
  check(session.ring.drain(), id, request.size, seen);
  abort.abort();
  await consuming;
  check(session.ring.drain(), id, request.size, seen);
  return { result, seen, stats };
}

driverAgnostic('zero-copy is refused', () => {
  test('on veth and on lo, whose drivers have no zero-copy operations (EOPNOTSUPP)', () => {
    using pair = new VethPair('zcv0', 'zcv1');
    for (const dev of [pair.name, 'lo']) {
      using session = fastnet.open();
      expect(() => session.bind(dev, 'zerocopy', { slots: 64 })).toThrow(
        expect.objectContaining({ code: 'ENOTSUP', errno: -95, syscall: 'ioctl' }),
      );
    }
  });

  test("with read's header flag (EINVAL): pass-through and the ring's batch are its flags", () => {
    using session = fastnet.open();
    for (const flags of [4, 4 | 2]) {
      const request = fastnet.encodeBind({ ifname: DEV, mode: fastnet.MODES.zerocopy, flags });
      expect(() => native.ioctl(session.fd, native.fastnet.BIND, request, session.path)).toThrow(code('EINVAL'));
    }
  });
});

driverAgnostic('pass-through in zero-copy: the frames the filter rejects go on to the stack, copied', () => {
  /** Pings the host once the guest has forgotten its MAC: ARP, then ICMP, both through the NIC. */
  function arpAndPing(count: number): boolean {
    spawnSync('ip', ['neigh', 'del', HOST_IP, 'dev', DEV]);
    return spawnSync('busybox', ['ping', '-c', String(count), '-W', '2', HOST_IP]).status === 0;
  }

  test("without it the capture takes ARP and ping too: ping fails (the control case)", async () => {
    {
      using session = fastnet.open().bind(DEV, 'zerocopy', { slots: 256, filter: 'udp port 9' });
      await sleep(RCTL_HOLD_MS); // QEMU's e1000 takes no frame for 1 s after entering
      expect(arpAndPing(1)).toBe(false);
      expect(session.stats().filtered).toBeGreaterThan(0);
    }
    await waitForCarrier(DEV);
  });

  test("kmodlab capture -m fastnet-zc --pass 'udp dst port 9': ARP and ping work during the capture; the file holds port 9's frames", async () => {
    const file = '/tmp/capture-zc-pass.pcap';
    fs.rmSync(file, { force: true });
    const args = ['capture', '-m', 'fastnet-zc', '--pass', '-i', DEV, '-c', '100', '-t', '120', '-w', file, 'udp dst port 9'];
    const cli = await startCli(args);
    await sleep(RCTL_HOLD_MS);
    expect(arpAndPing(3)).toBe(true);
    // Two ports, frame by frame: every other frame is for the capture, the rest go to the stack.
    const result = await traffic.send({ size: 100, count: 200, rate: 2000, ports: 2 });
    expect(await cli.exited).toBe(0);
    expect(cli.stderr()).toContain(`100 frames written to ${file}; 0 dropped`);
    const ours = readPcapFile(file)
      .records.map((r) => decodeFrame(Buffer.from(r.data)))
      .filter((d) => d?.id === result.id);
    expect(ours.length).toBeGreaterThanOrEqual(95);
    expect(ours.every((d) => d!.port === 9 && d!.seq % 2 === 0)).toBe(true);
    await waitForCarrier(DEV);
    expect(pings()).toBe(true);
  });
});

describe('frames from the host', () => {
  test('arrive byte-identical and in order, and delivered + dropped + missed = sent', async () => {
    using session = fastnet.open().bind(DEV, 'zerocopy', { slots: 4096 });
    expect(session.ring.zone.readUInt32LE(40)).toBe(fastnet.MODES.zerocopy); // hdr->mode
    const size = 300;
    const { result, seen, stats } = await capture(session, { size, count: 20_000, rate: 5000 });
    console.log(
      `zero-copy: sent ${result.sent} in ${result.seconds.toFixed(2)} s; delivered ${stats.delivered}, ` +
        `dropped ${stats.dropped}, NIC missed ${stats.nicMissed}, host dropped ${result.hostDropped}`,
    );
    expect(result.sent).toBe(20_000);
    expect(seen.bad.slice(0, 5)).toEqual([]);
    expect(seen.frames).toBe(stats.delivered);
    expect(stats.deliveredBytes).toBe(stats.delivered * size);
    expect(stats.received).toBe(stats.delivered + stats.dropped);
    expect(stats.truncated).toBe(0);
    expect(stats.delivered + stats.dropped + stats.nicMissed + result.hostDropped).toBe(result.sent + seen.replies);
    expect(seen.frames).toBeGreaterThan(0);
  });

  test('batch: poll() reports the ring readable at most once a millisecond, and every frame is taken', async () => {
    await sleep(RCTL_HOLD_MS); // the last session left idle: it stopped the e1000's RX
    using session = fastnet.open().bind(DEV, 'zerocopy', { slots: 4096, batch: true });
    const frames = new Map<number, number>(); // request id -> frames
    let wakeups = 0;
    const start = performance.now();
    let last = start;
    const sending = traffic.send({ size: 100, count: 4000, rate: 10_000 });
    // A synchronous consumer, quick enough to take frames one or two at a time without batch.
    while (session.wait(1500) & native.fastnet.POLLIN) {
      wakeups++;
      last = performance.now();
      for (const packet of session.ring.drain()) {
        const frame = decodeFrame(packet.data);
        if (frame) frames.set(frame.id, (frames.get(frame.id) ?? 0) + 1);
      }
    }
    const result = await sending;
    expect(frames.get(result.id)).toBe(result.sent - result.hostDropped);
    // Each wakeup needs an announcement, and the wake timer announces at most once a millisecond.
    expect(wakeups).toBeLessThanOrEqual(Math.ceil(last - start) + 2);
  });

  test('full-size frames (1514 bytes) and the smallest (60) arrive whole', async () => {
    for (const size of [1514, 60]) {
      using session = fastnet.open().bind(DEV, 'zerocopy', { slots: 1024, slotSize: 2048 });
      const { result, seen, stats } = await capture(session, { size, count: 2000, rate: 2000 });
      expect(seen.bad.slice(0, 5)).toEqual([]);
      expect(seen.frames).toBe(stats.delivered);
      expect(stats.delivered + stats.dropped + stats.nicMissed + result.hostDropped).toBe(result.sent + seen.replies);
    }
  });

  test('a consumer that stops handing slots back: the NIC stops, no owned slot is overwritten, capture resumes', async () => {
    const slots = 256;
    const size = 200;
    using session = fastnet.open().bind(DEV, 'zerocopy', { slots });
    // The NIC first fills the driver's buffers it held at entry (copied into slots); then only slots.
    const warm = await takeOverDone(session);
    // Nobody consumes: every slot ends up published, then the NIC has none.
    const first = await traffic.send({ size, count: 3000, rate: 3000 });
    let stats = await quiet(session);
    // All of them (but one on the e1000, TAIL_RESERVE, which waits free).
    expect(stats.delivered - warm.stats.delivered).toBe(slots - TAIL_RESERVE);
    expect(stats.dropped).toBe(0);
    expect(first.hostDropped).toBeGreaterThan(0);
    // The ring still holds the first frames, untouched by the thousands sent after them.
    const held = session.ring.drain();
    const seen: Seen = { frames: 0, stale: 0, replies: 0, bad: [], lastSeq: -1 };
    check(held, first.id, size, seen);
    // In order and intact (the host may lose some before QEMU takes them: gaps, never disorder).
    expect(held.count).toBe(slots - TAIL_RESERVE);
    expect(seen.bad.slice(0, 5)).toEqual([]);

    // Slots handed back (drain) and a wait (poll) re-arm the NIC: capture resumes, first with
    // the frames of the first run still queued in QEMU's socket, then the second run's.
    const { result: second, seen: after, stats: end } = await capture(session, { size, count: 1000, rate: 1000 });
    const fresh = after.bad.filter((b) => !b.includes(`not of request ${second.id}`));
    expect(fresh).toEqual([]);
    expect(after.frames).toBeGreaterThanOrEqual(1000 - second.hostDropped);
    stats = end;
    // Over both runs, every frame is accounted for, including the one QEMU held while the NIC had no buffer.
    expect(
      stats.delivered + stats.dropped + stats.nicMissed + warm.result.hostDropped + first.hostDropped + second.hostDropped,
    ).toBe(warm.result.sent + first.sent + second.sent);
  });
});

/** framegen's frame `seq` of request `id`, `size` bytes, as qemu/framegen.c builds it. */
function framegenFrame(id: number, seq: number, size: number): Buffer {
  const f = Buffer.alloc(size);
  Buffer.from(GUEST_MAC.split(':').map((b) => parseInt(b, 16))).copy(f, 0);
  Buffer.from([0x52, 0x54, 0, 0, 0, 1]).copy(f, 6);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f.writeUInt16BE(size - 14, 16);
  f[22] = 64;
  f[23] = 17;
  Buffer.from(HOST_IP.split('.').map(Number)).copy(f, 26);
  Buffer.from(GUEST_IP.split('.').map(Number)).copy(f, 30);
  let sum = 0;
  for (let i = 14; i < 34; i += 2) sum += f.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  f.writeUInt16BE(~sum & 0xffff, 24);
  f.writeUInt16BE(9, 34);
  f.writeUInt16BE(9, 36);
  f.writeUInt16BE(size - 34, 38);
  f.write('KMZC', 42, 'latin1');
  f.writeUInt32LE(id, 46);
  f.writeBigUInt64LE(BigInt(seq), 50);
  for (let k = 58; k < size; k++) f[k] = (seq + k) & 0xff;
  return f;
}

/** Waits until the session has handled `count` more frames than `before` (any outcome), or 10 s. */
async function handled(session: fastnet.Session, before: fastnet.Stats, count: number): Promise<fastnet.Stats> {
  const total = (s: fastnet.Stats) => s.received + s.filtered + s.nicMissed;
  const deadline = Date.now() + 10_000;
  let now = session.stats();
  while (total(now) - total(before) < count && Date.now() < deadline) {
    await sleep(20);
    now = session.stats();
  }
  return now;
}

driverAgnostic('filters in zero-copy: fastnet_bpf_run on each frame in its slot, in the NAPI poll', () => {
  const vlanTag = [{ code: 0x28, jt: 0, jf: 0, k: -0x1000 + 44 }, { code: 0x16, jt: 0, jf: 0, k: 0 }];

  test('a program that loads skb data is refused there, at bind and at setFilter, with the reason; the session keeps its own', () => {
    using session = fastnet.open().setFilter(vlanTag);
    expect(() => session.bind(DEV, 'zerocopy', { slots: 256 })).toThrow(
      expect.objectContaining({
        code: 'EINVAL',
        syscall: 'ioctl',
        reason: `binding ${DEV} in mode zerocopy: the session's filter cannot run in zero-copy: instruction 0 of 2: ancillary load (SKF_AD_OFF) needs an skb`,
      }),
    );
    // Unbound still, with its filter: a copy mode takes it.
    expect(session.mode).toBeUndefined();
    expect(session.filter).toEqual([{ ...vlanTag[0], k: 0xfffff02c }, vlanTag[1]]);
    session.setFilter('udp').bind(DEV, 'zerocopy', { slots: 256 });
    expect(() => session.setFilter(vlanTag)).toThrow(
      expect.objectContaining({
        code: 'EINVAL',
        reason: 'setting a filter of 2 instructions: instruction 0 of 2: ancillary load (SKF_AD_OFF) needs an skb, and this session is in zero-copy, whose frames have none',
      }),
    );
    expect(session.filter).toEqual(fastnet.compileFilter('udp'));
    const log = spawnSync('dmesg', { encoding: 'utf8' }).stdout;
    expect(log).toContain(`fastnet: FASTNET_BIND: [ERROR]: ${DEV} in zero-copy mode: the session's filter cannot run there`);
    expect(log).toMatch(/FASTNET_SET_FILTER: \[ERROR\]: instruction 0 of 2: ancillary load \(SKF_AD_OFF\) needs an skb, and the session is in zero-copy mode/);
  });

  test('verdicts and snap lengths frame by frame as libpcap gives them; rejected buffers go straight back to the NIC; replaced while frames flow', async () => {
    const slots = 512;
    using session = fastnet.open().bind(DEV, 'zerocopy', { slots });
    // From here on frames come straight into slots (none is still in the driver's own buffers).
    await takeOverDone(session);
    session.ring.drain();
    const CASES: { filter: fastnet.Filter; snap?: number; size: number }[] = [
      { filter: '', size: 100 }, // everything
      { filter: 'tcp or arp or ip6', size: 100 }, // nothing of framegen's
      { filter: 'udp[16] & 1 = 0', size: 120 }, // even sequence numbers (udp[16]: the number's low byte)
      { filter: 'udp dst port 9 and udp[16] & 3 != 3', snap: 80, size: 300 }, // three in four, cut to 80
      { filter: 'greater 200 and src host 192.168.77.1', size: 150 }, // nothing: too short
      { filter: 'greater 200 and src host 192.168.77.1', size: 1514 }, // everything, whole
      { filter: 'ip[2:2] = 1500 and udp[16] < 0x80', snap: 61, size: 1514 }, // 128 of 200, cut to 61 bytes
      { filter: [{ code: 0x06, jt: 0, jf: 0, k: 42 }], size: 60 }, // ret #42: every frame cut
      { filter: [{ code: 0x80, jt: 0, jf: 0, k: 0 }, { code: 0x14, jt: 0, jf: 0, k: 1 }, { code: 0x16, jt: 0, jf: 0, k: 0 }], size: 333 }, // ret len - 1
    ];
    const COUNT = 200;
    const problems: string[] = [];
    let accepted = 0;
    let cut = 0;
    for (const c of CASES) {
      const program = fastnet.filterBytes('filter', c.filter, c.snap);
      session.setFilter(fastnet.decodeProgram(program));
      const label = `${JSON.stringify(c.filter)} size ${c.size}`;
      const before = session.stats();
      const result = await traffic.send({ size: c.size, count: COUNT, rate: 2000 });
      const after = await handled(session, before, COUNT);
      // framegen's frames only (the guest's own ARP or ping replies may come meanwhile).
      const delivered = [...session.ring.drain()].filter(
        (p) => p.data.length >= 24 && p.data.readUInt16BE(12) === 0x0800 && p.data[23] === 17 && (p.data.length < 50 || p.data.readUInt32LE(46) === result.id),
      );
      if (result.hostDropped || after.nicMissed !== before.nicMissed || after.dropped !== before.dropped) {
        problems.push(`${label}: frames lost (host ${result.hostDropped}, NIC ${after.nicMissed - before.nicMissed}, dropped ${after.dropped - before.dropped})`);
        continue;
      }
      const want: { seq: number; data: Buffer }[] = [];
      for (let seq = 0; seq < COUNT; seq++) {
        const frame = framegenFrame(result.id, seq, c.size);
        const snap = Math.min(native.capture.offlineFilter(program, frame), c.size);
        if (snap > 0) want.push({ seq, data: frame.subarray(0, snap) });
      }
      accepted += want.length;
      cut += want.filter((w) => w.data.length < c.size).length;
      if (delivered.length !== want.length) problems.push(`${label}: ${delivered.length} delivered, libpcap accepts ${want.length}`);
      const bad = want.findIndex((w, i) => {
        const p = delivered[i];
        return !p || !p.data.equals(w.data) || p.originalLength !== c.size || p.truncated !== w.data.length < c.size;
      });
      if (bad >= 0) problems.push(`${label}: frame ${bad} (seq ${want[bad].seq}) differs`);
      const rejected = COUNT - want.length;
      if (after.filtered - before.filtered < rejected) problems.push(`${label}: ${after.filtered - before.filtered} filtered, ${rejected} rejected`);
    }
    expect(problems).toEqual([]);
    expect(accepted).toBeGreaterThan(0);
    expect(cut).toBeGreaterThan(0);

    // Rejected frames never take a slot: ten times the ring's worth, nobody consuming. Were their
    // buffers published (or held), the NIC would run out after one ring's worth and miss the rest.
    session.setFilter('tcp');
    const ring = session.ring.state();
    let before = session.stats();
    const reject = await traffic.send({ size: 64, count: 10 * slots, rate: 4000 });
    let after = await handled(session, before, reject.sent - reject.hostDropped);
    expect(session.ring.state().producer).toBe(ring.producer);
    const missed = after.nicMissed - before.nicMissed + reject.hostDropped;
    expect(after.filtered - before.filtered).toBeGreaterThanOrEqual(reject.sent - missed);
    expect(missed).toBeLessThan(slots);

    // Replaced every few milliseconds while frames flow: each frame whole, cut to 100, or filtered.
    const programs: fastnet.Filter[] = ['udp[16] & 1 = 0', '', 'tcp', [{ code: 0x06, jt: 0, jf: 0, k: 100 }]];
    before = session.stats();
    // Up to 10 s of frames, stopped once every program has handled frames (kept or rejected them)
    // twice: the next program comes only after this one handled one, since under TCG, and more
    // on the debug kernel, frames come in bursts and a program swapped out before any came would
    // show nothing.
    const sending = traffic.send({ size: 200, count: 30_000, rate: 3000 });
    let frames = 0;
    const lengths = new Set<number>();
    let damaged = 0;
    let done = false;
    void sending.finally(() => (done = true));
    for (let switches = 0, seen = -1; !done; ) {
      const stats = session.stats();
      if (stats.received + stats.filtered > seen) {
        if (switches === 2 * programs.length) {
          traffic.stop();
          seen = Infinity;
        } else {
          session.setFilter(programs[switches++ % programs.length]);
          const set = session.stats();
          seen = set.received + set.filtered;
        }
      }
      await sleep(5);
      for (const p of session.ring.drain()) {
        const decoded = decodeFrame(p.data);
        if (!decoded) continue;
        frames++;
        lengths.add(p.data.length);
        if (!framegenFrame(decoded.id, decoded.seq, 200).subarray(0, p.data.length).equals(p.data) || p.originalLength !== 200) damaged++;
      }
    }
    const flow = await sending;
    after = await handled(session, before, flow.sent - flow.hostDropped);
    for (const p of session.ring.drain()) if (decodeFrame(p.data)) frames++;
    expect(damaged).toBe(0);
    expect([...lengths].sort((a, b) => a - b)).toEqual([100, 200]);
    expect(frames).toBeGreaterThan(0);
    expect(after.filtered - before.filtered).toBeGreaterThan(0);
    expect(after.received - before.received + after.filtered - before.filtered + after.nicMissed - before.nicMissed)
      .toBeGreaterThanOrEqual(flow.sent - flow.hostDropped);
  });

  userSpaceTest("kmodlab capture -m fastnet-zc -i eth0 -w FILE 'udp[16] & 1 = 0': the file holds the even sequence numbers", async () => {
    const file = '/tmp/capture-zc-filter.pcap';
    fs.rmSync(file, { force: true });
    const args = ['capture', '-m', 'fastnet-zc', '-i', DEV, '-c', '100', '-t', '60', '-w', file, 'udp[16] & 1 = 0'];
    const cli = await startCli(args);
    // Entering zero-copy wrote the e1000's RCTL: QEMU takes no frame for 1 s.
    await sleep(RCTL_HOLD_MS);
    const result = await traffic.send({ size: 100, count: 200, rate: 2000 });
    expect(await cli.exited).toBe(0);
    expect(cli.stderr()).toContain(`100 frames written to ${file}; 0 dropped`);
    const ours = readPcapFile(file)
      .records.map((r) => decodeFrame(Buffer.from(r.data)))
      .filter((d) => d?.id === result.id)
      .map((d) => d!.seq);
    // All of them unless a frame of an earlier send was still queued in QEMU.
    expect(ours.length).toBeGreaterThanOrEqual(95);
    expect(ours).toEqual(Array.from({ length: ours.length }, (_, k) => 2 * k));
  });
});

/** What test/helpers/ring-consumer printed: framegen's sequence numbers it saw, and the session's counters. */
interface UapiTally {
  id: number;
  distinct: number;
  first: number;
  last: number;
  duplicates: number;
  disorder: number;
  damaged: number;
  other: number;
  delivered: number;
  dropped: number;
  missed: number;
}

/**
 * Runs the C consumer written to uapi/fastnet.h alone (bind, mmap, poll with
 * a 100 ms timeout, take [consumer, producer), hand back once a batch) and
 * sends `request` the moment it is bound.
 */
async function uapiConsumer(mode: number, request: TrafficRequest): Promise<{ result: TrafficResult; tally: UapiTally }> {
  // The last test's zero-copy session stopped RX to leave, and QEMU's e1000 takes no frame for
  // 1 s after any write of its receive control register (hardware: about 10 ms).
  await sleep(RCTL_HOLD_MS);
  const child = spawn(RING_CONSUMER, [DEV, String(mode), '1024', '2048'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  while (!out.includes('\n')) await sleep(10);
  expect(out.trim()).toBe('bound');
  const result = await traffic.send(request);
  // Until the NIC is idle: the last frames are in the ring.
  await sleep(1000);
  child.stdin.end();
  expect(await exited).toBe(0);
  return { result, tally: JSON.parse(out.split('\n')[1]) as UapiTally };
}

driverAgnostic('a consumer of the UAPI alone (C, test/helpers/ring-consumer.c)', () => {
  // Entering zero-copy used to reset the e1000: the link renegotiated, and the second of frames
  // that followed every bind was lost at the host's socket (8 to 11% of a 5 to 10 s run).
  test.each([
    ['zero-copy', fastnet.MODES.zerocopy],
    ['ring', fastnet.MODES.ring],
  ])('%s, frames sent the moment it is bound: every sequence number arrives, once, in order, intact', async (_name, mode) => {
    const { result, tally } = await uapiConsumer(mode, { size: 64, count: 3000, rate: 1000 });
    console.log(`uapi consumer, mode ${mode}: sent ${result.sent}, host dropped ${result.hostDropped}; ${JSON.stringify(tally)}`);
    expect(result.id).toBe(tally.id);
    expect({ first: tally.first, last: tally.last, missing: tally.last - tally.first + 1 - tally.distinct }).toEqual({
      first: 0,
      last: result.sent - 1,
      missing: 0,
    });
    expect({ duplicates: tally.duplicates, disorder: tally.disorder, damaged: tally.damaged }).toEqual({
      duplicates: 0,
      disorder: 0,
      damaged: 0,
    });
    expect(tally.delivered - tally.other).toBe(result.sent);
    expect(result.hostDropped + tally.dropped + tally.missed).toBe(0);
  });
});

/** Runs a command of the guest (ethtool, ip), throwing with its stderr if it fails. */
function run(command: string, ...args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Frames the session takes while nobody hands a slot back: every slot the NIC holds, filled. */
async function capacity(session: fastnet.Session): Promise<number> {
  // What QEMU still held from an earlier run (after its 1 s hold that follows a reset) comes first.
  await sleep(RCTL_HOLD_MS);
  await quiet(session);
  session.ring.drain();
  const before = session.stats().delivered;
  const sent = await traffic.send({ size: 200, count: 1500, rate: 3000 });
  const after = (await quiet(session)).delivered;
  const held = session.ring.drain();
  const seen: Seen = { frames: 0, stale: 0, replies: 0, bad: [], lastSeq: -1 };
  check(held, sent.id, 200, seen);
  expect(seen.bad.slice(0, 5)).toEqual([]);
  // What QEMU still queues from this run goes at the next call's start, or in capture()'s count
  // of stale frames.
  return after - before;
}

describe(`resets of the ${DRIVER} in zero-copy`, () => {
  // Each path empties the NIC's ring (e1000_down, or close and open for the self-test; virtio-net's
  // queue reset for a resize); the slots it held used to be forgotten, so a 256-slot session
  // captured nothing after one reset.
  const linkDownUp: [string, string[][]] = [
    'ip link set down, then up, twice',
    [['ip', 'link', 'set', DEV, 'down'], ['ip', 'link', 'set', DEV, 'up'], ['ip', 'link', 'set', DEV, 'down'], ['ip', 'link', 'set', DEV, 'up']],
  ];
  const resets: [string, string[][]][] =
    NIC === 'virtio'
      ? [linkDownUp, ['ethtool -G rx 128, then 256 (a queue reset each)', [['ethtool', '-G', DEV, 'rx', '128'], ['ethtool', '-G', DEV, 'rx', '256']]]]
      : [
          linkDownUp,
          ['ethtool -r (the tx-timeout reset path)', [['ethtool', '-r', DEV]]],
          ['ethtool -G rx 512, then 256 (ring resize)', [['ethtool', '-G', DEV, 'rx', '512'], ['ethtool', '-G', DEV, 'rx', '256']]],
          ['ethtool -K rx off, then on', [['ethtool', '-K', DEV, 'rx', 'off'], ['ethtool', '-K', DEV, 'rx', 'on']]],
          ['ethtool -t offline (the self-test closes and opens the device)', [['ethtool', '-t', DEV, 'offline']]],
        ];

  test('after each reset path the NIC gets every slot back and captures as much as before, frames intact', async () => {
    const slots = 256;
    using session = fastnet.open().bind(DEV, 'zerocopy', { slots });
    await takeOverDone(session);
    const before = await capacity(session);
    expect(before).toBe(slots - TAIL_RESERVE);
    for (const [name, commands] of resets) {
      for (const [command, ...args] of commands) {
        // The self-test's verdict is QEMU's, not ours: only that it ran.
        if (args[0] === '-t') spawnSync(command, args);
        else run(command, ...args);
      }
      await waitForCarrier(DEV);
      expect({ reset: name, capacity: await capacity(session) }).toEqual({ reset: name, capacity: before });
    }
    const { result, seen, stats } = await capture(session, { size: 100, count: 1000, rate: 1000 });
    expect(seen.bad).toEqual([]);
    expect(seen.frames - seen.stale - seen.replies).toBe(result.sent - result.hostDropped);
    expect(stats.dropped).toBe(0);
  });

  // The helper holds RTNL with userfaultfd, which the debug kernel's config leaves out; fastnet's
  // alone, whatever the driver (the e1000's boot).
  const withUserfaultfd = fs.existsSync('/proc/sys/vm/unprivileged_userfaultfd') && NIC === 'e1000' ? test : test.skip;
  withUserfaultfd('statistics do not wait for RTNL: FASTNET_STATS returns while another task holds it', async () => {
    using session = fastnet.open().bind(DEV, 'zerocopy', { slots: 256 });
    // Holds RTNL until its input closes (or for 20 s), like any `ip` command that takes long.
    const holder = spawn(RTNL_HOLD, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    try {
      const line = await new Promise<string>((resolve) => holder.stdout.once('data', (d: Buffer) => resolve(d.toString())));
      expect(line.trim()).toBe('holding');
      const stats = session.stats();
      // The holder is still holding, not done (a zombie): STATS did not wait for RTNL.
      const state = fs.readFileSync(`/proc/${holder.pid}/stat`, 'utf8').split(') ')[1][0];
      expect({ state, missed: stats.nicMissed }).toEqual({ state: 'S', missed: 0 });
    } finally {
      holder.stdin.end();
      await exited;
    }
  });
});

driverAgnostic('another rx_handler on the zero-copy device', () => {
  test('a bridge port cannot enter zero-copy, and a device in zero-copy cannot join a bridge (EBUSY)', () => {
    modprobe('bridge');
    ip('link', 'add', 'zcbr0', 'type', 'bridge');
    try {
      {
        using session = fastnet.open().bind(DEV, 'zerocopy', { slots: 256 });
        expect(() => ip('link', 'set', DEV, 'master', 'zcbr0')).toThrow(/busy/i);
      }
      ip('link', 'set', DEV, 'master', 'zcbr0');
      try {
        using session = fastnet.open();
        expect(() => session.bind(DEV, 'zerocopy', { slots: 256 })).toThrow(code('EBUSY'));
      } finally {
        ip('link', 'set', DEV, 'nomaster');
      }
    } finally {
      ip('link', 'del', 'zcbr0');
    }
  });
});

e1000Only("the driver's own path with rx-all", () => {
  // The NIC is told its buffers are 2048 bytes (BSIZE) and, with rx-all (SBP), stores a long
  // frame whole; the shipped driver mapped only 1522 bytes of each, so a longer frame was written
  // past its buffer: DMAR faults here (the guest has QEMU's IOMMU), memory corruption without.
  test('frames of 1600 to 2048 bytes land in buffers mapped for them: no DMA fault, the stack counts them', async () => {
    const dmesgBefore = run('dmesg').split('\n').length;
    const rxBefore = Number(fs.readFileSync(`/sys/class/net/${DEV}/statistics/rx_packets`, 'utf8'));
    run('ethtool', '-K', DEV, 'rx-all', 'on');
    try {
      await waitForCarrier(DEV);
      await sleep(1500); // QEMU's e1000 takes nothing for 1 s after a receive-control write
      for (const size of [1600, 2000, 2044]) await traffic.send({ size, count: 200, rate: 1000 });
      await sleep(500);
    } finally {
      run('ethtool', '-K', DEV, 'rx-all', 'off');
    }
    const rx = Number(fs.readFileSync(`/sys/class/net/${DEV}/statistics/rx_packets`, 'utf8')) - rxBefore;
    const log = run('dmesg').split('\n').slice(dmesgBefore - 1).join('\n');
    expect(log).not.toMatch(/DMAR|DMA Write|general protection|BUG|WARNING/);
    expect(rx).toBeGreaterThanOrEqual(600);
    await waitForCarrier(DEV);
    expect(pings()).toBe(true);
  });
});

describe('leaving zero-copy', () => {
  const CYCLES = rounds(100, 15);
  test(`enter and leave ${CYCLES} times under traffic: no leak, no warning, and the interface pings afterwards`, async () => {
    const cycle = () => {
      using session = fastnet.open().bind(DEV, 'zerocopy', { slots: 512 });
      session.ring.drain();
    };
    const sending = traffic.send({ size: 128, count: 10_000_000, rate: 3000 });
    try {
      for (let i = 0; i < 3; i++) cycle();
      await settleMemory();
      const before = memorySnapshot();
      const started = Date.now();
      for (let i = 0; i < CYCLES; i++) cycle();
      const ms = Date.now() - started;
      await settleMemory();
      const after = memorySnapshot();
      console.log(
        `zero-copy: ${CYCLES} enter/leave cycles under traffic in ${ms} ms; Slab ${after.slab - before.slab} KiB, ` +
          `available (adjusted) ${after.available - before.available} KiB`,
      );
      expect(after.slab - before.slab).toBeLessThan(1024);
      expect(before.available - after.available).toBeLessThan(4096);
    } finally {
      traffic.stop();
      await sending;
    }
    await waitForCarrier(DEV);
    expect(pings()).toBe(true);
  });

  test('the process dies in zero-copy: the device is back to normal', async () => {
    const child = spawn(FASTNET_BIND, [DEV, String(fastnet.MODES.zerocopy)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    expect(line.trim()).toBe('bound');
    const sending = traffic.send({ size: 100, count: 2000, rate: 2000 });
    await sleep(300);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    await sending;
    await waitForCarrier(DEV);
    expect(pings()).toBe(true);
    // And the device takes a new zero-copy session.
    using session = fastnet.open().bind(DEV, 'zerocopy', { slots: 256 });
    const { seen } = await capture(session, { size: 100, count: 500, rate: 1000 });
    expect(seen.frames).toBeGreaterThan(0);
    expect(seen.bad).toEqual([]);
  });

  test('link down and up in zero-copy: the NIC is re-armed from the ring and capture goes on', async () => {
    using session = fastnet.open().bind(DEV, 'zerocopy', { slots: 1024 });
    const before = await capture(session, { size: 100, count: 500, rate: 1000 });
    expect(before.seen.bad).toEqual([]);
    ip('link', 'set', DEV, 'down');
    ip('link', 'set', DEV, 'up');
    await waitForCarrier(DEV);
    const { result, seen, stats } = await capture(session, { size: 100, count: 1000, rate: 1000 });
    expect(seen.bad).toEqual([]);
    expect(seen.frames).toBeGreaterThan(0);
    expect(stats.delivered + stats.dropped + stats.nicMissed + before.result.hostDropped + result.hostDropped).toBe(
      before.result.sent + result.sent + before.seen.replies + seen.replies,
    );
  });

  test('the device is removed while bound: ENODEV, the zone stays readable; it comes back and pings', async () => {
    // The PCI function: virtio-net's device is the virtio device on top of it.
    const netDevice = fs.realpathSync(`/sys/class/net/${DEV}/device`);
    const pciDevice = NIC === 'virtio' ? path.dirname(netDevice) : netDevice;
    const session = fastnet.open().bind(DEV, 'zerocopy', { slots: 256 });
    try {
      await capture(session, { size: 100, count: 300, rate: 1000 });
      const sending = traffic.send({ size: 100, count: 2000, rate: 2000 });
      await sleep(300);
      fs.writeFileSync(path.join(pciDevice, 'remove'), '1');
      await sending;
      expect(() => session.stats()).toThrow(code('ENODEV'));
      expect(session.ring.zone.readUInt32LE(0)).toBe(0x46524e47); // "FRNG", still mapped
    } finally {
      session.close();
    }
    fs.writeFileSync('/sys/bus/pci/rescan', '1');
    const deadline = Date.now() + 20_000;
    while (!fs.existsSync(`/sys/class/net/${DEV}`) && Date.now() < deadline) await sleep(100);
    await setupGuestLink(DEV);
    expect(pings()).toBe(true);
  });

  test(`unloading: fastnet refuses while ${DRIVER} uses it; ${DRIVER} goes (the session sees ENODEV) and comes back`, async () => {
    using session = fastnet.open().bind(DEV, 'zerocopy', { slots: 256 });
    expect(() => kmod.unloadModule('fastnet')).toThrow(code('EAGAIN'));
    kmod.unloadModule(DRIVER);
    expect(() => session.stats()).toThrow(code('ENODEV'));
    session.close();
    kmod.loadModule(DRIVER);
    const deadline = Date.now() + 20_000;
    while (!fs.existsSync(`/sys/class/net/${DEV}`) && Date.now() < deadline) await sleep(100);
    await setupGuestLink(DEV);
    expect(pings()).toBe(true);
  });
});
