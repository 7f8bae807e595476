// qemu/vm.sh's option checks: a bad option or value is one line on stderr and
// exit status 2, before anything is built or booted (each case takes
// milliseconds: a case that booted a guest would take seconds and time out).
import { spawnSync } from 'node:child_process';

function vm(args: string[]) {
  const r = spawnSync('bash', ['qemu/vm.sh', ...args], { encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test.each([
  [['--smp'], "vm: --smp needs a value"],
  [['--smp', 'abc', '--', 'true'], "vm: --smp takes a whole number from 1 to 64, got 'abc'"],
  [['--smp', '0', '--', 'true'], "vm: --smp takes a whole number from 1 to 64, got '0'"],
  [['--mem', 'abc', '--', 'true'], "vm: --mem takes a whole number from 128 to 65536, got 'abc'"],
  [['--mem=', '--', 'true'], 'vm: --mem needs a value'],
  [['--mem=12x', '--', 'true'], "vm: --mem takes a whole number from 128 to 65536, got '12x'"],
  [['--timeout', '--mem', '512', '--', 'true'], "vm: --timeout takes a whole number from 1 to 86400, got '--mem'"],
  [['--env', 'NOEQUALS', '--', 'true'], "vm: --env takes NAME=VALUE, got 'NOEQUALS'"],
  [['--netdev'], 'vm: --netdev needs a value'],
  [['--kernel', 'vanilla', '--', 'true'], "vm: --kernel takes debian or debug, got 'vanilla'"],
  [['--kernel'], 'vm: --kernel needs a value'],
  [['--nic', 'rtl8139', '--', 'true'], "vm: --nic takes e1000 or virtio, got 'rtl8139'"],
  [['--nic'], 'vm: --nic needs a value'],
  [['--no-build=yes', '--', 'true'], 'vm: --no-build takes no value'],
  [['--frobnicate', '--', 'true'], 'vm: unknown option --frobnicate'],
  [[], 'vm: no command given'],
])('vm.sh %j: refused with exit 2', (args, message) => {
  const r = vm(args);
  expect(r.stderr.split('\n')[0]).toContain(message);
  expect(r.stderr).toContain('--help lists the options');
  expect(r.stderr).not.toMatch(/unbound variable|qemu-system/);
  expect(r.stdout).toBe('');
  expect(r.status).toBe(2);
});

test('vm.sh --help lists every option and exits 0', () => {
  const r = vm(['--help']);
  expect(r.status).toBe(0);
  for (const option of ['--shell', '--no-modules', '--no-build', '--e1000', '--netdev', '--smp', '--mem', '--timeout', '--env', '--kernel', '--nic']) {
    expect(r.stdout).toContain(`  ${option}`);
  }
});
