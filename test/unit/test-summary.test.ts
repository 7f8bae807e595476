// qemu/test-summary.js decides npm test's result from jest's JSON files, and it is the only
// place a failure is named when a lane's output is cut short (CI keeps a part of it).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const SUMMARY = path.resolve('qemu/test-summary.js');

interface Assertion {
  fullName: string;
  status: 'passed' | 'failed' | 'pending';
  failureMessages: string[];
}

// A jest --json result with one file holding the given tests (or, with `message`, a file that did not run).
function result(file: string, assertions: Assertion[], message = ''): object {
  const failed = assertions.filter((a) => a.status === 'failed').length;
  return {
    numPassedTests: assertions.filter((a) => a.status === 'passed').length,
    numFailedTests: failed,
    testResults: [
      {
        name: `<dir>/${file}`, // summary() puts the run's directory in
        status: failed || message ? 'failed' : 'passed',
        message,
        startTime: 1000,
        endTime: 3500,
        assertionResults: assertions,
      },
    ],
  };
}

function summary(results: Record<string, object>, statuses: string[]): { status: number | null; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'summary-'));
  fs.mkdirSync(path.join(dir, 'out/test'), { recursive: true });
  for (const [part, json] of Object.entries(results)) {
    fs.writeFileSync(path.join(dir, `out/test/${part}.json`), JSON.stringify(json).replaceAll('<dir>', dir));
  }
  const r = spawnSync(process.execPath, [SUMMARY, ...statuses], { cwd: dir, encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true });
  return { status: r.status, out: r.stdout };
}

const pass = (fullName: string): Assertion => ({ fullName, status: 'passed', failureMessages: [] });

test('all passed: exit 0 and the total', () => {
  const r = summary({ unit: result('test/unit/a.test.ts', [pass('a'), pass('b')]) }, ['unit:0:12']);
  expect(r.status).toBe(0);
  expect(r.out).toContain('[test] time: unit 12 s');
  expect(r.out).toContain('2.5 s  unit  test/unit/a.test.ts (2 tests)');
  expect(r.out.trimEnd().split('\n').pop()).toBe('2 passed, 0 failed');
});

test('a failed test is named with the head of its message, without jest\'s own frames', () => {
  const message = [
    '\x1b[2mexpect(\x1b[22mreceived\x1b[2m).toBeLessThan(\x1b[22mexpected\x1b[2m)\x1b[22m',
    '',
    'Expected: < 45000',
    'Received:   51234',
    '    at Object.toBeLessThan (/repo/test/unit/vm-signals.test.ts:124:16)',
    '    at Promise.finally.completed (/repo/node_modules/jest-circus/build/jestAdapterInit.js:1834:28)',
    '    at new Promise (<anonymous>)',
  ].join('\n');
  const failed: Assertion = { fullName: 'signals stop the guest', status: 'failed', failureMessages: [message] };
  const r = summary(
    { unit: result('test/unit/vm-signals.test.ts', [pass('a'), failed]), vm: result('test/vm/b.test.ts', [pass('b')]) },
    ['unit:1:60', 'vm:0:600'],
  );
  expect(r.status).toBe(1);
  expect(r.out).toContain('[test] FAILED unit test/unit/vm-signals.test.ts: signals stop the guest\n');
  expect(r.out).toContain('expect(received).toBeLessThan(expected)');
  expect(r.out).toContain('Received:   51234');
  expect(r.out).toContain('vm-signals.test.ts:124:16');
  expect(r.out).not.toContain('jest-circus');
  expect(r.out).not.toContain('\x1b[');
  expect(r.out.trimEnd().split('\n').pop()).toBe('2 passed, 1 failed');
});

test('a file that did not run, a missing result and a run that failed after its tests each count as a failure', () => {
  const r = summary(
    {
      unit: result('test/unit/broken.test.ts', [], '  ● Test suite failed to run\n\n    SyntaxError: Unexpected token'),
      debug: result('test/vm/c.test.ts', [pass('c')]),
    },
    ['unit:1:5', 'vm:1:?', 'debug:1:900'],
  );
  expect(r.status).toBe(1);
  expect(r.out).toContain('[test] FAILED unit test/unit/broken.test.ts: the file did not run');
  expect(r.out).toContain('SyntaxError: Unexpected token');
  expect(r.out).toContain('[test] vm: no results (out/test/vm.json missing): counted as 1 failure');
  expect(r.out).toContain('[test] debug: the run failed after its tests');
  expect(r.out.trimEnd().split('\n').pop()).toBe('1 passed, 3 failed');
});
