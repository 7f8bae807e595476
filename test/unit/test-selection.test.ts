// qemu/test.sh runs every in-VM test file on Debian's kernel and all but a few on the debug
// kernel (lockdep, KASAN, kmemleak): those in its debug_skip list. A file that reaches a module
// itself must never be on that list, or the debug kernel would stop checking its kernel paths.
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const testSh = fs.readFileSync(path.join(ROOT, 'qemu', 'test.sh'), 'utf8');

/** A shell variable of qemu/test.sh: name='a|b|c'. */
function patternList(name: string): string[] {
  const match = new RegExp(`^${name}='([^']*)'$`, 'm').exec(testSh);
  if (!match) throw new Error(`qemu/test.sh has no ${name}='...' line`);
  return match[1].split('|');
}

// The device files, and the library modules that open them (the package root re-exports them).
const TOUCHES_A_MODULE = [
  /\/dev\/fastnet/,
  /\/dev\/kshram/,
  /\/proc\/memory_info/,
  /from '(\.\.\/)+lib(\/(index|fastnet|kshram|memory-info|capture[^']*))?'/,
  /from 'kmodlab'/,
];

describe('the debug kernel skips only files that do not reach a module themselves', () => {
  const skipped = patternList('debug_skip');

  test('every name on the list is an in-VM test file', () => {
    const missing = skipped.filter((name) => !fs.existsSync(path.join(ROOT, 'test', 'vm', `${name}.test.ts`)));
    expect(missing).toEqual([]);
    expect(skipped.length).toBeGreaterThan(0);
  });

  test.each(skipped)('test/vm/%s.test.ts touches no device file and no library module that opens one', (name) => {
    const source = fs.readFileSync(path.join(ROOT, 'test', 'vm', `${name}.test.ts`), 'utf8');
    expect(TOUCHES_A_MODULE.filter((pattern) => pattern.test(source)).map(String)).toEqual([]);
  });

  test('the check itself tells: the files that open the modules are caught', () => {
    for (const name of ['fastnet-modes', 'kshram', 'memory-info', 'capture-methods', 'fastnet-zerocopy']) {
      const source = fs.readFileSync(path.join(ROOT, 'test', 'vm', `${name}.test.ts`), 'utf8');
      expect({ name, caught: TOUCHES_A_MODULE.some((pattern) => pattern.test(source)) }).toEqual({ name, caught: true });
    }
  });
});

describe("the debug kernel's second boot (debug-b) takes files of the first, none skipped", () => {
  const second = patternList('debug_second');

  test('every name on the list is an in-VM test file that the debug kernel runs', () => {
    const missing = second.filter((name) => !fs.existsSync(path.join(ROOT, 'test', 'vm', `${name}.test.ts`)));
    expect(missing).toEqual([]);
    expect(second.filter((name) => patternList('debug_skip').includes(name))).toEqual([]);
    expect(second.length).toBeGreaterThan(0);
  });
});

describe('the virtio-net boots (vm.sh --nic virtio) run files that take host frames on any NIC', () => {
  const virtio = patternList('virtio_files');
  const source = (name: string) => fs.readFileSync(path.join(ROOT, 'test', 'vm', `${name}.test.ts`), 'utf8');

  test('every name on the list is an in-VM test file that reads which NIC its boot has', () => {
    const missing = virtio.filter((name) => !fs.existsSync(path.join(ROOT, 'test', 'vm', `${name}.test.ts`)));
    expect(missing).toEqual([]);
    expect(virtio.filter((name) => !source(name).includes('KMODLAB_NIC'))).toEqual([]);
  });

  test('they run on the e1000 boots too (the whole suite), none skipped there', () => {
    expect(virtio.filter((name) => patternList('debug_skip').includes(name))).toEqual([]);
  });

  test("the debug kernel's second boot, which has virtio-net, runs virtio files and no other file that takes host frames", () => {
    const debugVirtio = patternList('virtio_debug_files');
    expect(debugVirtio.filter((name) => !virtio.includes(name))).toEqual([]);
    // ... instead of in the first boot (e1000), which the script tells to skip them.
    expect(fs.readFileSync(path.join(ROOT, 'qemu', 'test.sh'), 'utf8')).toContain('$debug_skip|$debug_second|$virtio_debug_files');
    expect(patternList('debug_second').filter((name) => /HostTraffic|'eth0'/.test(source(name)))).toEqual([]);
  });
});
