// The kmodlab command line on the host: --help, usage errors (exit 2), and
// refusing to overwrite a file, all before any capture opens.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'kmodlab.js');

function kmodlab(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmodlab-cli-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('kmodlab --help lists the commands; no command is a usage error', () => {
  const help = kmodlab('--help');
  expect(help.status).toBe(0);
  expect(help.stdout).toMatch(/^usage: kmodlab COMMAND/);
  expect(help.stdout).toMatch(/^ {2}capture /m);
  expect(help.stdout).toMatch(/^ {2}bench /m);
  const none = kmodlab();
  expect(none.status).toBe(2);
  expect(none.stderr).toBe(help.stdout);
  const bogus = kmodlab('--bogus');
  expect(bogus.status).toBe(2);
  expect(bogus.stderr).toBe("kmodlab: Unknown option '--bogus'.\nusage: kmodlab COMMAND [options]\n(--help for more)\n");
});

test('an unknown command: exit 2', () => {
  const r = kmodlab('snoop');
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('unknown command "snoop"');
});

test('kmodlab capture --help: every option, exit 0', () => {
  const r = kmodlab('capture', '--help');
  expect(r.status).toBe(0);
  for (const option of ['--interface', '--write', '--method', '--count', '--snaplen', '--buffer-size', '--timeout', '--force']) {
    expect(r.stdout).toContain(option);
  }
  expect(r.stdout).toContain('socket-mmsg, pcap, af_xdp');
  expect(r.stdout).toContain('FILTER is a tcpdump expression');
  expect(r.stdout).toContain('Exit status: 0 done, 1 capture or file error, 2 usage error.');
});

test.each([
  ['an unknown option', ['-i', 'lo', '-w', 'x.pcap', '--bogus'], "Unknown option '--bogus'"],
  ['a missing value', ['-i', 'lo', '-w'], "Option '-w, --write <value>' argument missing"],
  ['no interface', ['-w', 'x.pcap'], '--interface DEV is required'],
  ['no file', ['-i', 'lo'], '--write FILE is required'],
  ['an unknown method', ['-i', 'lo', '-w', 'x.pcap', '-m', 'tcpdump'], '--method must be one of socket, socket-mmsg, pcap, af_xdp, fastnet-read, fastnet-ring, fastnet-zc, got "tcpdump"'],
  ['fastnet-drop, which hands no frames over', ['-i', 'lo', '-w', 'x.pcap', '-m', 'fastnet-drop'], '--method must be one of'],
  ['a count of 0', ['-i', 'lo', '-w', 'x.pcap', '-c', '0'], '--count must be an integer from 1 to 1099511627776, got "0"'],
  ['a count that is not a number', ['-i', 'lo', '-w', 'x.pcap', '-c', '10k'], '--count must be an integer from 1 to 1099511627776, got "10k"'],
  ['a negative snap length', ['-i', 'lo', '-w', 'x.pcap', '-s', '-5'], "Option '-s' argument is ambiguous."],
  ['a snap length out of range', ['-i', 'lo', '-w', 'x.pcap', '-s', '300000'], '--snaplen must be an integer from 1 to 262144, got "300000"'],
  ['a buffer size for fastnet-ring', ['-i', 'lo', '-w', 'x.pcap', '-m', 'fastnet-ring', '-B', '1024'], '--buffer-size applies to socket, socket-mmsg, pcap only'],
  ['--pass with af_xdp, which takes every frame', ['-i', 'lo', '-w', 'x.pcap', '-m', 'af_xdp', '--pass'], '--pass applies to socket, socket-mmsg, pcap, fastnet-read, fastnet-ring, fastnet-zc, not af_xdp'],
])('%s: exit 2 with a clear message', (_name, args, message) => {
  const r = kmodlab('capture', ...args);
  expect(r.status).toBe(2);
  // One line with the message, the usage line, a pointer to --help.
  expect(r.stderr).toMatch(/^kmodlab capture: .+\nusage: kmodlab capture -i DEV -w FILE .*\n\(--help for more\)\n$/);
  expect(r.stderr.split('\n')[0]).toContain(message);
  expect(r.stdout).toBe('');
  expect(fs.existsSync('x.pcap')).toBe(false);
});

test('a filter libpcap cannot compile, for any method: exit 1 with its message, no file left', () => {
  const file = path.join(dir, 'filter.pcap');
  for (const method of ['fastnet-zc', 'pcap']) {
    const r = kmodlab('capture', '-i', 'nosuchdev0', '-w', file, '-m', method, 'udp', 'port', 'zero');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("The \"filter\" option is not a valid filter expression: unknown port 'zero'");
    expect(fs.existsSync(file)).toBe(false);
  }
});

test('an existing file is refused (exit 1) and left alone, before any capture opens', () => {
  const file = path.join(dir, 'taken.pcap');
  fs.writeFileSync(file, 'precious');
  const r = kmodlab('capture', '-i', 'nosuchdev0', '-w', file, '-c', '1');
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('EEXIST');
  expect(r.stderr).toContain('-f');
  expect(fs.readFileSync(file, 'utf8')).toBe('precious');
});

test('an unknown device: exit 1 with the Node-style error, no file left', () => {
  const file = path.join(dir, 'none.pcap');
  const r = kmodlab('capture', '-i', 'nosuchdev0', '-w', file, '-m', 'socket');
  expect(r.status).toBe(1);
  expect(r.stderr).toContain("ENODEV: no such device, if_nametoindex 'nosuchdev0'");
  expect(fs.existsSync(file)).toBe(false);
});
