// qemu/vm.sh on the host, booting real guests: the command's status and
// output come back, and a crashed or hung guest fails the run with the log's
// path. (Each case boots a VM: a few seconds under TCG.)
import { spawnSync } from 'node:child_process';

function vm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['qemu/vm.sh', '--no-build', '--smp', '1', '--mem', '512', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

jest.setTimeout(150_000);

test('runs the command in the guest and returns its output and exit status', () => {
  const r = vm(['--', 'bash', '-c', 'echo "kernel $(uname -r)"; test -d /sys/module/kshram && echo kshram loaded; exit 7']);
  expect(r.status).toBe(7);
  expect(r.stdout).toMatch(/^kernel 6\.\d+\.\d+-\d+-amd64$/m);
  expect(r.stdout).toContain('kshram loaded');
  expect(r.stderr).toMatch(/\[vm\] (tcg|kvm), 1 vCPU/);
});

test('output that goes to a pipe (as here) or a file has no ANSI colour, though the guest writes to a tty', () => {
  const pc = "const pc = require('picocolors'); console.log(pc.isColorSupported, pc.red('red'))";
  // CI=true, as npm test runs jest in the guest: picocolors (jest's code frames) colours for it.
  const script = `test -t 1 && echo "a tty: $TERM"; node -e "${pc}"; node -e "console.log(process.stdout.hasColors(), { n: 1 })"`;
  const r = vm(['--env', 'CI=true', '--', 'bash', '-c', script]);
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^a tty: dumb\nfalse red\nfalse \{ n: 1 \}$/m);
  expect(r.stdout).not.toContain('\x1b');
});

test('a kernel crash fails the run and names the guest log', () => {
  const r = vm(['--', 'sh', '-c', 'echo c > /proc/sysrq-trigger']);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain('FAILED');
  expect(r.stderr).toMatch(/Kernel panic|sysrq/);
  expect(r.stderr).toMatch(/guest log: \S+guest\.log/);
});

test('a guest that hangs past --timeout is stopped and fails the run', () => {
  const r = vm(['--timeout', '12', '--', 'sleep', '600']);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain('did not finish within 12s');
});
