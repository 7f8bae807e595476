// fastnet's filters (FASTNET_SET_FILTER) in the copy modes, against the real module. The frames of
// the classic BPF corpus (test/bpf-corpus.ts: VLAN and QinQ, IPv6, fragments, frames cut inside
// their headers, odd lengths...) go out of a veth peer byte for byte (netsend raw, AF_PACKET); for
// every expression of the corpus, compiled by libpcap with one of three snap lengths, the frames
// fastnet delivers and their lengths must be those libpcap's pcap_offline_filter() gives on the
// frames as the rx_handler sees them. Then: replacing and removing programs while pktgen runs,
// a program attached before bind, bad programs refused while the previous one keeps working,
// and the counters. Zero-copy's filters are tested with host traffic in fastnet-zerocopy.test.ts.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';

import { openCapture } from '../../lib/capture';
import * as fastnet from '../../lib/fastnet';
import { native } from '../../lib/native';
import { VethPair, pktgenReset, pktgenRunAsync, pktgenSent, pktgenSetup, pktgenStop } from '../../lib/traffic';
import { BAD_PROGRAMS, EXPRESSIONS, FRAMES, RET_A, RET_K, SKB_ONLY, SKF_AD_OFF, LD_H_ABS, type Insn } from '../bpf-corpus';

const NETSEND = path.join(__dirname, '..', '..', 'out', 'bin', 'netsend');
const DEV = 'flt0';
const PEER = 'flt1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const program = (insns: Insn[]): fastnet.BpfInstruction[] => insns.map(([code, jt, jf, k]) => ({ code, jt, jf, k }));
/** Snap lengths the expressions are compiled with, in turn: whole frames, and two that cut some. */
const SNAPS = [262144, 96, 61];

/** A frame of the corpus as sent, and as fastnet's handler gets it (the stack strips a VLAN tag first). */
interface CorpusFrame {
  name: string;
  sent: Buffer;
  seen: Buffer;
}

let veth: VethPair;
let dir: string;
let framesFile: string;
/** The frames that reach the handler, in order. */
let corpus: CorpusFrame[];
/** The frames the stack dropped before any rx_handler (a VLAN tag cut short). */
let lost: string[];

/** netsend raw-rounds: one process for the whole file, which sends the corpus each time it is asked. */
let sender: ChildProcessWithoutNullStreams;
let answers: AsyncIterator<string>;

/** Sends the corpus out of the peer, in order, from one CPU; resolves once all is sent. */
async function sendCorpus(): Promise<void> {
  sender.stdin.write('send\n');
  const answer = await answers.next();
  expect(answer.value).toMatch(/^sent \d+$/);
}

/** Waits until the handler has seen `count` more frames than `before` (received or filtered). */
async function settle(session: fastnet.Session, before: fastnet.Stats, count: number): Promise<fastnet.Stats> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const now = session.stats();
    const seen = now.received + now.filtered - before.received - before.filtered;
    if (seen >= count || Date.now() > deadline) {
      expect(seen).toBe(count);
      return now;
    }
    await sleep(5);
  }
}

/** What a program does to each corpus frame: its snap length (0: rejected), as libpcap runs it. */
function expected(bytes: Buffer): number[] {
  return corpus.map((f) => Math.min(native.capture.offlineFilter(bytes, f.seen), f.seen.length));
}

interface Delivered {
  data: Buffer;
  originalLength: number;
  truncated: boolean;
}

/** The differences between the frames delivered and the frames the snap lengths say, by name. */
function compare(label: string, snaps: number[], delivered: Delivered[]): string[] {
  const want = corpus.flatMap((f, i) => (snaps[i] ? [{ name: f.name, data: f.seen.subarray(0, snaps[i]), orig: f.seen.length }] : []));
  const problems: string[] = [];
  if (delivered.length !== want.length) problems.push(`${label}: ${delivered.length} frames delivered, ${want.length} expected`);
  for (let i = 0; i < Math.min(delivered.length, want.length); i++) {
    const got = delivered[i];
    const w = want[i];
    if (!got.data.equals(w.data) || got.originalLength !== w.orig || got.truncated !== w.data.length < w.orig) {
      problems.push(`${label}: frame ${i} should be ${w.name} (${w.data.length} of ${w.orig} bytes), got ${got.data.length} of ${got.originalLength}`);
      break;
    }
  }
  return problems;
}

