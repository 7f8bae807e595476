// kshram against the real module in the guest: devices, /proc, ioctls,
// mmap sharing, every refusal with its errno, file I/O, unload and reload,
// and concurrent use by several processes.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { isModuleLoaded, loadModule, reloadModule, unloadModule } from '../../lib/kmod';
import { DEFAULT_SLOT_SIZE, KshramSlot, MAX_SLOT_SIZE, SLOT_COUNT, readProcTable, slotPath } from '../../lib/kshram';
import { native } from '../../lib/native';
import { rounds } from './debug-kernel';
import { memorySnapshot } from './meminfo';

const MiB = 1 << 20;
const MMAP_FLAGS = path.join(__dirname, '..', '..', 'out', 'bin', 'mmap-flags');
// Child processes use the compiled API (dist/), built by qemu/setup.sh.
const DIST = `${process.cwd()}/dist`;

function node(script: string, args: string[] = []): string {
  return execFileSync('node', ['-e', script, DIST, ...args], { encoding: 'utf8' });
}

beforeEach(() => reloadModule('kshram')); // every test starts from fresh slots
afterAll(() => {
  if (!isModuleLoaded('kshram')) loadModule('kshram');
});

describe('loading', () => {
  test('creates /dev/kshram0..7 as character devices with mode 0666', () => {
    for (let i = 0; i < SLOT_COUNT; i++) {
      const st = fs.statSync(slotPath(i));
      expect(st.isCharacterDevice()).toBe(true);
      expect(st.mode & 0o777).toBe(0o666);
    }
    expect(fs.existsSync(slotPath(SLOT_COUNT))).toBe(false);
  });

  test('/proc/kshram lists every slot at 4096 bytes, in the exact format', () => {
    expect(fs.readFileSync('/proc/kshram', 'utf8')).toBe(
      Array.from({ length: 8 }, (_, i) => `0${i}: 4096\n`).join(''),
    );
  });

  test('slots start zeroed; GETSLOTS is 8 and GETSIZE 4096', () => {
    using slot = new KshramSlot(3);
    expect(slot.slotCount()).toBe(8);
    expect(slot.size).toBe(DEFAULT_SLOT_SIZE);
    expect(slot.read().equals(Buffer.alloc(4096))).toBe(true);
  });
});

describe('resizing', () => {
  test('every slot resizes, above 1 MiB too, keeping its contents and zero-filling the rest', () => {
    const sizes = [1, 100, 4095, 4097, 65536, MiB + 1, 3 * MiB, MAX_SLOT_SIZE];
    for (let i = 0; i < SLOT_COUNT; i++) {
      using slot = new KshramSlot(i);
      slot.write(`slot ${i} keeps this`);
      slot.resize(sizes[i]);
      expect(slot.size).toBe(sizes[i]);
      const data = slot.read();
      expect(data.length).toBe(sizes[i]);
      const kept = Buffer.from(`slot ${i} keeps this`).subarray(0, sizes[i]);
      expect(data.subarray(0, kept.length).equals(kept)).toBe(true);
      expect(data.subarray(kept.length).every((b) => b === 0)).toBe(true);
    }
    expect(readProcTable()).toEqual(sizes.map((size, slot) => ({ slot, size })));
  });

  test('shrinking then growing does not bring old bytes back', () => {
    using slot = new KshramSlot(0);
    slot.write(Buffer.alloc(4096, 0xaa));
    slot.resize(10);
    slot.resize(4096);
    const data = slot.read();
    expect(data.subarray(0, 10).every((b) => b === 0xaa)).toBe(true);
    expect(data.subarray(10).every((b) => b === 0)).toBe(true);
  });

  test.each([
    ['zero', 0],
    ['negative', -1],
    ['one byte past the maximum', MAX_SLOT_SIZE + 1],
    ['absurd', 2 ** 52],
  ])('a %s size is refused with EINVAL and changes nothing', (_name, size) => {
    using slot = new KshramSlot(1);
    slot.write('still here');
    expect(() => slot.resize(size)).toThrow(
      expect.objectContaining({ code: 'EINVAL', errno: -22, syscall: 'ioctl', path: '/dev/kshram1' }),
    );
    expect(slot.size).toBe(4096);
    expect(slot.read(10).toString()).toBe('still here');
  });

  test('contents and sizes persist across close and reopen', () => {
    {
      using slot = new KshramSlot(5);
      slot.resize(2 * MiB);
      slot.write('persisted', 2 * MiB - 9);
    }
    using again = new KshramSlot(5);
    expect(again.size).toBe(2 * MiB);
    expect(again.read(9, 2 * MiB - 9).toString()).toBe('persisted');
  });

  test('SETSIZE through a read-only descriptor is EBADF, as write() is, and changes nothing', () => {
    using slot = new KshramSlot(3);
    slot.resize(2 * MiB);
    slot.write(Buffer.from('kept'), 0);
    const fd = fs.openSync(slotPath(3), 'r');
    try {
      expect(() => native.ioctlValue(fd, native.kshram.SETSIZE, MiB, slotPath(3))).toThrow(
        expect.objectContaining({ code: 'EBADF', errno: -9, syscall: 'ioctl', path: slotPath(3) }),
      );
      expect(() => fs.writeSync(fd, 'x')).toThrow(expect.objectContaining({ code: 'EBADF' }));
      // GETSIZE still works read-only.
      expect(native.ioctlValue(fd, native.kshram.GETSIZE, 0, slotPath(3))).toBe(2 * MiB);
    } finally {
      fs.closeSync(fd);
    }
    expect(slot.size).toBe(2 * MiB);
    expect(slot.read(4, 0).toString()).toBe('kept');
  });

  test('an unknown ioctl is ENOTTY', () => {
    using slot = new KshramSlot(0);
    expect(() => native.ioctlValue(slot.fd, native.kshram.SETSIZE + 7, 0, slot.path)).toThrow(
      expect.objectContaining({ code: 'ENOTTY' }),
    );
  });
});

