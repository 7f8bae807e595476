// fastnet's classic BPF (kmod/fastnet/fastnet_bpf.c: the validator and the interpreter zero-copy
// mode runs on frames without an skb), built on the host into test/helpers/bpf-verdicts.c and
// compared with libpcap: every tcpdump expression of the corpus, compiled by pcap_compile
// (optimized and not), must pass fastnet_bpf_check() and give on every frame of the corpus the
// verdict and snap length pcap_offline_filter() gives. Hand-written programs then cover what
// pcap_compile never emits: bad programs refused with the kernel's rule, and the two places where
// the kernel and libpcap disagree (docs/fastnet.md, "Filters in zero-copy mode").
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const TOOL = path.join(ROOT, 'out', 'unit', 'bpf-verdicts');
const SNAPLEN = 262144;

// ---------------------------------------------------------------------------------------------
// Frames, built byte by byte.

const mac = (s: string) => Buffer.from(s.split(':').map((b) => parseInt(b, 16)));
const ip4 = (s: string) => Buffer.from(s.split('.').map(Number));
function ip6(s: string): Buffer {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const words = (part: string) => (part ? part.split(':').map((w) => parseInt(w, 16)) : []);
  const h = words(head);
  const t = tail === undefined ? [] : words(tail);
  const all = [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(w, 2 * i));
  return b;
}
const u16 = (v: number) => Buffer.from([v >> 8, v & 0xff]);
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

const A = mac('02:00:00:00:00:01');
const B = mac('02:00:00:00:00:02');
const BROADCAST = mac('ff:ff:ff:ff:ff:ff');

function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2) sum += b[b.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

/** An Ethernet frame; each VLAN tag is [TPID, VID]. */
function eth(dst: Buffer, src: Buffer, type: number, payload: Buffer, vlans: [number, number][] = []): Buffer {
  return Buffer.concat([dst, src, ...vlans.map(([tpid, vid]) => Buffer.concat([u16(tpid), u16(vid)])), u16(type), payload]);
}

interface Ip4Options {
  src: string;
  dst: string;
  proto: number;
  ttl?: number;
  id?: number;
  moreFragments?: boolean;
  fragOffset?: number; // in 8-byte units
  options?: Buffer;
  version?: number;
}
function ipv4(o: Ip4Options, payload: Buffer): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const h = Buffer.alloc(20);
  h[0] = ((o.version ?? 4) << 4) | ((20 + opts.length) / 4);
  h.writeUInt16BE(20 + opts.length + payload.length, 2);
  h.writeUInt16BE(o.id ?? 1, 4);
  h.writeUInt16BE((o.moreFragments ? 0x2000 : 0) | (o.fragOffset ?? 0), 6);
  h[8] = o.ttl ?? 64;
  h[9] = o.proto;
  ip4(o.src).copy(h, 12);
  ip4(o.dst).copy(h, 16);
  const header = Buffer.concat([h, opts]);
  header.writeUInt16BE(checksum(header), 10);
  return Buffer.concat([header, payload]);
}
const udp = (sport: number, dport: number, payload: Buffer) =>
  Buffer.concat([u16(sport), u16(dport), u16(8 + payload.length), u16(0), payload]);
const TCP = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 };
function tcp(sport: number, dport: number, flags: number, payload = Buffer.alloc(0), options = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(1000, 4);
  h.writeUInt32BE(flags & TCP.ACK ? 2000 : 0, 8);
  h[12] = ((20 + options.length) / 4) << 4;
  h[13] = flags;
  h.writeUInt16BE(65535, 14);
  return Buffer.concat([h, options, payload]);
}
const icmp = (type: number, code: number, payload: Buffer) => Buffer.concat([Buffer.from([type, code, 0, 0]), payload]);
function ipv6(src: string, dst: string, next: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(payload.length, 4);
  h[6] = next;
  h[7] = 64;
  ip6(src).copy(h, 8);
  ip6(dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}
function arp(op: number, sha: Buffer, spa: string, tha: Buffer, tpa: string): Buffer {
  return Buffer.concat([u16(1), u16(0x0800), Buffer.from([6, 4]), u16(op), sha, ip4(spa), tha, ip4(tpa)]);
}
const bytes = (n: number, seed = 0) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));
/** A UDP frame of exactly `total` bytes. */
const udpFrameOfLength = (total: number) =>
  eth(B, A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17 }, udp(5000, 6000, bytes(total - 42))));

const frames: [string, Buffer][] = [];
const add = (name: string, frame: Buffer) => frames.push([name, frame]);

const dnsQuery = Buffer.concat([u32(0xdeadbeef), Buffer.from('query')]);
add('udp4-dns', eth(B, A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17 }, udp(1234, 53, dnsQuery))));
add('udp4-dns-reply', eth(A, B, 0x0800, ipv4({ src: '10.0.0.2', dst: '10.0.0.1', proto: 17 }, udp(53, 1234, bytes(30)))));
add('udp4-discard', eth(B, A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17 }, udp(9, 9, bytes(18)))));
add('tcp4-syn', eth(B, A, 0x0800, ipv4({ src: '10.0.0.1', dst: '192.168.1.1', proto: 6 }, tcp(40000, 80, TCP.SYN))));
add('tcp4-synack', eth(A, B, 0x0800, ipv4({ src: '192.168.1.1', dst: '10.0.0.1', proto: 6 }, tcp(80, 40000, TCP.SYN | TCP.ACK))));
add('tcp4-http-get', eth(B, A, 0x0800, ipv4({ src: '10.0.0.3', dst: '172.16.0.1', proto: 6 },
  tcp(50000, 8080, TCP.PSH | TCP.ACK, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.from([1, 1, 8, 10, ...bytes(8)])))));