/** One round: the filter set, the corpus sent, what the session delivered compared with libpcap. */
async function round(session: fastnet.Session, label: string, bytes: Buffer): Promise<{ problems: string[]; snaps: number[] }> {
  session.setFilter(fastnet.decodeProgram(bytes));
  const before = session.stats();
  await sendCorpus();
  const after = await settle(session, before, corpus.length);
  const snaps = expected(bytes);
  const accepted = snaps.filter((s) => s > 0).length;
  const problems: string[] = [];
  if (after.filtered - before.filtered !== corpus.length - accepted || after.received - before.received !== accepted) {
    problems.push(`${label}: received ${after.received - before.received}, filtered ${after.filtered - before.filtered}; ` +
      `libpcap accepts ${accepted} of ${corpus.length}`);
  }
  if (session.mode === 'drop') return { problems, snaps };
  const delivered: Delivered[] = [];
  if (session.mode === 'ring') {
    for (const p of session.ring.drain()) delivered.push({ ...p, data: Buffer.from(p.data) });
  } else {
    for (const p of session.readBatch(4096, 65536)) delivered.push({ ...p, data: Buffer.from(p.data) });
  }
  return { problems: [...problems, ...compare(label, snaps, delivered)], snaps };
}

/** The corpus's expressions, each compiled with its snap length (the one the optimizer refuses: `ret #0`). */
function programs(): { label: string; bytes: Buffer }[] {
  return EXPRESSIONS.map((expression, i) => {
    const snap = SNAPS[i % SNAPS.length];
    const label = `'${expression}' (snap ${snap})`;
    try {
      return { label, bytes: fastnet.encodeProgram(fastnet.compileFilter(expression, snap)) };
    } catch (error) {
      expect([expression, (error as Error).message]).toEqual(['ip and not ip', expect.stringContaining('expression rejects all packets')]);
      return { label: `${label}: ret #0`, bytes: fastnet.encodeProgram(program([[RET_K, 0, 0, 0]])) };
    }
  });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastnet-filter-'));
  veth = new VethPair(DEV, PEER);
  // AF_PACKET sends whole Ethernet headers at least (14 bytes), up to the MTU.
  const sendable = FRAMES.filter(([, frame]) => frame.length >= 14 && frame.length <= 1514);
  framesFile = path.join(dir, 'frames.txt');
  fs.writeFileSync(framesFile, sendable.map(([, frame]) => `${frame.toString('hex')}\n`).join(''));
  sender = spawn(NETSEND, ['raw-rounds', PEER, framesFile], { stdio: ['pipe', 'pipe', 'inherit'] });
  answers = readline.createInterface({ input: sender.stdout })[Symbol.asyncIterator]();

  // Unfiltered, once: which frames reach the handler, and with which bytes.
  using session = fastnet.open().bind(DEV, 'ring', { slots: 1024 });
  await sendCorpus();
  const seen: Buffer[] = [];
  const deadline = Date.now() + 20_000;
  let quietSince = Date.now();
  while (Date.now() - quietSince < 500 && Date.now() < deadline) {
    const batch = session.ring.drain();
    for (const p of batch) seen.push(Buffer.from(p.data));
    if (batch.count) quietSince = Date.now();
    await sleep(20);
  }
  corpus = [];
  lost = [];
  const untagged = (f: Buffer) => Buffer.concat([f.subarray(0, 12), f.subarray(16)]);
  for (const [name, sent] of sendable) {
    const next = seen[corpus.length];
    if (next && (next.equals(sent) || next.equals(untagged(sent)))) corpus.push({ name, sent, seen: next });
    else lost.push(name);
  }
  expect(corpus.length).toBe(seen.length);
  expect(session.stats()).toMatchObject({ received: corpus.length, filtered: 0, dropped: 0 });
}, 120_000);

