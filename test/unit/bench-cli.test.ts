// kmodlab bench on the host: its options and errors (parsed, and through the
// real command), the soaker's calibration arithmetic and the real soaker
// helper, the sweep's schedule, and the shape of the summaries, table and plot.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {
  Soaker,
  busyShares,
  calibrate,
  cpuPerFrameNs,
  parseProcStat,
  procStatShares,
  soakRates,
  soakerBinary,
} from '../../lib/cli/bench-cpu';
import { NOT_WITH_SOURCE, available, defaultMethods, parseTcpdumpReport, referenceMethod } from '../../lib/cli/bench-methods';
import { UsageError } from '../../lib/cli/args';
import { DEFAULTS, FULL_SWEEP, HOST_DEFAULTS, HOST_FULL_SWEEP, METHOD_NAMES, type MethodName, parseBenchOptions } from '../../lib/cli/bench-options';
import {
  type Sample,
  drawPlots,
  formatLossFree,
  formatTable,
  lossFreeRates,
  lostOther,
  plotData,
  formatFilterCost,
  plotScript,
  summarize,
} from '../../lib/cli/bench-report';
import { keptFrames, rotate, schedule } from '../../lib/cli/bench-run';
import { selectMethods } from '../../lib/cli/bench';
import { keptShare } from '../../lib/cli/bench-filter';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'kmodlab.js');

