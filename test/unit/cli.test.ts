// Every command-line entry point (lib/cli, lib/examples, kmodlab-run) on the
// host: --help prints usage and exits 0; unknown options, missing or bad
// values print one message and the usage line, no stack trace, and exit 2,
// before touching any device; saved results are not replaced unless asked.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ENTRIES = [
  'dist/cli/memory-info-bench.js',
  ...fs
    .readdirSync('dist/examples')
    .filter((f) => f.endsWith('.js'))
    .map((f) => `dist/examples/${f}`),
  'dist/cli/run.js',
];

function run(args: string[]) {
  const r = spawnSync('node', args, { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 2, the message, the usage line, and no stack trace. */
function expectUsageError(r: ReturnType<typeof run>, message: RegExp | string): void {
  expect(r.stderr).toMatch(message);
  expect(r.stderr).toMatch(/^usage: /m);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stdout).toBe('');
  expect(r.status).toBe(2);
}

jest.setTimeout(120_000);

test('the entry points are all there', () => {
  expect(ENTRIES).toEqual(
    expect.arrayContaining(['dist/examples/kshram-message.js', 'dist/examples/fastnet-demo.js', 'dist/cli/run.js']),
  );
  expect(ENTRIES.length).toBeGreaterThanOrEqual(9);
});

test.each(ENTRIES)('%s --help prints its usage and exits 0', (entry) => {
  const r = run([entry, '--help']);
  expect(r.stderr).toBe('');
  expect(r.stdout).toMatch(/^usage: \S/);
  expect(r.stdout).toMatch(/--help\s+print this help/);
  expect(r.status).toBe(0);
  expect(run([entry, '-h']).stdout).toBe(r.stdout);
});

test.each(ENTRIES)('%s refuses an unknown option with exit 2', (entry) => {
  expectUsageError(run([entry, '--no-such-option']), /: Unknown option '--no-such-option'\./);
});

test.each([
  [['dist/cli/memory-info-bench.js', '--rounds', 'abc'], /--rounds must be an integer from 1 to 1000, got "abc"/],
  [['dist/cli/memory-info-bench.js', '--rounds'], /Option '--rounds <value>' argument missing/],
  [['dist/cli/memory-info-bench.js', '--sizes', '5000,x'], /--sizes must be an integer from 1 to 10000000, got "x"/],
  [['dist/cli/memory-info-bench.js', 'extra'], /unexpected argument "extra"/],
  [['dist/examples/kshram-message.js', 'write', '9', 'hi'], /SLOT must be an integer from 0 to 7, got "9"/],
  [['dist/examples/kshram-message.js', 'send', '1'], /unknown verb "send"/],
  [['dist/examples/kshram-message.js'], /missing arguments/],
  [['dist/examples/kshram-resize.js', '0'], /SIZE must be an integer from 1 to 4194304, got "0"/],
  [['dist/examples/kshram-share.js', '1', 'many'], /COUNT must be an integer/],
  [['dist/examples/memory-info-command.js', 'ALL', 'RESET'], /unexpected argument "RESET"/],
  [['dist/examples/kshram-demo.js', 'now'], /unexpected argument "now"/],
  [['dist/cli/run.js'], /missing argument/],
  [['dist/cli/run.js', 'no/such/script.ts'], /no\/such\/script\.ts: no such file/],
])('%j: bad input is a usage error', (args, message) => {
  expectUsageError(run(args), message);
});

test('the benchmark refuses to replace a saved result unless --force, before measuring', () => {
  const dir = fs.mkdtempSync(path.join('out', 'cli-test-'));
  try {
    const saved = path.join(dir, 'memory-info.json');
    fs.writeFileSync(saved, '{"kept": true}\n');
    const r = run(['dist/cli/memory-info-bench.js', '--output', saved, '--rounds', '1']);
    expectUsageError(r, /memory-info\.json exists: pass --force to replace it/);
    expect(fs.readFileSync(saved, 'utf8')).toBe('{"kept": true}\n');
    // With --force it goes on to measure, which on the host fails at /proc/memory_info (exit 1, one line).
    const forced = run(['dist/cli/memory-info-bench.js', '--output', saved, '--rounds', '1', '--sizes', '1', '--force']);
    expect(forced.stderr).not.toMatch(/exists/);
    expect(forced.status).not.toBe(0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