afterAll(() => {
  sender?.stdin.end();
  veth?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the corpus through a veth', () => {
  test('every frame reaches the handler but those the stack drops first; a VLAN tag arrives stripped (skb_vlan_untag)', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(60);
    // A tag cut short cannot be stripped, so the stack drops the frame before any rx_handler.
    expect(lost).toContain('cut-in-vlan-tag');
    expect(lost.filter((name) => !name.startsWith('random-') && name !== 'cut-in-vlan-tag')).toEqual([]);
    const byName = new Map(corpus.map((f) => [f.name, f]));
    for (const name of ['vlan100-udp4', 'vlan300-udp6', 'qinq-udp4', 'vlan100-arp']) {
      const f = byName.get(name)!;
      expect({ name, seen: f.seen.length }).toEqual({ name, seen: f.sent.length - 4 });
    }
    // QinQ: the outer tag goes, the inner one stays in the frame.
    expect(byName.get('qinq-udp4')!.seen.readUInt16BE(12)).toBe(0x8100);
    for (const name of ['udp6-hbh', 'frag4-middle', 'cut-in-udp-header', 'udp4-len-61', 'udp4-len-1514', 'llc-stp']) {
      expect(byName.get(name)!.seen.equals(byName.get(name)!.sent)).toBe(true);
    }
  });
});

describe('verdicts and snap lengths: the kernel\'s classic BPF on the skb equals libpcap\'s on the bytes', () => {
  test('mode ring: every expression of the corpus, every frame', async () => {
    using session = fastnet.open().bind(DEV, 'ring', { slots: 1024 });
    const all = programs();
    expect(all.length).toBeGreaterThanOrEqual(40);
    const problems: string[] = [];
    let pairs = 0;
    let accepted = 0;
    let cut = 0;
    for (const { label, bytes } of all) {
      const r = await round(session, label, bytes);
      problems.push(...r.problems);
      pairs += corpus.length;
      accepted += r.snaps.filter((s) => s > 0).length;
      cut += r.snaps.filter((s, i) => s > 0 && s < corpus[i].seen.length).length;
    }
    expect(problems).toEqual([]);
    // The corpus exercises all three outcomes.
    expect(accepted).toBeGreaterThan(pairs / 10);
    expect(accepted).toBeLessThan(pairs * 0.9);
    expect(cut).toBeGreaterThan(100);
    const stats = session.stats();
    expect(stats.received).toBe(stats.delivered);
    expect(stats.dropped).toBe(0);
    expect(stats.received + stats.filtered).toBe(all.length * corpus.length);
    // Cut by the program: delivered shorter, counted as truncated.
    expect(stats.truncated).toBe(cut);
  });

  test('mode read (every third expression): read() returns the snap length and the frame\'s length', async () => {
    using session = fastnet.open().bind(DEV, 'read', { queueLength: 4096 });
    const problems: string[] = [];
    for (const [i, { label, bytes }] of programs().entries()) {
      if (i % 3 === 1) problems.push(...(await round(session, label, bytes)).problems);
    }
    expect(problems).toEqual([]);
    const stats = session.stats();
    expect(stats.received).toBe(stats.delivered);
    expect(stats.truncated).toBeGreaterThan(0);
  });

  test('mode drop (every fifth expression): received counts what the program keeps, filtered the rest', async () => {
    using session = fastnet.open().bind(DEV, 'drop');
    const problems: string[] = [];
    for (const [i, { label, bytes }] of programs().entries()) {
      if (i % 5 === 0) problems.push(...(await round(session, label, bytes)).problems);
    }
    expect(problems).toEqual([]);
    expect(session.stats()).toMatchObject({ delivered: 0, dropped: 0, truncated: 0 });
  });
});