function usageError(argv: string[]): UsageError {
  try {
    parseBenchOptions(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('bench options', () => {
  test('defaults: the short run npm start does', () => {
    const o = parseBenchOptions([]);
    expect(o).toMatchObject({
      methods: null,
      source: 'pktgen',
      rates: ['max'],
      sizes: [64],
      durationSec: 3,
      repeats: 3,
      slots: 4096,
      slotSize: 2048,
      bufferSize: 4 << 20,
      timeoutMs: 100,
      outDir: DEFAULTS.out,
      soaker: true,
      profile: null,
      full: false,
    });
  });

  test('--full sweeps rates and the three frame sizes; explicit options win over it', () => {
    const full = parseBenchOptions(['--full']);
    expect(full).toMatchObject({ sizes: [64, 512, 1500], rates: [20_000, 50_000, 100_000, 200_000, 'max'], repeats: 3, durationSec: 5 });
    expect(FULL_SWEEP.sizes).toBe('64,512,1500');
    expect(parseBenchOptions(['--full', '-z', '512', '-n', '1'])).toMatchObject({ sizes: [512], repeats: 1, durationSec: 5 });
  });

  test('--source host: paced rates of its own by default, --full its own sweep; explicit options win', () => {
    expect(parseBenchOptions(['--source', 'host'])).toMatchObject({
      source: 'host',
      rates: [10_000, 30_000],
      sizes: [64],
      durationSec: Number(HOST_DEFAULTS.duration),
      repeats: Number(HOST_DEFAULTS.repeats),
    });
    expect(parseBenchOptions(['-s', 'host', '--full'])).toMatchObject({
      rates: [5_000, 10_000, 20_000, 40_000, 60_000, 80_000, 100_000],
      sizes: [64, 512, 1500],
      durationSec: Number(HOST_FULL_SWEEP.duration),
    });
    expect(parseBenchOptions(['-s', 'host', '-r', '20k', '-d', '1', '-n', '1', '-m', 'pcap,fastnet-zc'])).toMatchObject({
      rates: [20_000],
      durationSec: 1,
      repeats: 1,
      methods: ['pcap', 'fastnet-zc'],
    });
  });

  test('--nic virtio: the host source on virtio-net, with the same methods (zero-copy too); refused with pktgen', () => {
    const e1000 = parseBenchOptions(['-s', 'host']);
    const virtio = parseBenchOptions(['-s', 'host', '--nic', 'virtio']);
    expect(e1000).toMatchObject({ nic: 'e1000' });
    expect(virtio).toMatchObject({ nic: 'virtio' });
    if (virtio === 'help' || e1000 === 'help') throw new Error('no options');
    expect([...selectMethods(virtio, available()).keys()]).toEqual([...selectMethods(e1000, available()).keys()]);
    expect(usageError(['--nic', 'virtio']).message).toBe('--nic chooses the NIC of the host source: add --source host');
    expect(usageError(['-s', 'host', '--nic', 'rtl8139']).message).toMatch(/--nic/);
  });

  test('--source host --ports N spreads the destination ports; --pcap FILE replays a file, its frames standing for the sizes', () => {
    expect(parseBenchOptions(['-s', 'host', '--ports', '5'])).toMatchObject({ ports: 5, pcap: null, sizes: [64] });
    expect(parseBenchOptions(['-s', 'host'])).toMatchObject({ ports: 1, pcap: null });
    expect(parseBenchOptions(['-s', 'host', '--pcap', 'test/fixtures/sample-traffic.pcapng', '-r', '2k'])).toMatchObject({
      ports: 1,
      pcap: 'test/fixtures/sample-traffic.pcapng',
      sizes: [0],
      rates: [2000],
    });
  });

  test('lists, units and short options', () => {
    expect(
      parseBenchOptions(['-m', 'fastnet-ring,pcap', '-r', '50k,1.5M,max', '-z', '64,1500', '-d', '0.5', '--buffer-size', '512k', '--no-soaker', '--profile', 'fastnet-ring', '-o', '/tmp/x']),
    ).toMatchObject({
      methods: ['fastnet-ring', 'pcap'],
      rates: [50_000, 1_500_000, 'max'],
      sizes: [64, 1500],
      durationSec: 0.5,
      bufferSize: 512 << 10,
      soaker: false,
      profile: 'fastnet-ring',
      outDir: '/tmp/x',
    });
    expect(parseBenchOptions(['--help'])).toBe('help');
    expect(parseBenchOptions(['-h', '--bogus-after-help-is-still-parsed-first'].slice(0, 1))).toBe('help');
  });

  test.each([
    [['--bogus'], /^Unknown option '--bogus'\.$/],
    [['stray'], /^unexpected argument "stray"$/],
    [['--duration'], /^Option '-d, --duration <value>' argument missing$/],
    [['-m', 'carrier-pigeon'], /^--methods must be one of socket, socket-mmsg, .*, stack, got "carrier-pigeon"$/],
    [['-m', 'pcap,pcap'], /^--methods must be distinct methods, got "pcap,pcap"$/],
    [['-m', 'pcap,'], /^--methods must be a comma-separated list without empty items, got "pcap,"$/],
    [['-s', 'tap'], /^--source must be one of pktgen, host, got "tap"$/],
    [['-z', '59'], /^--sizes must be an integer from 60 to 1514, got "59"$/],
    [['-z', '1515'], /^--sizes must be an integer from 60 to 1514, got "1515"$/],
    [['-r', 'fast'], /^--rates must be a number \(digits, optionally with k or M\), got "fast"$/],
    [['-r', '0'], /^--rates must be an integer from 1 to 100000000, got "0"$/],
    [['-d', '0.1'], /^--duration must be seconds from 0\.5 to 600, got "0\.1"$/],
    [['-d', '3s'], /^--duration must be seconds from 0\.5 to 600, got "3s"$/],
    [['-n', '0'], /^--repeats must be an integer from 1 to 100, got "0"$/],
    [['--slots', '1000'], /^--slots must be a power of two from 2 to 65536, got "1000"$/],
    [['--slot-size', '1024'], /^--slot-size must be an integer from 2048 to 65536, got "1024"$/],
    [['--buffer-size', '1.5'], /^--buffer-size must be a whole number, got "1\.5"$/],
    [['--profile', 'nope'], /^--profile must be one of socket, .*, stack, got "nope"$/],
    [['-s', 'host', '-r', '10k,max'], /^--rates must be frames\/s with the host source, which is paced .*, got "10k,max"$/],
    [['-s', 'host', '-r', '2M'], /^--rates must be at most 1M frames\/s with the host source, got "2M"$/],
    [['-s', 'host', '--profile', 'pcap'], /^--profile runs with the pktgen source only$/],
    [['-f', 'udp dst porte 9'], /^--filter: .*not a valid filter expression: unknown host 'porte'/],
    [['--filter', 'udp and'], /^--filter: .*syntax error/],
    [['--ports', '0'], /^--ports must be an integer from 1 to 65527, got "0"$/],
    [['--ports', '65528'], /^--ports must be an integer from 1 to 65527, got "65528"$/],
    [['-s', 'host', '--pcap', 'x.pcap', '-f', 'udp'], /^--filter with --pcap: /],
    [['--pcap', 'x.pcap'], /^--pcap replays a file with the host source: add --source host$/],
    [['-s', 'host', '--pcap', 'x.pcap', '-z', '64'], /^--sizes does not apply to --pcap/],
    [['-s', 'host', '--pcap', 'x.pcap', '--ports', '4'], /^--ports does not apply to --pcap/],
  ])('%j is refused: %s', (argv, message) => {
    const error = usageError(argv);
    expect(error.message).toMatch(message);
    expect(error.code).toBe('ERR_USAGE');
  });
});

describe('bench --filter and --ports', () => {
  test('parsed and checked by libpcap; the defaults are no filter and one port', () => {
    expect(parseBenchOptions([])).toMatchObject({ filter: null, ports: 1 });
    expect(parseBenchOptions(['-f', 'udp dst port 9', '--ports', '10'])).toMatchObject({ filter: 'udp dst port 9', ports: 10 });
  });

  test("the share of the source's frames a filter keeps: libpcap's verdict on one frame per port", () => {
    expect(keptShare(null, 'pktgen', 64, 10)).toBe(1);
    expect(keptShare('udp dst port 9', 'pktgen', 64, 10)).toBe(0.1);
    expect(keptShare('udp dst port 9', 'pktgen', 64, 1)).toBe(1);
    expect(keptShare('udp dst portrange 9-13', 'host', 1500, 10)).toBe(0.5);
    expect(keptShare('not udp dst port 9', 'host', 64, 4)).toBe(0.75);
    expect(keptShare('tcp', 'pktgen', 64, 10)).toBe(0);
    // Addresses and lengths are the sources' own.
    expect(keptShare('src host 10.98.0.1 and dst host 10.98.0.2', 'pktgen', 64, 3)).toBe(1);
    expect(keptShare('src host 10.98.0.1', 'host', 64, 3)).toBe(0);
    expect(keptShare('dst host 192.168.77.2 and udp src port 9', 'host', 64, 3)).toBe(1);
    expect(keptShare('len > 100', 'pktgen', 64, 3)).toBe(0);
    expect(keptShare('len > 100 and ip[2:2] = 498', 'pktgen', 512, 3)).toBe(1);
  });

  test("the filter's cost: each method's source rate over fastnet-drop-unfiltered's in the same round", () => {
    const runs = [
      sample('fastnet-drop-unfiltered', 1, 150_000),
      sample('fastnet-ring', 1, 140_000),
      sample('pcap', 1, 45_000),
      sample('fastnet-drop-unfiltered', 2, 100_000),
      sample('fastnet-ring', 2, 95_000),
      sample('pcap', 2, 40_000),
      sample('fastnet-drop-unfiltered', 3, 200_000),
      sample('fastnet-ring', 3, 150_000),
      sample('pcap', 3, 30_000),
    ];
    expect(formatFilterCost(runs)!.split('\n')).toEqual([
      "source rate against fastnet-drop-unfiltered's in the same round (median):",
      '    64 B    max  fastnet-ring  0.93x',
      '    64 B    max  pcap          0.30x',
    ]);
    expect(formatFilterCost(runs.filter((s) => s.method !== 'fastnet-drop-unfiltered'))).toBeNull();
  });

  test('the frames a run counts against: those kept, or every frame for the methods that ignore the filter', () => {
    const options = parseBenchOptions(['-f', 'udp dst port 9', '--ports', '10']);
    if (options === 'help') throw new Error('help');
    expect(keptFrames(100_003, 'pktgen', { size: 64, method: 'fastnet-ring' }, options)).toBe(10_000);
    expect(keptFrames(100_003, 'pktgen', { size: 64, method: 'fastnet-drop-unfiltered' }, options)).toBe(100_003);
    expect(keptFrames(100_003, 'pktgen', { size: 64, method: 'stack' }, options)).toBe(100_003);
  });
});

describe('the kmodlab command', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

  test('bench --help prints the options and exits 0', () => {
    const r = run('bench', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: kmodlab bench/);
    for (const option of ['--methods', '--source', '--rates', '--sizes', '--duration', '--repeats', '--slots', '--buffer-size', '--out', '--full', '--profile']) {
      expect(r.stdout).toContain(option);
    }
    // The methods, the defaults (pktgen's and host's) and what --full sweeps.
    expect(r.stdout).toContain(METHOD_NAMES.join(', '));
    expect(r.stdout).toContain(`(default ${DEFAULTS.rates};\n`);
    expect(r.stdout).toContain(`default ${HOST_DEFAULTS.rates})`);
    expect(r.stdout).toContain(`default ${DEFAULTS.bufferSize})`);
    expect(r.stdout).toContain(`rates ${FULL_SWEEP.rates}, sizes ${FULL_SWEEP.sizes},`);
    expect(r.stdout).toContain(`(host: rates ${HOST_FULL_SWEEP.rates})`);
    expect(r.stderr).toBe('');
    expect(run('bench', '-h').stdout).toBe(r.stdout);
  });

  test('a bad option: one clear line on stderr, the usage line, a pointer to --help, exit code 2', () => {
    const r = run('bench', '--sizes', '9000');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('kmodlab bench: --sizes must be an integer from 60 to 1514, got "9000"\nusage: kmodlab bench [options]\n(--help for more)\n');
  });

  test('--check-only: the same refusal as a run, exit code 2; good options print nothing and exit 0 (not root, no VM)', () => {
    for (const args of [['-z', '2000'], ['-m', 'pcap,af_xdp'], ['-s', 'host', '--pcap', 'no-such.pcapng'], ['-s', 'host', '-r', 'max']]) {
      const checked = run('bench', '--check-only', ...args);
      expect(checked.status).toBe(2);
      expect(checked.stdout).toBe('');
      expect(checked.stderr).toMatch(/^kmodlab bench: --/);
      expect(checked.stderr).toBe(run('bench', ...args).stderr);
    }
    for (const args of [[], ['-s', 'host', '-m', 'fastnet-zc,pcap', '-r', '5k'], ['-s', 'host', '--pcap', 'test/fixtures/sample-traffic.pcapng']]) {
      const ok = run('bench', '--check-only', ...args);
      expect({ status: ok.status, stdout: ok.stdout, stderr: ok.stderr }).toEqual({ status: 0, stdout: '', stderr: '' });
    }
  });

  test('npm start (qemu/main.sh) refuses a bad option on the host, with the guest\'s message, before the VM boots', () => {
    const r = spawnSync('bash', ['qemu/main.sh', '-z', '2000'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(run('bench', '-z', '2000').stderr);
    expect(r.stdout).not.toMatch(/qemu|\[vm\]|boot/i);
    const help = spawnSync('bash', ['qemu/main.sh', '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toBe(run('bench', '--help').stdout);
  }, 240_000);

  test('a method the source cannot feed is refused with the reason, exit code 2', () => {
    const r = run('bench', '-m', 'pcap,af_xdp');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/'af_xdp' does not run with source pktgen: generic XDP on pktgen's shared skbs/);
  });

  test('zero-copy methods are refused with pktgen, stack with host, exit code 2', () => {
    const zc = run('bench', '-m', 'pcap,fastnet-zc');
    expect(zc.status).toBe(2);
    expect(zc.stderr).toMatch(/'fastnet-zc' does not run with source pktgen: zero-copy needs a NIC .*--source host/);
    expect(run('bench', '-m', 'zc-ceiling').stderr).toMatch(/'zc-ceiling' does not run with source pktgen/);
    const stack = run('bench', '-s', 'host', '-m', 'pcap,stack');
    expect(stack.status).toBe(2);
    expect(stack.stderr).toMatch(/'stack' does not run with source host/);
  });

  test('--source host outside a VM booted with --traffic: says how to boot it (exit 1)', () => {
    const env = { ...process.env, KMODLAB_VM: '1', KMODLAB_TRAFFIC: '' };
    const r = spawnSync(process.execPath, [CLI, 'bench', '-s', 'host', '-m', 'pcap'], { encoding: 'utf8', env });
    expect(r.status).toBe(1);
    // Not root on the host: the VM check comes first; as root in a VM without --traffic, the traffic check.
    expect(r.stderr).toMatch(/runs inside the VM as root|boot the VM with --traffic/);
  });

  test('which methods each source runs by default', () => {
    const all = available();
    const pktgen = [...defaultMethods(all, 'pktgen').keys()];
    const host = [...defaultMethods(all, 'host').keys()];
    expect(pktgen).toEqual(['socket', 'socket-mmsg', 'pcap', 'fastnet-drop', 'fastnet-read', 'fastnet-ring']);
    expect(host).toEqual(['socket', 'socket-mmsg', 'pcap', 'af_xdp', 'fastnet-drop', 'fastnet-read', 'fastnet-ring', 'fastnet-zc', 'zc-ceiling']);
    // The references run by name only.
    for (const name of ['fastnet-ring-unbatched', 'tcpdump', 'tcpdump-fastnet', 'tcpdump-fastnet-pass', 'stack'] as const) expect(all.has(name)).toBe(true);
    for (const [source, refused] of Object.entries(NOT_WITH_SOURCE)) {
      for (const reason of Object.values(refused)) expect(reason).toMatch(new RegExp(source === 'pktgen' ? 'pktgen' : 'host'));
    }
  });

  test('outside the VM it says where it runs (exit 1); unknown commands exit 2', () => {
    const r = spawnSync(process.execPath, [CLI, 'bench', '-n', '1'], { encoding: 'utf8', env: { ...process.env, KMODLAB_VM: '' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/runs inside the VM as root/);
    const u = run('frobnicate');
    expect(u.status).toBe(2);
    expect(u.stderr).toMatch(/unknown command "frobnicate"/);
    expect(run().status).toBe(2);
  });
});

describe('CPU meter', () => {
  test('rates, calibration (median per CPU), busy shares within [0, 1], ns per frame', () => {
    const from = { atNs: 0n, iterations: [0n, 0n] };
    const to = { atNs: 2_000_000_000n, iterations: [200n, 100n] };
    expect(soakRates(from, to)).toEqual([100, 50]);
    expect(() => soakRates(to, from)).toThrow(RangeError);
    expect(calibrate([[100, 10], [300, 30], [200, 20]])).toEqual([200, 20]);
    expect(() => calibrate([])).toThrow(RangeError);
    // CPU 0 lost a quarter of its idle rate, CPU 1 all of it, CPU 2 soaked faster than idle (noise).
    const busy = busyShares([100, 100, 100], [75, 0, 120]);
    expect(busy).toEqual([0.25, 1, 0]);
    // 1.25 CPUs busy at 125,000 frames/s: 10 µs of CPU a frame.
    expect(cpuPerFrameNs(busy, 125_000)).toBeCloseTo(10_000, 6);
    expect(cpuPerFrameNs(busy, 0)).toBeNull();
  });

  test('/proc/stat: per-CPU lines parsed, shares summed over CPUs', () => {
    const a = parseProcStat('cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 100 0 50 800 0 0 50 0 0 0\ncpu1 0 0 0 1000 0 0 0 0 0 0\nintr 5\n');
    const b = parseProcStat('cpu0 200 0 100 1400 0 0 300 0 0 0\ncpu1 500 0 0 1500 0 0 0 0 0 0\n');
    expect(a).toHaveLength(2);
    expect(a[0]).toEqual({ user: 100, system: 50, idle: 800, irq: 0, softirq: 50, total: 1000 });
    const shares = procStatShares(a, b);
    expect(shares.user).toBeCloseTo(0.1 + 0.5);
    expect(shares.system).toBeCloseTo(0.05);
    expect(shares.softirq).toBeCloseTo(0.25);
    expect(shares.busy).toBeCloseTo(0.4 + 0.5);
  });

  test('the soaker helper counts on every CPU and stops with close()', async () => {
    const cpus = os.cpus().length;
    const soaker = await Soaker.start(soakerBinary(ROOT), cpus, path.join(os.tmpdir(), `kmodlab-soak-test-${process.pid}`));
    try {
      // SCHED_IDLE: on a busy host a CPU's counter may stand still for a while, so wait for each.
      const first = soaker.sample();
      expect(first.iterations).toHaveLength(cpus);
      let last = first;
      for (let i = 0; i < 200 && last.iterations.some((n, cpu) => n <= first.iterations[cpu]); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        last = soaker.sample();
      }
      for (const rate of soakRates(first, last)) expect(rate).toBeGreaterThan(0);
    } finally {
      soaker.close();
    }
    // At SCHED_IDLE on a busy host the signalled soaker may wait a while for a CPU to die on.
    const alive = () => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes(`kmodlab-soak-test-${process.pid}`);
    for (let i = 0; i < 100 && alive(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(alive()).toBe(false);
  }, 30_000);

  test('a missing soaker binary is ENOENT with its path', async () => {
    await expect(Soaker.start('/nonexistent/soaker', 1)).rejects.toMatchObject({ code: 'ENOENT', path: '/nonexistent/soaker' });
  });
});

describe('sweep schedule', () => {
  test('every method runs once per round, and each round starts with the next method', () => {
    expect(rotate(['a', 'b', 'c'], 1)).toEqual(['b', 'c', 'a']);
    expect(rotate(['a', 'b', 'c'], 5)).toEqual(['c', 'a', 'b']);
    expect(rotate([], 3)).toEqual([]);
    const methods: MethodName[] = ['pcap', 'fastnet-ring', 'fastnet-drop'];
    const runs = schedule(methods, { sizes: [64, 1500], rates: [50_000, 'max'], repeats: 3 });
    expect(runs).toHaveLength(2 * 2 * 3 * 3);
    const firsts = runs.filter((r) => r.order === 0).map((r) => r.method);
    expect(firsts.slice(0, 3)).toEqual(['pcap', 'fastnet-ring', 'fastnet-drop']);
    for (let i = 0; i < runs.length; i += 3) {
      expect(new Set(runs.slice(i, i + 3).map((r) => r.method)).size).toBe(3);
    }
  });
});

function sample(method: MethodName, repeat: number, deliveredPps: number, extra: Partial<Sample> = {}): Sample {
  return {
    source: 'pktgen',
    method,
    size: 64,
    offered: 'max',
    repeat,
    order: 0,
    sent: deliveredPps,
    kept: deliveredPps,
    elapsedSec: 1,
    sourcePps: deliveredPps,
    delivered: deliveredPps,
    deliveredPps,
    ipv4: deliveredPps,
    lost: 0,
    lossPct: 0,
    captureDropped: 0,
    nicMissed: null,
    hostDropped: null,
    busy: [0.5, 0.5],
    procStat: { user: 1, system: 0.2, softirq: 0.3, busy: 2 },
    cpuPerFrameNs: 1e9 / deliveredPps,
    ...extra,
  };
}

describe('report', () => {
  const samples = [
    sample('pcap', 1, 50_000),
    sample('fastnet-ring', 1, 100_000),
    sample('pcap', 2, 25_000),
    sample('fastnet-ring', 2, 75_000, { lossPct: 1 }),
    sample('pcap', 3, 40_000),
    sample('fastnet-ring', 3, 90_000),
  ];

  test('medians, spread, and the ratio to the reference taken within each round', () => {
    expect(referenceMethod(['fastnet-ring', 'pcap', 'tcpdump'])).toBe('pcap');
    expect(referenceMethod(['fastnet-ring', 'tcpdump'])).toBe('tcpdump');
    expect(referenceMethod(['fastnet-ring'])).toBeNull();
    const [pcap, ring] = summarize(samples, 'pcap');
    expect(pcap).toMatchObject({ method: 'pcap', runs: 3, deliveredPps: 40_000, deliveredPpsMin: 25_000, deliveredPpsMax: 50_000, ratio: 1 });
    expect(ring).toMatchObject({ method: 'fastnet-ring', deliveredPps: 90_000, lossPct: 0 });
    // Per round: 2, 3, 2.25 -> 2.25 (the ratio of medians would be 2.25 too, but round 2 alone says 3).
    expect(ring.ratio).toBeCloseTo(2.25);
    expect(ring.cpuPerFrameNs).toBeCloseTo(1e9 / 90_000);
    expect(summarize(samples, null)[0].ratio).toBeNull();
  });

  test('the table has a header and a row per method and point', () => {
    const table = formatTable(summarize(samples, 'pcap'), 'pktgen', 'pcap').split('\n');
    expect(table[0]).toBe('source pktgen');
    expect(table[1].split(/\s{2,}/)).toEqual(['method', 'bytes', 'offered kpps', 'source kpps', 'delivered kpps', '(min-max)', 'loss %', 'CPU ns/frame', 'x pcap']);
    expect(table).toHaveLength(4);
    expect(table[3].split(/\s+/)).toEqual(['fastnet-ring', '64', 'max', '90.0', '90.0', '75.0-100.0', '0.00', '11111', '2.25']);
  });

  test('the rows of every point are in the order of -m, whichever method each round started with', () => {
    const order: MethodName[] = ['fastnet-ring', 'pcap', 'socket'];
    const runs = schedule(order, { sizes: [64], rates: [20_000, 'max'], repeats: 2 });
    const swept = runs.map((r) => sample(r.method, r.repeat, 10_000 * (1 + order.indexOf(r.method)), { offered: r.offered, order: r.order }));
    // The 'max' point's rounds start with socket then fastnet-ring: as seen, its rows would start with socket.
    expect(summarize(swept, 'pcap').filter((s) => s.offered === 'max')[0].method).toBe('socket');
    const rows = formatTable(summarize(swept, 'pcap', order), 'pktgen', 'pcap')
      .split('\n')
      .slice(2)
      .map((line) => line.split(/\s+/).slice(0, 3).join(' '));
    expect(rows).toEqual([
      'fastnet-ring 64 20.0',
      'pcap 64 20.0',
      'socket 64 20.0',
      'fastnet-ring 64 max',
      'pcap 64 max',
      'socket 64 max',
    ]);
  });

  test("a replayed file's points (size 0) show as pcap in the table", () => {
    const replayed = samples.map((s) => ({ ...s, size: 0 }));
    const table = formatTable(summarize(replayed, 'pcap'), 'pktgen', 'pcap').split('\n');
    expect(table[3].split(/\s+/).slice(0, 2)).toEqual(['fastnet-ring', 'pcap']);
  });

  test('plot data: a block per method, x = the offered rate index; the script names every method', () => {
    const points = [...samples, sample('pcap', 1, 20_000, { offered: 20_000 })];
    const { data, methods } = plotData(summarize(points, 'pcap'), 'pktgen', 64, [20_000, 'max']);
    expect(methods).toEqual(['pcap', 'fastnet-ring']);
    const blocks = data.trimEnd().split('\n\n\n');
    expect(blocks).toEqual(['0 "20.0" 20000 20000 20000\n1 "max" 40000 25000 50000', '1 "max" 90000 75000 100000']);
    const script = plotScript('/o/x.dat', { source: 'pktgen', size: 64, rates: [20_000, 'max'], methods }, 'svg', '/o/x.svg');
    expect(script).toContain('set output "/o/x.svg"');
    expect(script).toContain('set title "pktgen, 64-byte frames: delivered against offered"');
    expect(script).toContain('"/o/x.dat" index 1 using 1:($3/1000):($4/1000):($5/1000):xtic(2) with yerrorlines title "fastnet-ring"');
    expect(script).not.toMatch(/with boxes/);
  });

  // The names gnuplot's enhanced text would mangle: _ makes a subscript, - may be taken apart too.
  const odd: MethodName[] = ['af_xdp', 'fastnet-ring', 'socket-mmsg', 'fastnet-zc'];
  const oddSamples = (offered: number | 'max', source: 'pktgen' | 'host' = 'pktgen') =>
    odd.map((method, i) => sample(method, 1, 10_000 * (i + 1), { offered, source, nicMissed: source === 'host' ? 0 : null, hostDropped: source === 'host' ? 0 : null }));

  test('plot script: enhanced text off (set termoption noenhanced, right after the terminal), names quoted as written', () => {
    for (const rates of [[20_000, 'max'], ['max']] as const) {
      const summaries = summarize(rates.flatMap((rate) => oddSamples(rate)), null);
      const { methods } = plotData(summaries, 'pktgen', 64, [...rates]);
      expect(methods).toEqual(odd);
      const lines = plotScript('/o/x.dat', { source: 'pktgen', size: 64, rates: [...rates], methods }, 'pngcairo size 900,540', '/o/x.png').split('\n');
      expect(lines.slice(0, 2)).toEqual(['set terminal pngcairo size 900,540', 'set termoption noenhanced']);
      expect(lines.filter((line) => /enhanced/.test(line) && !/noenhanced/.test(line))).toEqual([]);
      if (rates.length > 1) for (const method of odd) expect(lines.join('\n')).toContain(`title "${method}"`);
    }
  });

  test('plot with one offered rate: a bar per method (boxes, x = the method, xtic = its name), min-max whiskers, the offered rate dashed', () => {
    const summaries = summarize(oddSamples(20_000), null);
    const { data, methods } = plotData(summaries, 'pktgen', 64, [20_000]);
    expect(data).toBe('0 "af_xdp" 10000 10000 10000\n1 "fastnet-ring" 20000 20000 20000\n2 "socket-mmsg" 30000 30000 30000\n3 "fastnet-zc" 40000 40000 40000\n');
    const script = plotScript('/o/x.dat', { source: 'pktgen', size: 64, rates: [20_000], methods }, 'svg', '/o/x.svg');
    expect(script).toContain('set title "pktgen, 64-byte frames: delivered per method"');
    expect(script).toContain('"/o/x.dat" using 1:($3/1000):($1+1):xtic(2) with boxes lc variable notitle');
    expect(script).toContain('with candlesticks whiskerbars');
    expect(script).toContain('set xrange [-0.6:3.6]');
    expect(script).toContain('set xlabel "method (dashed: offered 20.0 kpps)"');
    expect(script).toMatch(/^plot 20 with lines dt 2 /m);
    expect(script).not.toMatch(/yerrorlines|index \d/);
    // pktgen's max: no dashed line, the xlabel says what max is.
    const max = plotScript('/o/x.dat', { source: 'pktgen', size: 64, rates: ['max'], methods }, 'svg', '/o/x.svg');
    expect(max).toContain('with boxes');
    expect(max).toContain('set xlabel "method (offered: max, as fast as pktgen goes)"');
    expect(max).not.toMatch(/with lines/);
    // Many long names side by side: slanted.
    expect(max).toContain("set xtics scale 0\n");
    const many: MethodName[] = ['socket', 'socket-mmsg', 'pcap', 'af_xdp', 'fastnet-drop', 'fastnet-read', 'fastnet-ring', 'fastnet-ring-unbatched'];
    expect(plotScript('/o/x.dat', { source: 'pktgen', size: 64, rates: ['max'], methods: many }, 'svg', '/o/x.svg')).toContain('set xtics scale 0 rotate by 30 right');
  });

  test("host source: the x label is the host's paced rate, never pktgen's max", () => {
    const methods: MethodName[] = ['pcap', 'fastnet-zc'];
    const lines = plotScript('/o/x.dat', { source: 'host', size: 64, rates: [10_000, 30_000], methods }, 'svg', '/o/x.svg');
    expect(lines).toContain('set xlabel "offered kpps (paced by the host)"');
    const bars = plotScript('/o/x.dat', { source: 'host', size: 512, rates: [30_000], methods }, 'svg', '/o/x.svg');
    expect(bars).toContain('set xlabel "method (dashed: offered 30.0 kpps, paced by the host)"');
    expect(bars).toMatch(/^plot 30 with lines dt 2 /m);
    for (const script of [lines, bars]) {
      expect(script.split('\n').find((line) => line.startsWith('set xlabel'))).not.toMatch(/max/);
    }
    expect(plotScript('/o/x.dat', { source: 'pktgen', size: 64, rates: [20_000, 'max'], methods }, 'svg', '/o/x.svg')).toContain(
      'set xlabel "offered kpps (max: as fast as pktgen goes)"',
    );
  });

  test('drawPlots: gnuplot draws SVG and PNG, and the SVG has the names as written', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmodlab-plot-'));
    try {
      for (const rates of [[20_000, 'max'], ['max']] as const) {
        const base = path.join(dir, `bench-${rates.length}`);
        const summaries = summarize(rates.flatMap((rate) => oddSamples(rate)), null);
        expect(drawPlots(summaries, 'pktgen', [64, 512], [...rates], base)).toEqual([
          `${base}-pktgen-64B.dat`,
          `${base}-pktgen-64B.svg`,
          `${base}-pktgen-64B.png`,
        ]);
        const svg = fs.readFileSync(`${base}-pktgen-64B.svg`, 'utf8');
        for (const method of odd) expect(svg).toContain(`>${method}<`);
        expect(fs.readFileSync(`${base}-pktgen-64B.png`).subarray(1, 4).toString()).toBe('PNG');
        expect(fs.existsSync(`${base}-pktgen-64B.svg.gp`)).toBe(false);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('every file drawPlots leaves is in its list and named in docs/benchmark.md', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmodlab-plot-'));
    const docs = fs.readFileSync(path.join(ROOT, 'docs', 'benchmark.md'), 'utf8');
    try {
      const listed = drawPlots(summarize(oddSamples(20_000), null), 'pktgen', [64], [20_000], path.join(dir, 'bench-<time>'));
      expect(fs.readdirSync(dir).sort()).toEqual(listed.map((file) => path.basename(file)).sort());
      for (const file of listed) expect(docs).toContain(`\`${path.basename(file).replace('-64B', '-<size>B')}\``);
      expect(docs).toContain('`bench-<time>.txt`');
      expect(docs).toContain('`bench-<time>.json`');
      expect(docs).toContain('`bench-<time>-pktgen-<size>B.svg.gp`');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('host source: the loss split into its parts, the loss-free rate per method, ratios to pcap and the ceiling', () => {
    const host = (method: MethodName, offered: number, repeat: number, delivered: number, parts: Partial<Sample> = {}) =>
      sample(method, repeat, delivered, {
        source: 'host',
        offered,
        sent: offered,
        kept: offered,
        delivered,
        lost: offered - delivered,
        lossPct: (100 * (offered - delivered)) / offered,
        nicMissed: 0,
        hostDropped: 0,
        ...parts,
      });
    const points = [
      host('pcap', 10_000, 1, 10_000),
      host('pcap', 30_000, 1, 20_000, { captureDropped: 6000, nicMissed: 1000, hostDropped: 2000 }),
      host('fastnet-zc', 10_000, 1, 10_000),
      host('fastnet-zc', 30_000, 1, 29_990),
      host('zc-ceiling', 10_000, 1, 10_000),
      host('zc-ceiling', 30_000, 1, 30_000),
      host('fastnet-ring', 10_000, 1, 9_000),
      host('fastnet-ring', 30_000, 1, 9_000),
    ];
    expect(lostOther(points[1])).toBe(1000);
    const summaries = summarize(points, 'pcap');
    expect(summaries.find((s) => s.method === 'pcap' && s.offered === 30_000)!.lostParts).toEqual({ capture: 6000, nic: 1000, host: 2000, other: 1000 });
    const rates = lossFreeRates(summaries, 'host', 64);
    expect(rates.get('pcap')).toBe(10_000);
    // 10 of 30,000 lost: 0.033%, under 0.1%.
    expect(rates.get('fastnet-zc')).toBe(30_000);
    expect(rates.get('zc-ceiling')).toBe(30_000);
    expect(rates.get('fastnet-ring')).toBeNull();
    const text = formatLossFree(summaries, 'host', 'pcap');
    expect(text).toMatch(/fastnet-zc +30\.0 kpps \(3\.00x pcap, 100% of zc-ceiling\)/);
    expect(text).toMatch(/fastnet-ring +none of the rates offered/);
    const table = formatTable(summaries, 'host', 'pcap').split('\n');
    expect(table[1]).toMatch(/lost: own\/NIC\/host\/other$/);
    expect(table.find((line) => line.startsWith('pcap') && line.includes(' 30.0 '))).toMatch(/6000\/1000\/2000\/1000$/);
    expect(table[0]).toBe('source host');
    // The device the frames came in on, when the bench names it (the host source's NIC).
    expect(formatTable(summaries, 'host', 'pcap', 'eth0 virtio_net').split('\n')[0]).toBe('source host, eth0 virtio_net');
  });

  test("tcpdump's closing report is parsed; a report without counts is an error", () => {
    const report = 'listening on kbench0\n1234 packets captured\n1300 packets received by filter\n66 packets dropped by kernel\n';
    expect(parseTcpdumpReport(report)).toEqual({ frames: 1234, ipv4: 1234, bytes: 0, captureDropped: 66 });
    expect(() => parseTcpdumpReport('tcpdump: kbench0: No such device')).toThrow(/no "captured"/);
  });
});
