// fastnet's lock order: bind (ring allocation, then RTNL), mmap() of the
// same session (under the mmap lock) and SIOCGIFCONF (RTNL held across a
// faulting copy_to_user()) once closed a cycle that hung the process and
// left RTNL held system-wide. The attack runs in a child process
// (test/helpers/fastnet-lockorder.c) watched with a time limit.
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { Topology } from './fastnet-net';

const LOCKORDER = path.join(__dirname, '..', '..', 'out', 'bin', 'fastnet-lockorder');
const ROUNDS = 8;
// A round binds a 128 MiB ring: seconds under TCG, not minutes.
const LIMIT_MS = 240_000;

let net: Topology;

beforeAll(() => {
  net = new Topology(4);
});

afterAll(() => net?.close());

interface Run {
  status: number | null;
  stdout: string;
  timedOut: boolean;
}

/** Runs the helper; SIGKILL and timedOut when it outlives `ms`. */
function runWithLimit(args: string[], ms: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(LOCKORDER, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, ms);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, timedOut });
    });
  });
}

/** RTNL is free: `ip link show` answers. */
function rtnlAnswers(): boolean {
  const r = spawnSync('ip', ['link', 'show', net.dev], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 && r.stdout.includes(net.dev);
}

test(
  'bind with a 128 MiB ring, mmap of the same session and SIOCGIFCONF into untouched pages, in three threads: nothing hangs',
  async () => {
    const run = await runWithLimit(['race', net.dev, String(ROUNDS)], LIMIT_MS);
    // stdout in the comparison: a failure shows how many rounds went through.
    expect(run).toEqual({ timedOut: false, status: 0, stdout: expect.stringContaining(`ok ${ROUNDS}\n`) });
    // The race was run: SIOCGIFCONF calls were made while binds ran.
    const calls = [...run.stdout.matchAll(/^round \d+ ifconf (\d+)$/gm)].map((m) => Number(m[1]));
    expect(calls).toHaveLength(ROUNDS);
    expect(calls.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(rtnlAnswers()).toBe(true);
  },
  LIMIT_MS + 60_000,
);

test('the same three calls in sequence in one thread (the lockdep probe) succeed', async () => {
  const run = await runWithLimit(['sequence', net.dev], 60_000);
  expect(run).toEqual({ status: 0, stdout: 'ok\n', timedOut: false });
  expect(rtnlAnswers()).toBe(true);
}, 120_000);