describe('programs', () => {
  test('a program attached before bind filters from the first frame; a failed bind keeps the filter the session had', async () => {
    using session = fastnet.open();
    expect(session.filter).toBeNull();
    session.setFilter('udp port 53');
    expect(session.filter).toEqual(fastnet.compileFilter('udp port 53'));
    // ENODEV: the filter the bind brought is taken back, the earlier one put back.
    expect(() => session.bind('nosuchdev0', 'ring', { filter: 'tcp' })).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    expect(session.filter).toEqual(fastnet.compileFilter('udp port 53'));
    session.bind(DEV, 'ring');
    const bytes = fastnet.encodeProgram(session.filter!);
    const before = session.stats();
    await sendCorpus();
    await settle(session, before, corpus.length);
    const delivered = [...session.ring.drain()].map((p) => ({ ...p, data: Buffer.from(p.data) }));
    expect(compare('udp port 53 before bind', expected(bytes), delivered)).toEqual([]);
    expect(delivered.length).toBeGreaterThan(3);

    // bind({ filter }) attaches it first, as setFilter() would.
    using other = fastnet.open().bind(PEER, 'drop', { filter: [{ code: RET_K, jt: 0, jf: 0, k: 0 }] });
    expect(other.filter).toEqual([{ code: RET_K, jt: 0, jf: 0, k: 0 }]);
  });

  test('bad programs: EINVAL naming the instruction and the rule, and the session keeps its program', async () => {
    using session = fastnet.open().bind(DEV, 'ring', { filter: 'udp' });
    const udp = fastnet.compileFilter('udp');
    const refusals: unknown[] = [];
    for (const [name, insns, why, at] of BAD_PROGRAMS) {
      if (name === 'empty') {
        // Not a program: null detaches; the library refuses [] before the kernel.
        expect(() => session.setFilter([])).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
        continue;
      }
      let error: NodeJS.ErrnoException & { reason?: string } = new Error('accepted');
      try {
        session.setFilter(program(insns));
      } catch (e) {
        error = e as typeof error;
      }
      if (SKB_ONLY.includes(name)) {
        // Loads of skb data: the copy modes run programs on skbs, as SO_ATTACH_FILTER does.
        expect({ name, message: error.message }).toEqual({ name, message: 'accepted' });
        session.setFilter(udp);
        continue;
      }
      const reason = name === 'too-long' ? '4097 instructions: more than BPF_MAXINSNS (4096)' :
        name === 'ancillary-unknown' ? `instruction 0 of 2: unknown ancillary load (SKF_AD_OFF + n)` :
        `instruction ${at} of ${insns.length}: ${why}`;
      refusals.push({ name, code: error.code, errno: error.errno, syscall: error.syscall, path: error.path, reason: error.reason });
      expect({ name, code: error.code, errno: error.errno, syscall: error.syscall, path: error.path, reason: error.reason }).toEqual({
        name,
        code: 'EINVAL',
        errno: -22,
        syscall: 'ioctl',
        path: '/dev/fastnet',
        reason: `setting a filter of ${insns.length} instructions: ${reason}`,
      });
      expect(session.filter).toEqual(udp);
    }
    expect(refusals.length).toBeGreaterThanOrEqual(20);

    // The same verdicts as the kernel's own check (bpf_check_classic) on a packet socket (SO_ATTACH_FILTER).
    for (const [name, insns] of BAD_PROGRAMS) {
      if (name === 'empty') continue;
      let code = 'accepted';
      try {
        openCapture('socket', PEER, { filter: program(insns) }).close();
      } catch (e) {
        code = `${(e as NodeJS.ErrnoException).code} ${(e as NodeJS.ErrnoException).syscall}`;
      }
      expect({ name, code }).toEqual({ name, code: SKB_ONLY.includes(name) ? 'accepted' : 'EINVAL setsockopt' });
    }

    // Still the first program, whole, on every frame.
    const before = session.stats();
    await sendCorpus();
    await settle(session, before, corpus.length);
    const delivered = [...session.ring.drain()].map((p) => ({ ...p, data: Buffer.from(p.data) }));
    expect(compare('udp after the refusals', expected(fastnet.encodeProgram(udp)), delivered)).toEqual([]);

    // The kernel says why too, in its log.
    const log = spawnSync('dmesg', { encoding: 'utf8' }).stdout;
    expect(log).toContain('fastnet: FASTNET_SET_FILTER: [ERROR]: 4097 instructions: more than BPF_MAXINSNS (4096)');
    expect(log).toContain('fastnet: FASTNET_SET_FILTER: [ERROR]: instruction 1 of 3: unknown opcode');
  });

  test('an ancillary load runs on the skb in a copy mode: SKF_AD_PROTOCOL is the EtherType the stack parsed', async () => {
    // Keep the IPv6 frames (skb->protocol 0x86dd, VLAN ones included once untagged), whole.
    const protocolIs6 = program([[LD_H_ABS, 0, 0, SKF_AD_OFF + 0], [0x15, 0, 1, 0x86dd], [RET_K, 0, 0, 65535], [RET_K, 0, 0, 0]]);
    using session = fastnet.open().bind(DEV, 'ring', { filter: protocolIs6 });
    const before = session.stats();
    await sendCorpus();
    await settle(session, before, corpus.length);
    const delivered = [...session.ring.drain()].map((p) => Buffer.from(p.data));
    const ipv6 = corpus.filter((f) => f.seen.readUInt16BE(12) === 0x86dd);
    expect(ipv6.map((f) => f.name)).toContain('vlan300-udp6');
    expect(delivered).toEqual(ipv6.map((f) => f.seen));
  });

  test('replaced and removed 200 times while pktgen runs: every frame sees one whole program', async () => {
    const PROGRAMS: (fastnet.Filter | null)[] = [
      'udp port 9', // everything pktgen sends
      'udp port 10', // nothing
      program([[RET_K, 0, 0, 60]]), // every frame cut to 60 bytes
      null, // no filter: whole frames
      fastnet.compileFilter('udp', 62), // whole frames cut to 62
      program([[0x80, 0, 0, 0], [RET_A, 0, 0, 0]]), // ret len
    ];
    using session = fastnet.open().bind(DEV, 'ring', { slots: 4096 });
    pktgenSetup({ device: DEV, count: 0, size: 64, dstMac: veth.mac, src: '10.88.0.1', dst: '10.88.0.2', rate: 5000 });
    const sending = pktgenRunAsync();
    const lengths = new Map<number, number>();
    let frames = 0;
    // From the batch's metadata (length, original length, flags): no object per frame.
    const take = () => {
      const { count, meta } = session.ring.drain();
      for (let i = 0; i < count; i++) {
        const [length, original, flags] = meta.subarray(i * 6 + 1, i * 6 + 4);
        if (original !== 64 || (flags === 1) !== length < 64) lengths.set(-1, (lengths.get(-1) ?? 0) + 1);
        lengths.set(length, (lengths.get(length) ?? 0) + 1);
      }
      frames += count;
    };
    try {
      for (let i = 0; i < 200; i++) {
        session.setFilter(PROGRAMS[i % PROGRAMS.length]);
        await sleep(3);
        take();
      }
    } finally {
      pktgenStop();
      await sending;
    }
    const sent = pktgenSent(DEV);
    pktgenReset();
    await sleep(200);
    take();
    const stats = session.stats();
    expect(stats.received + stats.filtered).toBe(sent);
    expect(stats.received).toBe(stats.delivered + stats.dropped);
    expect(frames).toBe(stats.delivered);
    expect(stats.filtered).toBeGreaterThan(0);
    expect(lengths.get(-1)).toBeUndefined();
    expect([...lengths.keys()].sort()).toEqual([60, 62, 64]);
    expect(stats.truncated).toBe((lengths.get(60) ?? 0) + (lengths.get(62) ?? 0));
    // The last one set: 199 % 6.
    expect(session.filter).toEqual(fastnet.compileFilter('udp port 10'));
  });

  test('openCapture: the fastnet methods take the filter option (an expression with the snap length, or a program)', async () => {
    using ring = openCapture('fastnet-read', DEV, { filter: 'ip6 or arp', snapLength: 50 });
    const bytes = fastnet.filterBytes('filter', 'ip6 or arp', 50);
    const before = ring.stats().detail;
    await sendCorpus();
    const snaps = expected(bytes);
    const want = snaps.filter((s) => s > 0).length;
    let got = 0;
    let truncated = 0;
    const deadline = Date.now() + 20_000;
    while (got < want && Date.now() < deadline) {
      const batch = await ring.countBatchAsync(1000);
      got += batch.frames;
    }
    snaps.forEach((s, i) => {
      if (s > 0 && s < corpus[i].seen.length) truncated++;
    });
    expect(got).toBe(want);
    const detail = ring.stats().detail;
    expect(detail.filtered - before.filtered).toBe(corpus.length - want);
    expect(detail.truncated - before.truncated).toBe(truncated);
  });

  test('the device gone: setFilter() gives the kernel\'s ENODEV; closing a session with a filter frees it (kmemleak)', () => {
    const gone = new VethPair('fltgone0', 'fltgone1');
    using session = fastnet.open().bind(gone.name, 'read', { filter: 'udp' });
    gone.close();
    expect(() => session.setFilter('tcp')).toThrow(expect.objectContaining({ code: 'ENODEV', reason: expect.stringContaining('is gone') }));
    expect(() => session.setFilter(null)).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    // Sessions closed with a filter, bound or not, in every copy mode: kmemleak checks the run.
    for (const mode of ['drop', 'read', 'ring'] as const) {
      fastnet.open().setFilter('tcp port 80').bind(DEV, mode).close();
      fastnet.open().setFilter('udp').close();
    }
  });
});