describe('mmap', () => {
  test('the whole slot maps, not just one page, and writes show through read()', () => {
    using slot = new KshramSlot(2);
    slot.resize(3 * MiB);
    using mapping = slot.map();
    expect(mapping.length).toBe(3 * MiB);
    mapping.buffer.write('end of slot', 3 * MiB - 11);
    mapping.buffer.write('start', 0);
    expect(slot.read(11, 3 * MiB - 11).toString()).toBe('end of slot');
    slot.write('via write');
    expect(mapping.buffer.subarray(0, 9).toString()).toBe('via write');
  });

  test('a parent and its children see each other\'s writes at once', () => {
    using slot = new KshramSlot(4);
    using mapping = slot.map();
    mapping.buffer.write('from parent', 0);
    // The child maps the slot, reads the parent's bytes, then writes its own.
    const seen = node(
      `const { kshram } = require(process.argv[1]);
       const slot = new kshram.KshramSlot(4);
       const m = slot.map();
       process.stdout.write(m.buffer.subarray(0, 11).toString());
       m.buffer.write('from child', 100);
       m.close(); slot.close();`,
    );
    expect(seen).toBe('from parent');
    expect(mapping.buffer.subarray(100, 110).toString()).toBe('from child');
  });

  test('a private mapping is refused with EINVAL: the slot is only ever shared', () => {
    using slot = new KshramSlot(3);
    // The helper gets the slot's descriptor as its fd 3.
    const run = spawnSync(MMAP_FLAGS, ['3', '4096'], { stdio: ['ignore', 'pipe', 'pipe', slot.fd], encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const results = run.stdout.trim().split('\n');
    expect(results.filter((line) => !line.startsWith('shared-rx'))).toEqual([
      'shared-r ok',
      'private-r EINVAL',
      'private-rw EINVAL',
    ]);
  });

  test('ioctlValue passes a BigInt by value: SETSIZE with 8192n', () => {
    using slot = new KshramSlot(4);
    expect(native.ioctlValue(slot.fd, native.kshram.SETSIZE, 8192n, slot.path)).toBe(0);
    expect(slot.size).toBe(8192);
    expect(native.ioctlValue(slot.fd, native.kshram.GETSIZE, 0n, slot.path)).toBe(8192);
    expect(() => native.ioctlValue(slot.fd, native.kshram.SETSIZE, 2n ** 64n, slot.path)).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
  });

  test('mapping past the slot\'s size is refused with EINVAL', () => {
    using slot = new KshramSlot(0);
    expect(() => slot.map(8192)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'mmap', path: '/dev/kshram0' }));
    expect(() => native.mmap(slot.fd, 4096, 4096, true, slot.path)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  test('a tiny slot maps one whole page whose tail is zero: no kernel memory shows', () => {
    using slot = new KshramSlot(6);
    slot.resize(10);
    slot.write('0123456789');
    using mapping = slot.map(native.pageSize);
    expect(mapping.buffer.subarray(0, 10).toString()).toBe('0123456789');
    expect(mapping.buffer.subarray(10).every((b) => b === 0)).toBe(true);
    expect(() => slot.map(2 * native.pageSize)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  test('SETSIZE while mapped is EBUSY, also while only a child still maps it; after unmapping it works', async () => {
    using slot = new KshramSlot(7);
    const mapping = slot.map();
    expect(() => slot.resize(8192)).toThrow(expect.objectContaining({ code: 'EBUSY', errno: -16, syscall: 'ioctl' }));
    mapping.close();
    slot.resize(4096); // no mapping left: allowed again

    const child = spawn(
      'node',
      ['-e', `const { kshram } = require(process.argv[1]); const m = new kshram.KshramSlot(7).map(); console.log('mapped'); setInterval(() => m, 1000);`, DIST],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await new Promise((resolve) => child.stdout.once('data', resolve));
    let whileChildMaps: unknown;
    try {
      slot.resize(8192);
    } catch (e) {
      whileChildMaps = e;
    }
    child.kill('SIGKILL');
    await exited;
    expect(whileChildMaps).toEqual(expect.objectContaining({ code: 'EBUSY' }));
    slot.resize(8192);
    expect(slot.size).toBe(8192);
  });

  test('a mapping outlives its descriptor and its views empty on close', () => {
    const slot = new KshramSlot(1);
    const mapping = slot.map();
    slot.close();
    mapping.buffer.write('after close');
    const view = mapping.buffer;
    using again = new KshramSlot(1);
    expect(again.read(11).toString()).toBe('after close');
    mapping.close();
    expect(view.length).toBe(0);
  });
});

describe('file I/O', () => {
  test('cat and dd behave like on a fixed-size file', () => {
    using slot = new KshramSlot(0);
    slot.write('hello from kshram');
    const out = execFileSync('cat', ['/dev/kshram0']);
    expect(out.length).toBe(4096);
    expect(out.subarray(0, 17).toString()).toBe('hello from kshram');

    fs.writeFileSync('/tmp/kshram-in', Buffer.alloc(5000, 0x41));
    const dd = spawnSync('dd', ['if=/tmp/kshram-in', 'of=/dev/kshram0', 'bs=5000', 'count=1'], { encoding: 'utf8' });
    expect(dd.status).not.toBe(0);
    expect(dd.stderr).toMatch(/No space left on device/);
    expect(slot.read().every((b) => b === 0x41)).toBe(true);

    const seek = spawnSync('dd', ['if=/dev/kshram0', 'bs=1', 'skip=4090', 'count=100'], { encoding: 'buffer' });
    expect(seek.status).toBe(0);
    expect(seek.stdout.length).toBe(6);
  });

  test('the kernel: writing at the end is ENOSPC, and a write across the end is cut short', () => {
    using slot = new KshramSlot(3);
    expect(fs.writeSync(slot.fd, Buffer.from('abcdef'), 0, 6, 4093)).toBe(3);
    expect(() => fs.writeSync(slot.fd, Buffer.from('x'), 0, 1, 4096)).toThrow(
      expect.objectContaining({ code: 'ENOSPC', syscall: 'write' }),
    );
    expect(slot.read(3, 4093).toString()).toBe('abc');
    expect(slot.read(10, 4096).length).toBe(0);
  });

  test('write() writes all or nothing: data past the end is ENOSPC, with nothing written', () => {
    using slot = new KshramSlot(3);
    expect(slot.write('abc', 4093)).toBe(3);
    for (const [data, at] of [['abcdef', 4093], ['x', 4096]] as const) {
      expect(() => slot.write(data, at)).toThrow(
        expect.objectContaining({ code: 'ENOSPC', errno: -28, syscall: 'write', path: '/dev/kshram3' }),
      );
    }
    expect(() => slot.write('xyzw', 4093)).toThrow(/4 bytes at 4093 go past the end of slot 3, which is 4096 bytes/);
    expect(slot.read(3, 4093).toString()).toBe('abc');
  });
});

describe('unload and reload', () => {
  test('an open slot keeps the module loaded (EAGAIN: in use); closed, it unloads and comes back fresh', () => {
    const slot = new KshramSlot(2);
    slot.resize(MiB);
    slot.write('gone after reload');
    expect(() => unloadModule('kshram')).toThrow(expect.objectContaining({ code: 'EAGAIN', syscall: 'delete_module' }));
    const mapping = slot.map(); // a mapping holds the module even without the descriptor
    slot.close();
    expect(() => unloadModule('kshram')).toThrow(expect.objectContaining({ code: 'EAGAIN' }));
    mapping.close();
    unloadModule('kshram');
    expect(fs.existsSync('/proc/kshram')).toBe(false);
    expect(fs.existsSync('/dev/kshram0')).toBe(false);
    expect(() => unloadModule('kshram')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    loadModule('kshram');
    expect(() => loadModule('kshram')).toThrow(expect.objectContaining({ code: 'EEXIST', syscall: 'finit_module' }));
    expect(readProcTable().every(({ size }) => size === 4096)).toBe(true);
    using again = new KshramSlot(2);
    expect(again.read().every((b) => b === 0)).toBe(true);
  });

  test('unloading and reloading many times frees what it allocated', () => {
    const churn = (rounds: number) => {
      for (let i = 0; i < rounds; i++) {
        using slot = new KshramSlot(i % 8);
        slot.resize(MAX_SLOT_SIZE);
        slot.close();
        reloadModule('kshram');
      }
    };
    churn(5); // warm up
    const before = memorySnapshot().available;
    churn(30);
    // Leaked slots would cost 30 x 4 MiB = 120 MiB.
    expect(before - memorySnapshot().available).toBeLessThan(16 * 1024);
  });
});

describe('concurrency', () => {
  test('several processes resizing and mapping slots at once all succeed, and contend safely on one slot', async () => {
    // Each worker churns a slot: resize, map, write a pattern, check it
    // through read(), unmap. Workers on their own slot never see an error.
    // Two more share slot 7: a resize while the other maps it is EBUSY, a
    // map after the other resized smaller is EINVAL; they take turns (a
    // lock directory) only to write and check their pattern, and go on
    // until each has met the other at least once.
    const worker = `
      const fs = require('node:fs');
      const { kshram } = require(process.argv[1]);
      const index = Number(process.argv[2]), shared = process.argv[3] === 'shared', tag = Number(process.argv[4]);
      const lock = '/tmp/kshram-concurrency-lock';
      const pause = new Int32Array(new SharedArrayBuffer(4));
      const locked = (fn) => {
        if (!shared) return fn();
        for (;;) { try { fs.mkdirSync(lock); break; } catch (e) { if (e.code !== 'EEXIST') throw e; Atomics.wait(pause, 0, 0, 1); } }
        try { return fn(); } finally { fs.rmdirSync(lock); }
      };
      process.stdin.once('data', () => {
        const slot = new kshram.KshramSlot(index);
        let busy = 0, einval = 0, checked = 0;
        const deadline = Date.now() + 60000;
        for (let i = 0; i < 40 || (shared && busy === 0 && Date.now() < deadline); i++) {
          const size = 4096 * (1 + ((i * 7 + index + tag) % 64));
          try { slot.resize(size); } catch (e) { if (!shared || e.code !== 'EBUSY') throw e; busy++; }
          let m;
          try { m = slot.map(); } catch (e) { if (!shared || e.code !== 'EINVAL') throw e; einval++; continue; }
          const value = (tag * 64 + i) & 0xff;
          locked(() => {
            m.buffer.fill(value);
            const back = slot.read(m.length);
            if (back.length !== m.length || !back.equals(Buffer.alloc(m.length, value)))
              throw new Error('slot ' + index + ' (worker ' + tag + '): the pattern did not come back');
            checked++;
          });
          m.close();
        }
        slot.close();
        console.log(JSON.stringify({ busy, einval, checked }));
      });
      console.log('ready');`;
    fs.rmSync('/tmp/kshram-concurrency-lock', { recursive: true, force: true });
    type Result = { busy: number; einval: number; checked: number };
    // Three on their own slots on the debug kernel, where each node costs about 3x as much to start.
    const own = rounds(6, 3);
    const children = [...Array.from({ length: own }, (_, i) => [i, 'own']), [7, 'shared'], [7, 'shared']].map(
      ([index, mode], tag) => {
        const child = spawn('node', ['-e', worker, DIST, String(index), String(mode), String(tag)], {
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        const ready = new Promise<void>((resolve) =>
          child.stdout.on('data', (d) => {
            out += d;
            if (out.startsWith('ready\n')) resolve();
          }),
        );
        child.stderr.on('data', (d) => (err += d));
        const done = new Promise<Result>((resolve, reject) =>
          child.on('exit', (code) =>
            code === 0 ? resolve(JSON.parse(out.slice('ready\n'.length))) : reject(new Error(`worker ${tag}: ${err}`)),
          ),
        );
        return { child, ready, done };
      },
    );
    // All start at once, so that the two on slot 7 overlap.
    await Promise.all(children.map((c) => c.ready));
    children.forEach((c) => c.child.stdin.end('go\n'));
    const results = await Promise.all(children.map((c) => c.done));
    console.log(`kshram concurrency: ${JSON.stringify(results)}`);
    for (const result of results.slice(0, own)) expect(result).toEqual({ busy: 0, einval: 0, checked: 40 });
    const shared = results.slice(own);
    // Each checked its pattern, and each met the other's mapping at least once.
    for (const r of shared) {
      expect(r.checked).toBeGreaterThan(0);
      expect(r.busy).toBeGreaterThan(0);
    }
    expect(readProcTable()).toHaveLength(8);
  }, 180_000);
});
