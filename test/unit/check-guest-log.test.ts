// qemu/check-guest-log.sh decides whether a VM run failed: it must catch
// every kind of kernel trouble and pass a clean boot.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

function check(log: string): { status: number | null; out: string } {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'log-')), 'guest.log');
  fs.writeFileSync(file, log);
  const r = spawnSync('bash', ['qemu/check-guest-log.sh', file], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout };
}

const clean = [
  '[    0.000000] Linux version 6.1.0-56-amd64',
  '[    2.722501] kshram: module verification failed: signature and/or required key missing - tainting kernel',
  '[    2.751066] vm: ready',
  '[    4.717764] vm: command exited with status 0',
].join('\n');

test('a clean boot passes', () => {
  expect(check(clean).status).toBe(0);
});

test.each([
  ['an oops', 'BUG: kernel NULL pointer dereference, address: 0000000000000008'],
  ['a WARN', 'WARNING: CPU: 0 PID: 1 at mm/slub.c:4310 kfree+0x1/0x2'],
  ['a panic', 'Kernel panic - not syncing: Fatal exception'],
  ['a GPF', 'general protection fault, probably for non-canonical address'],
  ['a lockup', 'watchdog: BUG: soft lockup - CPU#0 stuck for 22s!'],
  ['a hung task', 'INFO: task insmod:123 blocked for more than 120 seconds.'],
  ['a module that would not unload', 'vm: FAILED: cannot unload fastnet'],
  ['slab objects left by a module', 'kmem_cache_destroy fastnet: Slab cache still has objects'],
  ['list corruption', 'list_del corruption. prev->next should be ffff, but was dead000000000100'],
])('%s fails the run', (_name, line) => {
  const { status, out } = check(`${clean}\n[    5.000000] ${line}\n`);
  expect(status).toBe(1);
  expect(out).toContain(line);
});
