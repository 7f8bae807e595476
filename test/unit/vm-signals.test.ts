// Ctrl-C and SIGTERM on the host, sent to qemu/vm.sh's process group as a
// terminal (or a supervisor killing a job) does: the guest command gets the
// signal, and within a bounded time no QEMU, no framegen, no tail and no
// out/vm/run-* folder of the run remain. (Each case boots a VM: about 10 s
// under TCG.)
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

jest.setTimeout(240_000);

/** The host processes of run PID (QEMU, framegen, tail: their command lines name out/vm/run-PID). */
function processesOfRun(pid: number): { pid: number; cmdline: string }[] {
  const mark = new RegExp(`vm/run-${pid}(?![0-9])`);
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0').join(' ').trim();
    } catch {
      continue; // gone meanwhile
    }
    if (mark.test(cmdline)) found.push({ pid: Number(entry), cmdline });
  }
  return found;
}

async function waitFor(what: string, ms: number, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(100);
  }
}

interface Stopped {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From the signal to vm.sh's exit. */
  ms: number;
  stderr: string;
  /** What the guest command's trap wrote: the signal it saw. */
  seen: string | null;
  leftProcesses: string[];
  leftRunDir: boolean;
}

/**
 * Boots `vm.sh -- bash -c SCRIPT` in its own process group, waits for the
 * command to start, sends `signal` to the group, and reports what is left
 * once vm.sh has exited (or 60 s have passed).
 */
async function stopRun(signal: 'SIGINT' | 'SIGTERM', extraArgs: string[]): Promise<Stopped> {
  fs.mkdirSync(path.join(root, 'out'), { recursive: true });
  // Under out/: shared read-write with the guest, which runs at the project's root.
  const scratch = fs.mkdtempSync(path.join(root, 'out', 'vm-signals-'));
  const rel = path.relative(root, scratch);
  const script =
    `trap 'echo INT >${rel}/seen; exit 130' INT; trap 'echo TERM >${rel}/seen; exit 143' TERM; ` +
    `echo started >${rel}/started; sleep 600; echo none >${rel}/seen`;
  const child = spawn(
    'bash',
    ['qemu/vm.sh', '--no-build', '--smp', '1', '--mem', '512', '--timeout', '400', ...extraArgs, '--', 'bash', '-c', script],
    { cwd: root, detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const pid = child.pid!;
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = new Promise<void>((resolve) => child.on('exit', (code, sig) => ((exit = { code, signal: sig }), resolve())));
  try {
    await waitFor(`the guest command of run ${pid} to start (stderr: ${stderr})`, 120_000, () =>
      fs.existsSync(path.join(scratch, 'started')),
    );
    const sent = Date.now();
    process.kill(-pid, signal);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 60_000)))]);
    clearTimeout(timer);
    const ms = Date.now() - sent;
    // framegen and tail are sent SIGTERM on vm.sh's way out: give them a moment to go.
    await waitFor('the run processes to go', 3000, () => processesOfRun(pid).length === 0).catch(() => {});
    const seenFile = path.join(scratch, 'seen');
    const got = exit as { code: number | null; signal: NodeJS.Signals | null } | null;
    return {
      code: got?.code ?? null,
      signal: got?.signal ?? null,
      ms,
      stderr,
      seen: fs.existsSync(seenFile) ? fs.readFileSync(seenFile, 'utf8').trim() : null,
      leftProcesses: processesOfRun(pid).map((p) => `${p.pid} ${p.cmdline.slice(0, 100)}`),
      leftRunDir: fs.existsSync(path.join(root, 'out', 'vm', `run-${pid}`)),
    };
  } finally {
    // Whatever the outcome, this run's leftovers go: vm.sh, then QEMU and the rest, by pid.
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
    for (const p of processesOfRun(pid)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** The run's outcome, with what vm.sh said when the guest command did not see `signal`. */
function outcome(r: Stopped, signal: string): object {
  return {
    seen: r.seen,
    leftProcesses: r.leftProcesses,
    leftRunDir: r.leftRunDir,
    ...(r.seen === signal ? {} : { code: r.code, ms: r.ms, stderr: r.stderr.split('\n').filter((line) => line.startsWith('[vm]')) }),
  };
}

test('Ctrl-C (SIGINT to the group): the guest command sees SIGINT; no QEMU, framegen or run folder is left', async () => {
  const r = await stopRun('SIGINT', ['--traffic']);
  expect(outcome(r, 'INT')).toEqual({
    seen: 'INT',
    leftProcesses: [],
    leftRunDir: false,
  });
  expect(r.code).toBe(130);
  expect(r.ms).toBeLessThan(45_000);
  expect(r.stderr).toContain('[vm] SIGINT: passing it to the guest command');
  expect(r.stderr).toContain("[vm] stopped by SIGINT: the command's exit status 130");
});

test('SIGTERM to the group: the guest command sees SIGTERM; no QEMU or run folder is left', async () => {
  const r = await stopRun('SIGTERM', []);
  expect(outcome(r, 'TERM')).toEqual({
    seen: 'TERM',
    leftProcesses: [],
    leftRunDir: false,
  });
  expect(r.code).toBe(143);
  expect(r.ms).toBeLessThan(45_000);
  expect(r.stderr).toContain("[vm] stopped by SIGTERM: the command's exit status 143");
});
