// libpcap-fastnet.so (pcap/, docs/pcap-preload.md) against the libpcap
// programs it is for: every pcap_* function that Debian's tcpdump and dumpcap
// import and that takes a pcap_t is either answered by the library (exported
// by it) or on the reviewed list below of calls that are safe to pass to the
// real libpcap with the library's handle (a pcap_open_dead() one). A new
// libpcap call in a new tcpdump fails this test instead of silently reaching
// a dead handle. Then what the library does without the module, on the host:
// its refusals of bad names, as tcpdump and a plain C program show them, and
// tcpdump -r, which the library leaves to libpcap.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { PcapWriter } from '../../lib/pcap-file';

const ROOT = path.join(__dirname, '..', '..');
const LIB = path.join(ROOT, 'out', 'lib', 'libpcap-fastnet.so');
const PCAP_NEXT = path.join(ROOT, 'out', 'bin', 'pcap-next');
const PROGRAMS = ['/usr/bin/tcpdump', '/usr/bin/dumpcap'];
const HEADERS = ['/usr/include/pcap/pcap.h'];

/**
 * Reviewed: functions that take a pcap_t, that tcpdump or dumpcap import,
 * that the library does not answer, and why the real libpcap may have the
 * library's handle (pcap_open_dead(DLT_EN10MB, ...)) for them.
 */
const PASS_THROUGH: Record<string, string> = {
  pcap_list_datalinks: 'a dead handle lists its one link type, DLT_EN10MB: fastnet devices are Ethernet',
  pcap_set_datalink: 'a dead handle accepts its own link type (DLT_EN10MB) and refuses any other, as a fastnet device must',
  pcap_list_tstamp_types: "a dead handle lists PCAP_TSTAMP_HOST only, which is fastnet's (CLOCK_REALTIME in the kernel)",
};

/** Every function a header declares with a pcap_t parameter. */
function takesPcapT(): Set<string> {
  const names = new Set<string>();
  for (const header of HEADERS) {
    const text = fs.readFileSync(header, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\s+/g, ' ');
    for (const match of text.matchAll(/\b(pcap_\w+)\s*\(([^()]*)\)\s*;/g)) {
      if (/\bpcap_t\s*\*/.test(match[2])) names.add(match[1]);
    }
  }
  return names;
}

function dynamicSymbols(file: string, defined: boolean): string[] {
  const out = execFileSync('nm', ['-D', ...(defined ? ['--defined-only'] : ['--undefined-only']), file], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/).pop() ?? '')
    .map((name) => name.replace(/@.*$/, ''))
    .filter((name) => name.startsWith('pcap_'));
}

