// Every command-line entry point (lib/cli, lib/examples, kmodlab-run) on the
// host: --help prints usage and exits 0; unknown options, missing or bad
// values print one message and the usage line, no stack trace, and exit 2,
// before touching any device; saved results are not replaced unless asked.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { type CommandSpec, UsageError, execute, helpText, parseCommandLine } from '../../lib/cli/args';

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
  [['dist/examples/capture-demo.js', '-n', '0'], /--frames must be an integer from 1 to 100000000, got "0"/],
  [['dist/examples/fastnet-zerocopy.js', 'fast'], /MODE must be one of zerocopy, ring, compare, got "fast"/],
  [['dist/examples/fastnet-zerocopy.js', 'ring', '5', '20000', '59'], /SIZE must be an integer from 60 to 1514, got "59"/],
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

describe('the parser and its runner (lib/cli/args.ts), in process', () => {
  const spec = {
    name: 'node dist/demo.js',
    synopsis: '[options] FILE...',
    description: 'A demo.',
    options: {
      count: { type: 'integer', short: 'c', value: 'N', min: 1, max: 10, default: 3, help: 'how many' },
      mode: { type: 'string', short: 'm', value: 'MODE', choices: ['fast', 'slow'] as const, help: 'how:\nfast or slow' },
      name: { type: 'string', value: 'NAME', required: true, help: 'who' },
      dry: { type: 'boolean', help: 'do nothing' },
    },
    positionals: { min: 1, max: 2 },
    epilog: 'Exit status: 0, 1 or 2.',
  } satisfies CommandSpec;

  const refusal = (argv: string[]): string => {
    try {
      parseCommandLine(spec, argv);
    } catch (error) {
      expect(error).toBeInstanceOf(UsageError);
      return (error as UsageError).message;
    }
    throw new Error(`no error for ${argv.join(' ')}`);
  };

  test('values converted and checked, defaults filled in, absent booleans false; --help is a result, not an exit', () => {
    expect(parseCommandLine(spec, ['--name', 'x', '-c', '7', '-m', 'slow', 'f1'])).toEqual({
      values: { count: 7, mode: 'slow', name: 'x', dry: false },
      positionals: ['f1'],
    });
    expect(parseCommandLine(spec, ['--name=x', '--dry', 'f1', 'f2'])).toEqual({
      values: { count: 3, mode: undefined, name: 'x', dry: true },
      positionals: ['f1', 'f2'],
    });
    expect(parseCommandLine(spec, ['-h'])).toBe('help');
    expect(parseCommandLine(spec, ['f1', '--help'])).toBe('help');
  });

  test('every refusal is a UsageError in one wording', () => {
    expect(refusal(['-c', '11', '--name', 'x', 'f'])).toBe('--count must be an integer from 1 to 10, got "11"');
    expect(refusal(['-c', 'two', '--name', 'x', 'f'])).toBe('--count must be an integer from 1 to 10, got "two"');
    expect(refusal(['-m', 'medium', '--name', 'x', 'f'])).toBe('--mode must be one of fast, slow, got "medium"');
    expect(refusal(['f'])).toBe('--name NAME is required');
    expect(refusal(['--name', 'x'])).toBe('missing argument');
    expect(refusal(['--name', 'x', 'a', 'b', 'c'])).toBe('unexpected argument "c"');
    expect(refusal(['--bogus'])).toBe("Unknown option '--bogus'.");
    expect(refusal(['--name'])).toBe("Option '--name <value>' argument missing");
  });

  test('--help is made from the spec: defaults, aligned continuation lines, the epilog', () => {
    expect(helpText(spec)).toBe(
      [
        'usage: node dist/demo.js [options] FILE...',
        '',
        'A demo.',
        '',
        'options:',
        '  -c, --count N    how many (default 3)',
        '  -m, --mode MODE  how:',
        '                   fast or slow',
        '      --name NAME  who',
        '      --dry        do nothing',
        '  -h, --help       print this help and exit',
        '',
        'Exit status: 0, 1 or 2.',
        '',
      ].join('\n'),
    );
  });

  test('execute(): 0 after --help, main\'s own status, 2 for a usage error, 1 for a failure with a code', async () => {
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await execute(spec, () => 9, ['--help'])).toBe(0);
      expect(out).toHaveBeenCalledWith(helpText(spec));
      expect(await execute(spec, () => 9, ['--name', 'x', 'f'])).toBe(9);
      expect(await execute(spec, async () => undefined, ['--name', 'x', 'f'])).toBe(0);
      expect(await execute(spec, () => 9, ['--name', 'x'])).toBe(2);
      expect(err).toHaveBeenLastCalledWith('demo.js: missing argument\nusage: node dist/demo.js [options] FILE...\n(--help for more)\n');
      const failure = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
      expect(
        await execute(spec, async () => {
          throw failure;
        }, ['--name', 'x', 'f']),
      ).toBe(1);
      expect(err).toHaveBeenLastCalledWith('demo.js: ENOENT: no such file\n');
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });
});
