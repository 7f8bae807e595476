// The classic BPF corpus shared by fastnet's filter tests: Ethernet frames built byte by byte
// (IPv4 and IPv6 over UDP, TCP and ICMP, VLAN and QinQ, fragments, ARP, LLDP, LLC, frames cut
// inside every header, odd lengths, seeded random ones), tcpdump expressions that tell them
// apart, the classic opcodes, and programs the kernel's rules refuse. test/unit/bpf-interpreter
// runs them through fastnet_bpf.c on the host; test/vm/fastnet-filter through the module.

/** A program as `tcpdump -dd` prints it: [code, jt, jf, k]. */
export type Insn = [number, number, number, number];

// ---------------------------------------------------------------------------------------------
// Frames, built byte by byte.

export const mac = (s: string) => Buffer.from(s.split(':').map((b) => parseInt(b, 16)));
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
export function eth(dst: Buffer, src: Buffer, type: number, payload: Buffer, vlans: [number, number][] = []): Buffer {
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
export function ipv4(o: Ip4Options, payload: Buffer): Buffer {
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
export const udp = (sport: number, dport: number, payload: Buffer) =>
  Buffer.concat([u16(sport), u16(dport), u16(8 + payload.length), u16(0), payload]);
export const TCP = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 };
export function tcp(sport: number, dport: number, flags: number, payload = Buffer.alloc(0), options = Buffer.alloc(0)): Buffer {
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
export function ipv6(src: string, dst: string, next: number, payload: Buffer): Buffer {
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
export const bytes = (n: number, seed = 0) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));
/** A UDP frame of exactly `total` bytes. */
const udpFrameOfLength = (total: number) =>
  eth(B, A, 0x0800, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17 }, udp(5000, 6000, bytes(total - 42))));

/** The frames, in order, by name. */
export const FRAMES: [string, Buffer][] = [];
const frames = FRAMES;
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

/** tcpdump expressions: each compiles (optimized or not) and tells the frames apart. */
export const EXPRESSIONS = [
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

// ---------------------------------------------------------------------------------------------
// Opcodes (linux/filter.h, linux/bpf_common.h):
export const LD_W_ABS = 0x20, LD_H_ABS = 0x28, LD_B_ABS = 0x30, LD_W_IND = 0x40, LD_H_IND = 0x48, LD_B_IND = 0x50;
export const LD_LEN = 0x80, LD_IMM = 0x00, LD_MEM = 0x60, LDX_IMM = 0x01, LDX_LEN = 0x81, LDX_MEM = 0x61, LDX_MSH = 0xb1;
export const ST = 0x02, STX = 0x03, TAX = 0x07, TXA = 0x87, RET_K = 0x06, RET_A = 0x16;
export const ADD_K = 0x04, ADD_X = 0x0c, SUB_K = 0x14, SUB_X = 0x1c, MUL_K = 0x24, MUL_X = 0x2c, DIV_K = 0x34, DIV_X = 0x3c;
export const OR_K = 0x44, OR_X = 0x4c, AND_K = 0x54, AND_X = 0x5c, LSH_K = 0x64, LSH_X = 0x6c, RSH_K = 0x74, RSH_X = 0x7c;
export const NEG = 0x84, MOD_K = 0x94, MOD_X = 0x9c, XOR_K = 0xa4, XOR_X = 0xac;
export const JA = 0x05, JEQ_K = 0x15, JEQ_X = 0x1d, JGT_K = 0x25, JGT_X = 0x2d, JGE_K = 0x35, JGE_X = 0x3d, JSET_K = 0x45, JSET_X = 0x4d;
export const SKF_AD_OFF = -0x1000, SKF_AD_PROTOCOL = 0, SKF_AD_VLAN_TAG = 44, SKF_NET_OFF = -0x100000, SKF_LL_OFF = -0x200000;

const ret: Insn = [RET_K, 0, 0, 0];

/**
 * Programs fastnet_bpf_check() refuses: name, instructions, the rule it names and the
 * instruction's index. The kernel refuses each too, but those whose only fault is a load of skb
 * data (SKF_AD_OFF, SKF_NET_OFF, SKF_LL_OFF), which run in its copy modes (SKB_ONLY).
 */
export const BAD_PROGRAMS: [string, Insn[], string, number][] = [
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

/** The names in BAD_PROGRAMS whose only fault is a load of skb data: the kernel's rules let them run on skbs. */
export const SKB_ONLY = ['ancillary-protocol', 'ancillary-vlan-tag', 'net-off-abs', 'll-off-abs', 'net-off-ind', 'net-off-msh'];
