// The kernel modules follow the kernel's coding style: checkpatch.pl finds
// no error and no warning in any file under kmod/.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

// The project's own sources (tracked or new), not kbuild's generated *.mod.c.
function sources(): string[] {
  const listed = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'kmod'], { encoding: 'utf8' });
  return listed.stdout.split('\n').filter((file) => /\.[ch]$/.test(file) && fs.existsSync(file));
}

const files = sources();

test('there are kernel sources to check', () => {
  expect(files).toEqual(expect.arrayContaining(['kmod/kshram/kshram.c', 'kmod/include/uapi/kshram.h']));
});

test.each(files)('%s is checkpatch-clean', (file) => {
  const result = spawnSync('bash', ['qemu/checkpatch.sh', file], { encoding: 'utf8' });
  const summary = /total: (\d+) errors, (\d+) warnings/.exec(result.stdout);
  expect(summary).not.toBeNull();
  if (summary![1] !== '0' || summary![2] !== '0') throw new Error(result.stdout);
});
