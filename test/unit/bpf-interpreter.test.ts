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

import {
  ADD_K, ADD_X, AND_K, AND_X, BAD_PROGRAMS, DIV_K, DIV_X, EXPRESSIONS, FRAMES, JA, JEQ_K, JEQ_X, JGE_K, JGE_X, JGT_K, JGT_X,
  JSET_K, JSET_X, LDX_IMM, LDX_LEN, LDX_MEM, LDX_MSH, LD_B_ABS, LD_B_IND, LD_H_ABS, LD_H_IND, LD_IMM, LD_LEN, LD_MEM,
  LD_W_ABS, LD_W_IND, LSH_K, LSH_X, MOD_K, MOD_X, MUL_K, MUL_X, NEG, OR_K, OR_X, RET_A, RET_K, RSH_K, RSH_X, SKB_ONLY,
  SKF_LL_OFF, ST, STX, SUB_K, SUB_X, TAX, TXA, XOR_K, XOR_X, type Insn,
} from '../bpf-corpus';

const ROOT = path.resolve(__dirname, '..', '..');
const TOOL = path.join(ROOT, 'out', 'unit', 'bpf-verdicts');
const SNAPLEN = 262144;
const frames = FRAMES;


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
  const BAD = BAD_PROGRAMS;
  const ret: Insn = [RET_K, 0, 0, 0];
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

describe("the kernel's rules alone (fastnet_bpf_check_skb: copy modes, whose programs run on skbs)", () => {
  let verdicts: Map<string, Verdict>;

  beforeAll(() => {
    const file = path.join(dir, 'bad-skb.txt');
    const list: [string, Insn[]][] = [
      ...BAD_PROGRAMS.map(([name, prog]): [string, Insn[]] => [name, prog]),
      ['ancillary-unknown-h', [[LD_H_ABS, 0, 0, -0x1000 + 64], [RET_K, 0, 0, 0]]],
      ['ancillary-misaligned', [[LD_W_ABS, 0, 0, -0x1000 + 2], [RET_K, 0, 0, 0]]],
      ['ancillary-vlan-present-b', [[LD_B_ABS, 0, 0, -0x1000 + 48], [RET_A, 0, 0, 0]]],
      ['ll-off-ind-msh', [[LDX_MSH, 0, 0, SKF_LL_OFF + 14], [LD_B_IND, 0, 0, SKF_LL_OFF], [RET_A, 0, 0, 0]]],
    ];
    fs.writeFileSync(file, list.map(([name, prog]) => `${name}\t${dd(prog)}\n`).join(''));
    verdicts = new Map(tool('check-skb', file).trim().split('\n').map((line) => {
      const v = JSON.parse(line) as Verdict;
      return [v.name, v];
    }));
  });

  test('every other bad program is refused with the same rule and index', () => {
    for (const [name, , why, at] of BAD_PROGRAMS) {
      const v = verdicts.get(name)!;
      if (SKB_ONLY.includes(name)) expect({ name, rc: v.rc }).toEqual({ name, rc: 0 });
      else if (name === 'ancillary-unknown') expect({ name, rc: v.rc, why: v.why, at: v.at }).toEqual({ name, rc: -22, why: 'unknown ancillary load (SKF_AD_OFF + n)', at: 0 });
      else expect({ name, rc: v.rc, why: v.why, at: v.at }).toEqual({ name, rc: -22, why, at });
    }
  });

  test('known extensions pass at any load size, as bpf_anc_helper() takes them; others are refused', () => {
    expect(verdicts.get('ancillary-vlan-present-b')!.rc).toBe(0);
    expect(verdicts.get('ll-off-ind-msh')!.rc).toBe(0);
    expect(verdicts.get('ancillary-unknown-h')).toMatchObject({ rc: -22, why: 'unknown ancillary load (SKF_AD_OFF + n)' });
    expect(verdicts.get('ancillary-misaligned')).toMatchObject({ rc: -22, why: 'unknown ancillary load (SKF_AD_OFF + n)' });
  });
});