add('tcp4-ssh-ipopts', eth(B, A, 0x0800, ipv4({ src: '10.1.2.3', dst: '10.0.0.2', proto: 6, options: Buffer.from([1, 1, 1, 0]) },
  tcp(22, 60000, TCP.ACK, bytes(40)))));
add('tcp4-rst-443', eth(A, B, 0x0800, ipv4({ src: '10.0.0.2', dst: '10.0.0.1', proto: 6 }, tcp(443, 51000, TCP.RST | TCP.ACK))));
add('tcp4-fin-1500', eth(B, A, 0x0800, ipv4({ src: '192.168.5.5', dst: '192.168.1.1', proto: 6 }, tcp(1500, 2500, TCP.FIN | TCP.ACK))));
add('icmp4-echo', eth(B, A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 1 }, icmp(8, 0, bytes(36)))));
add('icmp4-reply', eth(A, B, 0x0800, ipv4({ src: '10.0.0.2', dst: '10.0.0.1', proto: 1 }, icmp(0, 0, bytes(36)))));
add('icmp4-unreach', eth(A, B, 0x0800, ipv4({ src: '10.0.0.2', dst: '10.0.0.1', proto: 1 },
  icmp(3, 3, Buffer.concat([u32(0), ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17 }, udp(1234, 53, Buffer.alloc(0)))])))));
add('vlan100-udp4', eth(B, A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17 }, udp(1234, 53, dnsQuery)), [[0x8100, 100]]));
add('vlan200-tcp4', eth(B, A, 0x0800, ipv4({ src: '10.0.0.1', dst: '192.168.1.1', proto: 6 }, tcp(40001, 80, TCP.SYN)), [[0x8100, 200]]));
add('vlan300-udp6', eth(B, A, 0x86dd, ipv6('2001:db8::1', '2001:db8::2', 17, udp(1234, 53, dnsQuery)), [[0x8100, 300]]));
add('qinq-udp4', eth(B, A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17 }, udp(1234, 53, dnsQuery)), [[0x88a8, 10], [0x8100, 20]]));
add('vlan100-arp', eth(BROADCAST, A, 0x0806, arp(1, A, '10.0.0.1', Buffer.alloc(6), '10.0.0.2'), [[0x8100, 100]]));
add('udp6-dns', eth(B, A, 0x86dd, ipv6('2001:db8::1', '2001:db8::2', 17, udp(1234, 53, dnsQuery))));
add('tcp6-https', eth(A, B, 0x86dd, ipv6('2001:db8:1::5', '2001:db8::1', 6, tcp(51000, 443, TCP.SYN))));
add('icmp6-echo-mcast', eth(mac('33:33:00:00:00:01'), A, 0x86dd, ipv6('fe80::1', 'ff02::1', 58, icmp(128, 0, bytes(16)))));
add('icmp6-ns', eth(mac('33:33:ff:00:00:02'), A, 0x86dd, ipv6('fe80::1', 'ff02::1:ff00:2', 58, icmp(135, 0, bytes(20)))));
add('udp6-hbh', eth(B, A, 0x86dd, ipv6('fe80::1', 'fe80::2', 0,
  Buffer.concat([Buffer.from([17, 0, 1, 4, 0, 0, 0, 0]), udp(5353, 5353, bytes(12))]))));
add('frag4-first', eth(B, A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, id: 77, moreFragments: true },
  udp(1234, 53, bytes(64)))));
// Its first bytes read as ports 53 -> 53: a filter that forgot the fragment offset would match.
add('frag4-middle', eth(B, A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, id: 77, moreFragments: true, fragOffset: 185 },
  Buffer.concat([u16(53), u16(53), bytes(60)]))));
