// The package imported by its own name ('kmodlab') from scripts in the project
// tree, TypeScript and JavaScript, with types; kmodlab-run runs and checks them.
import { spawnSync } from 'node:child_process';

const RUN = 'node_modules/.bin/kmodlab-run';
const FIXTURES = 'test/fixtures/scripts';

function run(command: string, args: string[]) {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

jest.setTimeout(60_000);

test('plain JavaScript requires it by name', () => {
  const r = run('node', [`${FIXTURES}/self-import.js`]);
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual({ slots: 8, fastnetOpen: 'function', parse: 'function', veth: 'function' });
});

test('an ES module imports it by name', () => {
  const r = run('node', [`${FIXTURES}/self-import.mjs`]);
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual({ slots: 8, veth: 'function' });
});

test('kmodlab-run runs a TypeScript file with its arguments, as the main module, top-level await included', () => {
  const r = run(RUN, [`${FIXTURES}/self-import.ts`, 'one', '--two']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({
    slots: 8,
    parsed: 'success',
    fastnetOpen: 'function',
    veth: 'function',
    kmod: 'function',
    args: ['one', '--two'],
    main: true,
  });
});

test('a kmodlab-run script forks itself: the TypeScript child gets the same loader and answers', () => {
  const r = run(RUN, [`${FIXTURES}/fork.ts`]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({ child: true, args: ['child', '--arg'], awaited: 'top-level await in the child', code: 0 });
});

test('kmodlab-run --check finds the types and reports type errors', () => {
  const ok = run(RUN, ['--check', `${FIXTURES}/self-import.ts`]);
  expect(ok.stderr).toBe('');
  expect(ok.stdout).toContain('no type errors');
  expect(ok.status).toBe(0);
  const bad = run(RUN, ['--check', `${FIXTURES}/type-error.ts`]);
  expect(bad.status).toBe(1);
  expect(bad.stderr).toMatch(/type-error\.ts\(4,7\): error TS2322: Type 'number' is not assignable to type 'string'/);
});

test('a script that throws exits 1 with the stack pointing at its .ts line', () => {
  const r = run(RUN, ['test/fixtures/scripts/throws.ts']);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/RangeError: The value of "index" is out of range/);
  expect(r.stderr).toMatch(/code: .ERR_OUT_OF_RANGE./);
  expect(r.stderr).toMatch(/throws\.ts:6:\d+/);
});