beforeAll(() => {
  execFileSync('make', ['-s', 'out/lib/libpcap-fastnet.so', 'out/bin/pcap-next'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}, 60_000);

describe('the calls of tcpdump and dumpcap', () => {
  const withPcapT = takesPcapT();

  test('the header parse finds what it must', () => {
    for (const name of ['pcap_activate', 'pcap_loop', 'pcap_setfilter', 'pcap_dump_open', 'pcap_close']) expect(withPcapT).toContain(name);
    for (const name of ['pcap_create', 'pcap_lookupnet', 'pcap_dump', 'pcap_freecode', 'pcap_findalldevs']) expect(withPcapT).not.toContain(name);
  });

  test.each(PROGRAMS)('every pcap_t call %s imports is answered or reviewed', (program) => {
    const answered = new Set(dynamicSymbols(LIB, true));
    const imported = dynamicSymbols(program, false);
    expect(imported).toEqual(expect.arrayContaining(['pcap_create', 'pcap_activate', 'pcap_close']));
    const unreviewed = imported.filter((name) => withPcapT.has(name) && !answered.has(name) && !(name in PASS_THROUGH));
    expect(unreviewed).toEqual([]);
  });

  test('the library answers the calls the issue names, and the reviewed list holds only calls it does not answer', () => {
    const answered = new Set(dynamicSymbols(LIB, true));
    const named = [
      'pcap_create', 'pcap_open_live', 'pcap_activate', 'pcap_set_snaplen', 'pcap_set_buffer_size', 'pcap_set_timeout',
      'pcap_set_immediate_mode', 'pcap_set_promisc', 'pcap_set_tstamp_precision', 'pcap_dispatch', 'pcap_loop', 'pcap_next',
      'pcap_next_ex', 'pcap_breakloop', 'pcap_setfilter', 'pcap_setdirection', 'pcap_setnonblock', 'pcap_getnonblock',
      'pcap_get_selectable_fd', 'pcap_stats', 'pcap_datalink', 'pcap_snapshot', 'pcap_close', 'pcap_geterr', 'pcap_findalldevs',
    ];
    expect(named.filter((name) => !answered.has(name))).toEqual([]);
    expect(Object.keys(PASS_THROUGH).filter((name) => answered.has(name) || !withPcapT.has(name))).toEqual([]);
    // Only libpcap's names: nothing else of the library's reaches the program.
    expect(execFileSync('nm', ['-D', '--defined-only', LIB], { encoding: 'utf8' }).split('\n').filter((l) => / T /.test(l) && !/ T pcap_/.test(l))).toEqual([]);
  });
});

describe('without the module (the host)', () => {
  const env = { ...process.env, LD_PRELOAD: LIB };

  test.each([
    ['fastnet:', 'No such device exists\n(fastnet: no device name after "fastnet:": name one, as in fastnet:eth0)'],
    ['fastnet-zc:', 'No such device exists\n(fastnet: no device name after "fastnet-zc:": name one, as in fastnet-zc:eth0)'],
    ['fastnet:nosuchdev0', 'No such device exists\n(fastnet: no device named nosuchdev0 in this network namespace)'],
    ['fastnet:averyveryverylongname', 'No such device exists\n(fastnet: device names have at most 15 characters)'],
  ])('tcpdump -i %s: exit 1, and why', (device, why) => {
    const run = spawnSync('tcpdump', ['-i', device, '-w', '/dev/null'], { env, encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(`tcpdump: ${device}: ${why}\n`);
  });

  test('a plain C program (pcap_open_live) gets the same reason in its errbuf', () => {
    const run = spawnSync(PCAP_NEXT, ['fastnet:nosuchdev0', '1'], { env, encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe('pcap_open_live: fastnet:nosuchdev0: No such device exists (fastnet: no device named nosuchdev0 in this network namespace)\n');
  });

  test('other devices and files are libpcap\'s: tcpdump -r reads a file, tcpdump -i of an unknown device says what libpcap says', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcap-preload-'));
    try {
      const file = path.join(dir, 'one.pcap');
      const frame = Buffer.alloc(60);
      frame.writeUInt16BE(0x0806, 12); // ARP
      using writer = PcapWriter.open(file);
      writer.write({ data: frame, timestampNs: 1_700_000_000_123_456_789n });
      writer.close();
      const withLib = spawnSync('tcpdump', ['-r', file, '-nn', '-tt', '--time-stamp-precision=nano'], { env, encoding: 'utf8' });
      const without = spawnSync('tcpdump', ['-r', file, '-nn', '-tt', '--time-stamp-precision=nano'], { encoding: 'utf8' });
      expect(withLib.status).toBe(0);
      expect(withLib.stdout).toMatch(/^1700000000\.123456789 ARP/);
      expect(withLib.stdout).toBe(without.stdout);
      const unknown = spawnSync('tcpdump', ['-i', 'nosuchdev0', '-w', '/dev/null'], { env, encoding: 'utf8' });
      const unknownWithout = spawnSync('tcpdump', ['-i', 'nosuchdev0', '-w', '/dev/null'], { encoding: 'utf8' });
      expect(unknown.status).toBe(1);
      expect(unknown.stderr).toBe(unknownWithout.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kmodlab pcap', () => {
  const CLI = path.join(ROOT, 'dist', 'cli', 'kmodlab.js');
  const kmodlab = (...args: string[]) => spawnSync(process.execPath, [CLI, 'pcap', ...args], { encoding: 'utf8', env: { ...process.env, LD_PRELOAD: '' } });

  test('--lib-path prints the library\'s path', () => {
    expect(kmodlab('--lib-path')).toMatchObject({ status: 0, stdout: `${LIB}\n`, stderr: '' });
  });

  test('-- COMMAND runs it with the library preloaded, and exits with its status (128 + N for signal N)', () => {
    expect(kmodlab('--', 'sh', '-c', 'echo "$LD_PRELOAD"; exit 7')).toMatchObject({ status: 7, stdout: `${LIB}\n` });
    expect(kmodlab('--', 'sh', '-c', 'kill -TERM $$')).toMatchObject({ status: 128 + 15 });
    const tcpdump = kmodlab('--', 'tcpdump', '-i', 'fastnet:nosuchdev0', '-w', '/dev/null');
    expect(tcpdump.status).toBe(1);
    expect(tcpdump.stderr).toContain('fastnet: no device named nosuchdev0 in this network namespace');
  });

  test('usage errors exit 2; a command that does not exist exits 1', () => {
    expect(kmodlab()).toMatchObject({ status: 2, stderr: expect.stringContaining('missing COMMAND') });
    expect(kmodlab('--lib-path', '--', 'tcpdump')).toMatchObject({ status: 2, stderr: expect.stringContaining('--lib-path takes no COMMAND') });
    expect(kmodlab('tcpdump', '-i', 'x')).toMatchObject({ status: 2 });
    expect(kmodlab('--', 'no-such-command-here')).toMatchObject({ status: 1, stderr: expect.stringContaining('ENOENT') });
  });
});