add('frag4-last', eth(B, A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, id: 77, fragOffset: 370 }, bytes(30))));
add('arp-request', eth(BROADCAST, A, 0x0806, arp(1, A, '10.0.0.1', Buffer.alloc(6), '10.0.0.2')));
add('arp-reply', eth(A, B, 0x0806, arp(2, B, '10.0.0.2', A, '10.0.0.1')));
add('gre4', eth(B, A, 0x0800, ipv4({ src: '10.0.0.5', dst: '10.0.0.6', proto: 47 }, Buffer.concat([u16(0), u16(0x0800), bytes(28)]))));
add('udp4-mdns-mcast', eth(mac('01:00:5e:00:00:fb'), A, 0x0800, ipv4({ src: '10.0.0.1', dst: '224.0.0.251', proto: 17 }, udp(5353, 5353, bytes(20)))));
add('udp4-dhcp-bcast', eth(BROADCAST, A, 0x0800, ipv4({ src: '0.0.0.0', dst: '255.255.255.255', proto: 17 }, udp(68, 67, bytes(40)))));
add('udp4-ttl0', eth(B, A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, ttl: 0 }, udp(1234, 53, bytes(10)))));
add('udp4-ttl1', eth(B, A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, ttl: 1 }, udp(1234, 53, bytes(10)))));
add('udp4-same-addr', eth(A, A, 0x0800, ipv4({ src: '10.9.9.9', dst: '10.9.9.9', proto: 17 }, udp(7, 7, bytes(10)))));
add('ip4-says-v6', eth(B, A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, version: 6 }, udp(1234, 53, bytes(10)))));
add('lldp', eth(mac('01:80:c2:00:00:0e'), A, 0x88cc, bytes(46)));
add('llc-stp', eth(mac('01:80:c2:00:00:00'), A, 0x0026, Buffer.concat([Buffer.from([0x42, 0x42, 0x03]), bytes(35)])));
// Cut short: the interpreter must stop at the frame's end, never read past it.
const syn = frames.find(([n]) => n === 'tcp4-syn')![1];
const dns = frames.find(([n]) => n === 'udp4-dns')![1];
add('cut-in-ip-header', dns.subarray(0, 24));
add('cut-in-udp-header', dns.subarray(0, 38));
add('cut-before-tcp-flags', syn.subarray(0, 46));
add('cut-after-tcp-flags', syn.subarray(0, 48));
add('cut-eth-only', syn.subarray(0, 14));
add('cut-13', syn.subarray(0, 13));
add('cut-1', syn.subarray(0, 1));
add('empty', Buffer.alloc(0));
add('cut-in-vlan-tag', frames.find(([n]) => n === 'vlan100-udp4')![1].subarray(0, 17));
add('cut-in-ip6-header', frames.find(([n]) => n === 'udp6-dns')![1].subarray(0, 44));
add('cut-in-arp', frames.find(([n]) => n === 'arp-request')![1].subarray(0, 24));
add('cut-in-tcp-payload', frames.find(([n]) => n === 'tcp4-http-get')![1].subarray(0, 70));
// Lengths around the expressions' limits, odd ones, and a full-size frame.
for (const n of [61, 63, 64, 65, 99, 100, 101, 999, 1000, 1001, 1514]) add(`udp4-len-${n}`, udpFrameOfLength(n));
// Random bytes under a plausible Ethernet header (seeded): IPv4 headers with any IHL, so that
// BPF_MSH and BPF_IND land anywhere, including past the end.
let seed = 0x2545f491;
const random = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
};
const TYPES = [0x0800, 0x0800, 0x0800, 0x86dd, 0x8100, 0x0806];
for (let i = 0; i < 24; i++) {
  const frame = Buffer.from(Array.from({ length: random() % 160 }, () => random() & 0xff));
  if (frame.length >= 15) {
    const type = TYPES[i % TYPES.length];
    frame.writeUInt16BE(type, 12);
    if (type === 0x0800) frame[14] = 0x40 | (random() & 0xf);
    if (type === 0x0800 && frame.length > 23) frame[23] = [6, 17, 1][i % 3];
  }
  add(`random-${i}`, frame);
}

// ---------------------------------------------------------------------------------------------
// Expressions: each must compile, pass fastnet_bpf_check and agree with libpcap on every frame.

const EXPRESSIONS = [
  '', // everything
  'ip and not ip', // nothing
  'ip', 'ip6', 'arp', 'tcp', 'udp', 'icmp', 'icmp6', 'ip or ip6', 'ip6 or arp', 'not (tcp or udp)',
  'port 53', 'udp port 53', 'tcp port 80', 'src port 1234', 'dst port 53', 'tcp port 443', 'port 22 or port 8080',
  'portrange 1000-2000', 'tcp portrange 8000-8080', 'udp dst portrange 5000-6000', '(tcp or udp) and not port 22',
  'host 10.0.0.1', 'src host 10.0.0.2', 'dst host 192.168.1.1', 'host 10.0.0.1 and host 10.0.0.2',
  'net 10.0.0.0/8', 'src net 192.168.0.0/16', 'not net 10.0.0.0/8', 'dst net 224.0.0.0/4', 'ip multicast',
  'ip6 host 2001:db8::1', 'ip6 net 2001:db8::/32', 'ip6 multicast', 'ip6 and udp', 'ip6 and tcp port 443',
  'ether host 02:00:00:00:00:01', 'ether src 02:00:00:00:00:02', 'ether dst ff:ff:ff:ff:ff:ff', 'ether broadcast',
  'ether multicast', 'ether[12:2] = 0x0800', 'ether proto 0x88cc', 'ether[0] & 1 != 0',
  'vlan', 'vlan and udp', 'vlan 100', 'vlan 200 and tcp', 'vlan and host 10.0.0.1', 'udp or (vlan and udp)',
  'vlan and vlan 20',
  'ip proto 47', 'ip proto 1 or ip proto 17', 'ip[6:2] & 0x1fff != 0', 'ip[6:2] & 0x1fff = 0', 'ip[6] & 0x20 != 0',
  'udp and ip[6:2] & 0x1fff = 0', 'ip[0] & 0xf != 5', 'ip[8] < 2',
  'tcp[tcpflags] & tcp-syn != 0', 'tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn', 'tcp[13] = 0x12',
  'tcp[tcpflags] & (tcp-fin|tcp-rst) != 0', 'icmp[icmptype] = icmp-echo', 'icmp[0] = 3 and icmp[1] = 3',
  'icmp6 and ip6[40] = 128', 'udp[8:4] = 0xdeadbeef', 'tcp[((tcp[12] & 0xf0) >> 2):4] = 0x47455420',
  'ip[ip[0] & 0xf] != 0', 'ether[ether[14] & 0x3f] > 0x80', 'ip[2:2] - ((ip[0] & 0xf) << 2) > 40',
  'arp and arp[7] = 1', 'arp host 10.0.0.2',
  'len > 100', 'less 64', 'greater 1000', 'len >= 1514', 'len - 14 > 50', 'len = 61 or len = 63 or len = 65',
  'ip[2:2] / 4 > 10', 'ip[2:2] % 3 = 0', 'ip[2:2] / ip[8] > 1', 'ip[2:2] % ip[8] = 0', 'ether[0] ^ ether[6] != 0',
  'ip[8] * 3 > 100', '-ip[8] > 4294967000', '(ether[0] << (ether[1] & 31)) != 0', 'ether[1] >> (ether[2] & 7) > 3',
  'ether[0] = ether[6]', 'ip[12:4] = ip[16:4]', 'ip[8] & ip[9] != 0', 'ip[1] | ip[9] = 17',
];

interface MatchSummary {
  expressions: number;
  programs: number;
  frames: number;
  pairs: number;
  accepted: number;
  mismatches: number;
  mismatchList: unknown[];
  errors: { name: string; expression: string; optimize: number; error: string; at?: number }[];
  perProgram: { expression: string; optimize: number; insns: number; matched: number; snapOk: boolean }[];
}

interface Verdict {
  name: string;
  len?: number;
  rc: number;
  why?: string;
  at?: number;
  ours?: number[];
  pcap?: number[];
}

let dir: string;
const framesFile = () => path.join(dir, 'frames.txt');

function tool(...args: string[]): string {
  // The tool never frees its inputs: leaks are not what the sanitizers are here for.
  const env = { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' };
  const r = spawnSync(TOOL, args, { encoding: 'utf8', maxBuffer: 64 << 20, env });
  if (r.status !== 0) throw new Error(`bpf-verdicts ${args.join(' ')}: status ${r.status}\n${r.stderr}`);
  return r.stdout;
}

/** Programs as `tcpdump -dd` prints them, one file line each. */
type Insn = [number, number, number, number];
const dd = (prog: Insn[]) => prog.map(([c, jt, jf, k]) => `{ 0x${c.toString(16)}, ${jt}, ${jf}, 0x${(k >>> 0).toString(16)} }`).join(', ');
function programs(list: [string, Insn[]][]): Verdict[] {
  const file = path.join(dir, `programs-${list[0][0]}.txt`);
  fs.writeFileSync(file, list.map(([name, prog]) => `${name}\t${dd(prog)}\n`).join(''));
  return tool('run', file, framesFile()).trim().split('\n').map((line) => JSON.parse(line) as Verdict);
}

beforeAll(() => {
  fs.mkdirSync(path.dirname(TOOL), { recursive: true });
  // With AddressSanitizer and UBSan: frames are allocated to their exact length, so a load the
  // interpreter lets past a frame's end fails the run even where libpcap would agree on the verdict.
  const build = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-fsanitize=address,undefined',
    '-fno-sanitize-recover=all', '-Ikmod/fastnet', '-o', TOOL, 'test/helpers/bpf-verdicts.c',
    'kmod/fastnet/fastnet_bpf.c', '-lpcap'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`building bpf-verdicts failed:\n${build.stderr}`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpf-verdicts-'));
  fs.writeFileSync(framesFile(), frames.map(([name, frame]) => `${name}\t${frame.toString('hex')}\n`).join(''));
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('pcap_compile programs: the same verdict and snap length as pcap_offline_filter', () => {
  let summary: MatchSummary;

  beforeAll(() => {
    const file = path.join(dir, 'expressions.txt');
    fs.writeFileSync(file, EXPRESSIONS.map((e, i) => `e${i}\t${e}\n`).join(''));
    summary = JSON.parse(tool('match', file, framesFile())) as MatchSummary;
  });

  test('the corpus: at least 40 expressions, each compiled optimized and not, over every frame', () => {
    expect(new Set(EXPRESSIONS).size).toBe(EXPRESSIONS.length);
    expect(summary.expressions).toBe(EXPRESSIONS.length);
    expect(summary.expressions).toBeGreaterThanOrEqual(40);
    expect(summary.frames).toBe(frames.length);
    // libpcap's optimizer sees through this one and will not compile it; unoptimized it will.
    expect(summary.errors).toEqual([
      { name: 'e1', expression: 'ip and not ip', optimize: 1, error: 'expression rejects all packets' },
    ]);
    expect(summary.programs).toBe(2 * EXPRESSIONS.length - 1);
    expect(summary.pairs).toBe(summary.programs * summary.frames);
  });

  test('every (program, frame) pair: same return value', () => {
    expect(summary.mismatchList).toEqual([]);
    expect(summary.mismatches).toBe(0);
  });

  test('an accepted frame gets the snap length (262144), as from libpcap', () => {
    expect(summary.perProgram.filter((p) => !p.snapOk)).toEqual([]);
  });

  test('the corpus tells expressions apart: each matches some frames and not others', () => {
    const everything = summary.perProgram.filter((p) => p.expression === '');
    const nothing = summary.perProgram.filter((p) => p.expression === 'ip and not ip');
    expect(everything.map((p) => p.matched)).toEqual([frames.length, frames.length]);
    expect(nothing.map((p) => p.matched)).toEqual([0]);
    const rest = summary.perProgram.filter((p) => p.expression !== '' && p.expression !== 'ip and not ip');
    expect(rest.filter((p) => p.matched === 0 || p.matched === frames.length)).toEqual([]);
    expect(summary.accepted).toBeGreaterThan(summary.pairs / 10);
  });

  test('fragments: a port filter never matches a non-first fragment, even one whose bytes look like ports 53', () => {
    const file = path.join(dir, 'fragments.txt');
    fs.writeFileSync(file, 'e\tudp port 53\n');
    const only = path.join(dir, 'fragment-frames.txt');
    fs.writeFileSync(only, frames.filter(([n]) => n.startsWith('frag4-')).map(([n, f]) => `${n}\t${f.toString('hex')}\n`).join(''));
    const s = JSON.parse(tool('match', file, only)) as MatchSummary;
    expect(s.mismatches).toBe(0);
    expect(s.perProgram.map((p) => p.matched)).toEqual([1, 1]); // frag4-first only
  });

  test('libpcap programs the kernel refuses are refused here too: protochain jumps backwards', () => {
    const file = path.join(dir, 'protochain.txt');
    fs.writeFileSync(file, 'e\tip6 protochain 17\n');
    const s = JSON.parse(tool('match', file, framesFile())) as MatchSummary;
    expect(s.errors.map((e) => [e.optimize, e.error, typeof e.at])).toEqual([
      [1, 'refused: ja past the end', 'number'],
      [0, 'refused: ja past the end', 'number'],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Hand-written programs. Opcodes (linux/filter.h, linux/bpf_common.h):
const LD_W_ABS = 0x20, LD_H_ABS = 0x28, LD_B_ABS = 0x30, LD_W_IND = 0x40, LD_H_IND = 0x48, LD_B_IND = 0x50;
const LD_LEN = 0x80, LD_IMM = 0x00, LD_MEM = 0x60, LDX_IMM = 0x01, LDX_LEN = 0x81, LDX_MEM = 0x61, LDX_MSH = 0xb1;
const ST = 0x02, STX = 0x03, TAX = 0x07, TXA = 0x87, RET_K = 0x06, RET_A = 0x16;
const ADD_K = 0x04, ADD_X = 0x0c, SUB_K = 0x14, SUB_X = 0x1c, MUL_K = 0x24, MUL_X = 0x2c, DIV_K = 0x34, DIV_X = 0x3c;
const OR_K = 0x44, OR_X = 0x4c, AND_K = 0x54, AND_X = 0x5c, LSH_K = 0x64, LSH_X = 0x6c, RSH_K = 0x74, RSH_X = 0x7c;
const NEG = 0x84, MOD_K = 0x94, MOD_X = 0x9c, XOR_K = 0xa4, XOR_X = 0xac;
const JA = 0x05, JEQ_K = 0x15, JEQ_X = 0x1d, JGT_K = 0x25, JGT_X = 0x2d, JGE_K = 0x35, JGE_X = 0x3d, JSET_K = 0x45, JSET_X = 0x4d;
const SKF_AD_OFF = -0x1000, SKF_AD_PROTOCOL = 0, SKF_AD_VLAN_TAG = 44, SKF_NET_OFF = -0x100000, SKF_LL_OFF = -0x200000;

describe('every opcode against libpcap, on every frame, the program returning A', () => {
  // Each loads from the frame, computes, and returns the value: any difference shows.
  const OPCODES: [string, Insn[]][] = [
    ['ld-w-abs', [[LD_W_ABS, 0, 0, 26], [RET_A, 0, 0, 0]]],
    ['ld-h-abs', [[LD_H_ABS, 0, 0, 12], [RET_A, 0, 0, 0]]],
    ['ld-b-abs-last-byte-of-1514', [[LD_B_ABS, 0, 0, 1513], [ADD_K, 0, 0, 1], [RET_A, 0, 0, 0]]],
    ['ld-w-abs-edge', [[LD_W_ABS, 0, 0, 60], [OR_K, 0, 0, 1], [RET_A, 0, 0, 0]]],
    ['ld-ind-msh', [[LDX_MSH, 0, 0, 14], [LD_H_IND, 0, 0, 16], [RET_A, 0, 0, 0]]],
    ['ld-w-ind', [[LDX_MSH, 0, 0, 14], [LD_W_IND, 0, 0, 14], [ADD_K, 0, 0, 1], [RET_A, 0, 0, 0]]],
    ['ld-b-ind-from-frame', [[LD_B_ABS, 0, 0, 20], [TAX, 0, 0, 0], [LD_B_IND, 0, 0, 3], [ADD_K, 0, 0, 1], [RET_A, 0, 0, 0]]],
    ['len', [[LD_LEN, 0, 0, 0], [LDX_LEN, 0, 0, 0], [ADD_X, 0, 0, 0], [RET_A, 0, 0, 0]]],
    ['imm-mem', [[LD_IMM, 0, 0, 7], [ST, 0, 0, 15], [LDX_IMM, 0, 0, 9], [STX, 0, 0, 0], [LD_MEM, 0, 0, 0], [LDX_MEM, 0, 0, 15],
      [MUL_X, 0, 0, 0], [RET_A, 0, 0, 0]]],
    ['tax-txa', [[LD_H_ABS, 0, 0, 12], [TAX, 0, 0, 0], [LD_IMM, 0, 0, 0], [TXA, 0, 0, 0], [RET_A, 0, 0, 0]]],
    ['alu-k', [[LD_W_ABS, 0, 0, 14], [ADD_K, 0, 0, 0xfffffff0], [SUB_K, 0, 0, 3], [MUL_K, 0, 0, 2654435761], [DIV_K, 0, 0, 7],
      [MOD_K, 0, 0, 1000003], [AND_K, 0, 0, 0xfff0ff], [OR_K, 0, 0, 0x100], [XOR_K, 0, 0, 0x5a5a], [LSH_K, 0, 0, 3],
      [RSH_K, 0, 0, 1], [NEG, 0, 0, 0], [RET_A, 0, 0, 0]]],
    ['alu-x', [[LD_W_ABS, 0, 0, 30], [TAX, 0, 0, 0], [LD_W_ABS, 0, 0, 26], [ADD_X, 0, 0, 0], [SUB_X, 0, 0, 0], [MUL_X, 0, 0, 0],
      [OR_X, 0, 0, 0], [XOR_X, 0, 0, 0], [AND_X, 0, 0, 0], [ADD_K, 0, 0, 12345], [RET_A, 0, 0, 0]]],
    ['div-mod-x-from-frame', [[LD_B_ABS, 0, 0, 22], [TAX, 0, 0, 0], [LD_W_ABS, 0, 0, 26], [DIV_X, 0, 0, 0], [ST, 0, 0, 1],
      [LD_W_ABS, 0, 0, 30], [MOD_X, 0, 0, 0], [LDX_MEM, 0, 0, 1], [ADD_X, 0, 0, 0], [ADD_K, 0, 0, 1], [RET_A, 0, 0, 0]]],
    ['shift-x-under-32', [[LD_B_ABS, 0, 0, 15], [AND_K, 0, 0, 31], [TAX, 0, 0, 0], [LD_W_ABS, 0, 0, 26], [LSH_X, 0, 0, 0],
      [ST, 0, 0, 2], [LD_W_ABS, 0, 0, 30], [RSH_X, 0, 0, 0], [LDX_MEM, 0, 0, 2], [XOR_X, 0, 0, 0], [RET_A, 0, 0, 0]]],
    ['jumps', [[LD_H_ABS, 0, 0, 12], [JEQ_K, 0, 2, 0x0800], [LD_B_ABS, 0, 0, 23], [JA, 0, 0, 1], [LD_IMM, 0, 0, 1000],
      [JGT_K, 1, 0, 16], [ADD_K, 0, 0, 100], [JGE_K, 0, 1, 17], [ADD_K, 0, 0, 10000], [JSET_K, 1, 0, 0x80000000], [ADD_K, 0, 0, 1],
      [TAX, 0, 0, 0], [LD_B_ABS, 0, 0, 0], [JEQ_X, 1, 0, 0], [JGT_X, 0, 1, 0], [ADD_K, 0, 0, 0x20000], [JGE_X, 0, 1, 0],
      [ADD_K, 0, 0, 0x40000], [JSET_X, 0, 1, 0], [ADD_K, 0, 0, 0x80000], [RET_A, 0, 0, 0]]],
    ['jgt-negative-k', [[LD_W_ABS, 0, 0, 26], [JGT_K, 0, 1, 0x80000000], [RET_K, 0, 0, 2], [RET_K, 0, 0, 1]]],
    ['ret-k', [[RET_K, 0, 0, 96]]],
  ];
  let verdicts: Verdict[];

  beforeAll(() => {
    verdicts = programs(OPCODES);
  });

  test('all are accepted, and both interpreters return the same value on every frame', () => {
    for (const v of verdicts) {
      expect({ name: v.name, rc: v.rc, why: v.why }).toEqual({ name: v.name, rc: 0, why: undefined });
      expect({ name: v.name, ours: v.ours }).toEqual({ name: v.name, ours: v.pcap });
    }
    expect(verdicts).toHaveLength(OPCODES.length);
  });

  test('they are not all zero: the loads succeed on whole frames and fail on short ones', () => {
    const index = (name: string) => frames.findIndex(([n]) => n === name);
    const byName = new Map(verdicts.map((v) => [v.name, v.ours!]));
    expect(byName.get('ld-b-abs-last-byte-of-1514')![index('udp4-len-1514')]).toBeGreaterThan(0);
    expect(byName.get('ld-b-abs-last-byte-of-1514')![index('udp4-len-1001')]).toBe(0);
    expect(byName.get('ld-w-abs-edge')![index('udp4-len-64')]).toBeGreaterThan(0); // bytes 60..63 of 64
    expect(byName.get('ld-w-abs-edge')![index('udp4-len-63')]).toBe(0);
    expect(byName.get('len')![index('udp4-len-1514')]).toBe(2 * 1514);
    expect(byName.get('len')![index('empty')]).toBe(0);
    expect(byName.get('ret-k')!.every((v) => v === 96)).toBe(true);
    expect(byName.get('div-mod-x-from-frame')![index('udp4-ttl0')]).toBe(0); // X = TTL = 0
    expect(byName.get('div-mod-x-from-frame')![index('udp4-ttl1')]).toBeGreaterThan(0);
  });
});

describe('where the kernel and libpcap differ, fastnet follows the kernel or the safer of the two', () => {
  let v: Map<string, Verdict>;

  beforeAll(() => {
    v = new Map(programs([
      ['lsh-x-40', [[LDX_IMM, 0, 0, 40], [LD_IMM, 0, 0, 0x12345678], [LSH_X, 0, 0, 0], [RET_A, 0, 0, 0]]],
      ['rsh-x-33', [[LDX_IMM, 0, 0, 33], [LD_IMM, 0, 0, 0x12345678], [RSH_X, 0, 0, 0], [RET_A, 0, 0, 0]]],
      ['ind-wraps-past-4g', [[LDX_IMM, 0, 0, 0xffffffff], [LD_B_IND, 0, 0, 20], [ADD_K, 0, 0, 1], [RET_A, 0, 0, 0]]],
      ['ind-k-below-ll-off', [[LDX_IMM, 0, 0, 0x80000010], [LD_B_IND, 0, 0, 0x80000000], [ADD_K, 0, 0, 1], [RET_A, 0, 0, 0]]],
    ]).map((x) => [x.name, x]));
  });

  test('a shift by X >= 32: the kernel shifts by X mod 32 (its interpreter masks, its JITs too); libpcap gives 0', () => {
    expect(v.get('lsh-x-40')!.ours!.every((r) => r === 0x34567800)).toBe(true);
    expect(v.get('lsh-x-40')!.pcap!.every((r) => r === 0)).toBe(true);
    expect(v.get('rsh-x-33')!.ours!.every((r) => r === 0x12345678 >>> 1)).toBe(true);
    expect(v.get('rsh-x-33')!.pcap!.every((r) => r === 0)).toBe(true);
  });

  // The kernel would load the byte at (X + K) mod 2^32 (19, then 16) and return it plus 1.
  test('X + K past 2^32: the kernel wraps it to 32 bits and loads; fastnet fails the load, as libpcap does', () => {
    for (const name of ['ind-wraps-past-4g', 'ind-k-below-ll-off']) {
      expect(v.get(name)!.rc).toBe(0);
      expect(v.get(name)!.ours!.every((r) => r === 0)).toBe(true);
      expect(v.get(name)!.pcap!.every((r) => r === 0)).toBe(true);
    }
  });
});

describe('bad programs: refused with the rule they break and where', () => {
  const ret: Insn = [RET_K, 0, 0, 0];
  const BAD: [string, Insn[], string, number][] = [
    ['empty', [], 'empty program', 0],
    ['too-long', Array.from({ length: 4097 }, () => ret), 'longer than BPF_MAXINSNS instructions', 0],
    ['unknown-opcode', [[LD_IMM, 0, 0, 0], [0xff, 0, 0, 0], ret], 'unknown opcode', 1],
    ['ret-x-opcode', [[0x0e, 0, 0, 0]], 'unknown opcode', 0],
    ['seccomp-ldx-abs', [[0x21, 0, 0, 0], ret], 'unknown opcode', 0],
    ['ld-h-len', [[0x88, 0, 0, 0], ret], 'unknown opcode', 0],
    ['neg-x', [[0x8c, 0, 0, 0], ret], 'unknown opcode', 0],
    ['jump-out-of-range-jt', [[LD_IMM, 0, 0, 0], [JEQ_K, 5, 0, 0], ret, ret], 'conditional jump past the end', 1],
    ['jump-out-of-range-jf', [[JGT_X, 0, 2, 0], ret, ret], 'conditional jump past the end', 0],
    ['ja-past-the-end', [[LD_IMM, 0, 0, 0], [JA, 0, 0, 1], ret], 'ja past the end', 1],
    ['ja-backwards-is-past-the-end', [[LD_IMM, 0, 0, 0], [JA, 0, 0, 0xffffffff], ret], 'ja past the end', 1],
    ['div-by-constant-0', [[LD_IMM, 0, 0, 1], [DIV_K, 0, 0, 0], [RET_A, 0, 0, 0]], 'division by constant 0', 1],
    ['mod-by-constant-0', [[LD_IMM, 0, 0, 1], [MOD_K, 0, 0, 0], [RET_A, 0, 0, 0]], 'modulo by constant 0', 1],
    ['shift-by-constant-32', [[LD_IMM, 0, 0, 1], [LSH_K, 0, 0, 32], [RET_A, 0, 0, 0]], 'shift by constant 32 or more', 1],
    ['mem-index-16-st', [[ST, 0, 0, 16], ret], 'scratch memory index >= BPF_MEMWORDS', 0],
    ['mem-index-16-ldx', [[LD_IMM, 0, 0, 0], [LDX_MEM, 0, 0, 16], ret], 'scratch memory index >= BPF_MEMWORDS', 1],
    ['last-not-ret', [[LD_IMM, 0, 0, 1]], 'last instruction is not a return', 0],
    ['last-not-ret-after-ret', [ret, [LD_IMM, 0, 0, 1]], 'last instruction is not a return', 1],
    ['mem-never-written', [[LD_MEM, 0, 0, 3], [RET_A, 0, 0, 0]], 'scratch memory read before written on some path', 0],
    // jf skips the store: M[0] is written on one path to the load only.
    ['mem-written-on-one-path', [[LD_H_ABS, 0, 0, 12], [JEQ_K, 0, 1, 0x0800], [ST, 0, 0, 0], [LD_MEM, 0, 0, 0], [RET_A, 0, 0, 0]],
      'scratch memory read before written on some path', 3],
    ['mem-other-cell-written', [[ST, 0, 0, 1], [LDX_MEM, 0, 0, 2], ret], 'scratch memory read before written on some path', 1],
    // The kernel's check_load_and_stores(): the set of written cells runs on from a RET into the
    // next instruction, so this valid program (4 is reached from 2 only, after the store) is
    // refused by the kernel, and here alike.
    ['mem-kernel-quirk-after-ret', [[JEQ_K, 0, 2, 0], [ST, 0, 0, 0], [JA, 0, 0, 1], ret, [LD_MEM, 0, 0, 0], [RET_A, 0, 0, 0]],
      'scratch memory read before written on some path', 4],
    ['ancillary-protocol', [[LD_H_ABS, 0, 0, SKF_AD_OFF + SKF_AD_PROTOCOL], ret], 'ancillary load (SKF_AD_OFF) needs an skb', 0],
    ['ancillary-vlan-tag', [[LD_IMM, 0, 0, 0], [LD_W_ABS, 0, 0, SKF_AD_OFF + SKF_AD_VLAN_TAG], ret],
      'ancillary load (SKF_AD_OFF) needs an skb', 1],
    ['ancillary-unknown', [[LD_B_ABS, 0, 0, -1], ret], 'ancillary load (SKF_AD_OFF) needs an skb', 0],
    ['net-off-abs', [[LD_B_ABS, 0, 0, SKF_NET_OFF + 9], ret], 'SKF_NET_OFF-relative load needs an skb', 0],
    ['ll-off-abs', [[LD_H_ABS, 0, 0, SKF_LL_OFF + 12], ret], 'SKF_LL_OFF-relative load needs an skb', 0],
    ['net-off-ind', [[LDX_IMM, 0, 0, 0], [LD_B_IND, 0, 0, SKF_NET_OFF], ret], 'SKF_NET_OFF-relative load needs an skb', 1],
    ['net-off-msh', [[LDX_MSH, 0, 0, SKF_NET_OFF], ret], 'SKF_NET_OFF-relative load needs an skb', 0],
    ['first-fault-wins', [[DIV_K, 0, 0, 0], [0xff, 0, 0, 0]], 'division by constant 0', 0],
  ];
  let verdicts: Verdict[];

  beforeAll(() => {
    const file = path.join(dir, 'bad.txt');
    fs.writeFileSync(file, BAD.map(([name, prog]) => `${name}\t${dd(prog)}\n`).join(''));
    verdicts = tool('check', file).trim().split('\n').map((line) => JSON.parse(line) as Verdict);
  });

  test('each with its reason and instruction index (EINVAL)', () => {
    expect(verdicts.map(({ name, rc, why, at }) => ({ name, rc, why, at })))
      .toEqual(BAD.map(([name, , why, at]) => ({ name, rc: -22, why, at })));
    expect(verdicts.find((x) => x.name === 'too-long')!.len).toBe(4097);
  });

  test('the limits themselves pass: 4096 instructions, M[15], a jump to the last instruction, an offset below SKF_LL_OFF', () => {
    const good = path.join(dir, 'good.txt');
    const fill: Insn[] = Array.from({ length: 4094 }, () => [ADD_K, 0, 0, 1]);
    fs.writeFileSync(good, [
      `max-length\t${dd([[ST, 0, 0, 15], ...fill, [RET_A, 0, 0, 0]])}`,
      `mem-15\t${dd([[STX, 0, 0, 15], [LD_MEM, 0, 0, 15], [RET_A, 0, 0, 0]])}`,
      `jump-to-last\t${dd([[JEQ_K, 1, 1, 0], [JA, 0, 0, 0], ret])}`,
      `abs-below-ll-off\t${dd([[LD_B_ABS, 0, 0, SKF_LL_OFF - 1], ret])}`,
      `mem-written-on-both-paths\t${dd([[LD_H_ABS, 0, 0, 12], [JEQ_K, 0, 2, 0x0800], [ST, 0, 0, 0], [JA, 0, 0, 1], [ST, 0, 0, 0],
        [LD_MEM, 0, 0, 0], [RET_A, 0, 0, 0]])}`,
    ].join('\n') + '\n');
    const out = tool('check', good).trim().split('\n').map((line) => JSON.parse(line) as Verdict);
    expect(out.map(({ name, rc, len }) => ({ name, rc, len }))).toEqual([
      { name: 'max-length', rc: 0, len: 4096 },
      { name: 'mem-15', rc: 0, len: 3 },
      { name: 'jump-to-last', rc: 0, len: 3 },
      { name: 'abs-below-ll-off', rc: 0, len: 2 },
      { name: 'mem-written-on-both-paths', rc: 0, len: 7 },
    ]);
  });
});
