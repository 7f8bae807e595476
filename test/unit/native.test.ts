// The addon's syscalls on the host, against ordinary files: error shapes,
// and the lifetime rules of mappings.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Mapping } from '../../lib/mapping';
import { native } from '../../lib/native';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmodlab-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function fileOf(bytes: number): { fd: number; file: string } {
  const file = path.join(dir, `f${bytes}-${Math.random()}`);
  fs.writeFileSync(file, Buffer.alloc(bytes));
  return { fd: fs.openSync(file, 'r+'), file };
}

describe('ioctl', () => {
  test('an ioctl the file does not know throws a Node-style ENOTTY', () => {
    const fd = fs.openSync('/dev/null', 'r');
    try {
      expect(() => native.ioctlValue(fd, 0x4b00, 0, '/dev/null')).toThrow(
        expect.objectContaining({
          code: 'ENOTTY',
          errno: -25,
          syscall: 'ioctl',
          path: '/dev/null',
          message: "ENOTTY: inappropriate ioctl for device, ioctl '/dev/null'",
        }),
      );
    } finally {
      fs.closeSync(fd);
    }
  });

  test('a closed descriptor gives EBADF', () => {
    expect(() => native.ioctlValue(1 << 20, 0x4b00)).toThrow(expect.objectContaining({ code: 'EBADF', errno: -9 }));
    expect(() => native.ioctl(1 << 20, FIONREAD, Buffer.alloc(4))).toThrow(expect.objectContaining({ code: 'EBADF', errno: -9 }));
  });

  test('FIONREAD fills a Buffer argument through its pointer', () => {
    const [readFd, writeFd] = pipe();
    try {
      fs.writeSync(writeFd, 'hello');
      const count = Buffer.alloc(4);
      expect(native.ioctl(readFd, FIONREAD, count)).toBe(0);
      expect(count.readInt32LE(0)).toBe(5);
    } finally {
      fs.closeSync(readFd);
      fs.closeSync(writeFd);
    }
  });

  test('a view passed by pointer is used from its byte offset, as a Buffer, TypedArray or DataView', () => {
    const [readFd, writeFd] = pipe();
    try {
      fs.writeSync(writeFd, 'hello');
      const parent = Buffer.alloc(12, 0xee);
      native.ioctl(readFd, FIONREAD, parent.subarray(4, 8));
      expect([parent.readUInt32LE(0), parent.readInt32LE(4), parent.readUInt32LE(8)]).toEqual([0xeeeeeeee, 5, 0xeeeeeeee]);
      const ints = new Int32Array(4);
      native.ioctl(readFd, FIONREAD, ints.subarray(2, 3));
      expect(Array.from(ints)).toEqual([0, 0, 5, 0]);
      const view = new DataView(new ArrayBuffer(16), 8, 4);
      native.ioctl(readFd, FIONREAD, view);
      expect(view.getInt32(0, true)).toBe(5);
    } finally {
      fs.closeSync(readFd);
      fs.closeSync(writeFd);
    }
  });

  // FASTNET_STATS is _IOR(0xFA, 2, 64 bytes): the kernel would write 64 bytes
  // at the pointer. /dev/null would refuse it (ENOTTY), but only after the
  // addon handed it the pointer: these must fail before any system call.
  test('a request with a direction takes only a view of at least _IOC_SIZE bytes, never a number', () => {
    const fd = fs.openSync('/dev/null', 'r');
    try {
      const stats = native.fastnet.STATS;
      expect(() => native.ioctl(fd, stats, Buffer.alloc(8))).toThrow(
        expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
      );
      expect(() => native.ioctl(fd, stats, Buffer.alloc(128).subarray(100))).toThrow(
        expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
      );
      const notAPointer = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      expect(() => native.ioctl(fd, stats, 0x10000 as never)).toThrow(notAPointer);
      expect(() => native.ioctl(fd, stats, 0x10000n as never)).toThrow(notAPointer);
      expect(() => (native.ioctl as (fd: number, request: number) => number)(fd, stats)).toThrow(notAPointer);
      expect(() => native.ioctl(fd, native.fastnet.BIND, 0 as never)).toThrow(notAPointer);
      // Nor as a value: the kernel would take it for the address.
      const notAValue = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      expect(() => native.ioctlValue(fd, stats, 0x10000)).toThrow(notAValue);
      expect(() => native.ioctlValue(fd, native.fastnet.BIND)).toThrow(notAValue);
      // Long enough: the call reaches the kernel, which refuses it.
      expect(() => native.ioctl(fd, stats, Buffer.alloc(native.fastnet.STATS_SIZE))).toThrow(
        expect.objectContaining({ code: 'ENOTTY' }),
      );
    } finally {
      fs.closeSync(fd);
    }
  });

  // FIONREAD (0x541b) has no size bits, yet the kernel writes an int at its
  // argument: a number there was an address (EFAULT from the kernel at
  // best, a write into this process's memory at worst).
  test('a number is never taken for a pointer, whatever the request: ioctl() takes views, ioctlValue() integers', () => {
    const [readFd, writeFd] = pipe();
    try {
      fs.writeSync(writeFd, 'hello');
      const notAPointer = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      for (const arg of [8, 0x10000, 8n, undefined, 'x', {}]) {
        expect(() => native.ioctl(readFd, FIONREAD, arg as never)).toThrow(notAPointer);
      }
      // ioctlValue() passes the integer as it is, as the caller asked: here the kernel's EFAULT.
      expect(() => native.ioctlValue(readFd, FIONREAD, 8)).toThrow(expect.objectContaining({ code: 'EFAULT', syscall: 'ioctl' }));
      expect(() => native.ioctlValue(readFd, FIONREAD, Buffer.alloc(4) as never)).toThrow(notAPointer);
      expect(() => native.ioctlValue(readFd, FIONREAD, 2n ** 64n)).toThrow(
        expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
      );
      const count = Buffer.alloc(4);
      expect(native.ioctl(readFd, FIONREAD, count)).toBe(0);
      expect(count.readInt32LE(0)).toBe(5);
    } finally {
      fs.closeSync(readFd);
      fs.closeSync(writeFd);
    }
  });

  test('bad arguments are TypeErrors and RangeErrors, not crashes', () => {
    // Errors from the addon come from another realm: match name and code.
    const typeError = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    const rangeError = expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    for (const call of [native.ioctl, native.ioctlValue] as Array<(fd: number, request: number, arg?: never) => number>) {
      expect(() => call('x' as unknown as number, 1)).toThrow(typeError);
      expect(() => call(0, 1.5)).toThrow(rangeError);
      expect(() => call(0, -1)).toThrow(rangeError);
      expect(() => call(0, 2 ** 32)).toThrow(rangeError);
    }
  });
});

const FIONREAD = 0x541b;

// A pipe through /proc/self: node:fs has no pipe(2), so use a FIFO.
function pipe(): [number, number] {
  const fifo = path.join(dir, `fifo-${Math.random()}`);
  require('node:child_process').execFileSync('mkfifo', [fifo]);
  const readFd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const writeFd = fs.openSync(fifo, 'w');
  return [readFd, writeFd];
}

describe('mmap', () => {
  test('writes through the mapping reach the file, and the file reaches the mapping', () => {
    const { fd, file } = fileOf(8192);
    const mapping = new Mapping(fd, 8192, { path: file });
    fs.closeSync(fd); // a mapping outlives its descriptor
    mapping.buffer.write('mapped', 5000);
    expect(fs.readFileSync(file).subarray(5000, 5006).toString()).toBe('mapped');
    const other = fs.openSync(file, 'r+');
    fs.writeSync(other, 'written', 0);
    fs.closeSync(other);
    expect(mapping.buffer.subarray(0, 7).toString()).toBe('written');
    mapping.close();
  });

  test('close() detaches: every view becomes empty instead of dangling', () => {
    const { fd } = fileOf(4096);
    const mapping = new Mapping(fd, 4096);
    fs.closeSync(fd);
    const view = new Uint8Array(mapping.buffer.buffer);
    expect(view.length).toBe(4096);
    mapping.close();
    expect(mapping.closed).toBe(true);
    expect(view.length).toBe(0);
    expect(mapping.buffer.length).toBe(0);
    expect(() => mapping.close()).not.toThrow();
    expect(native.munmap(mapping.buffer.buffer as ArrayBuffer)).toBe(false);
  });

  test('Symbol.dispose releases the mapping', () => {
    const { fd } = fileOf(4096);
    let mapping: Mapping;
    {
      using m = new Mapping(fd, 4096);
      mapping = m;
      expect(m.closed).toBe(false);
    }
    fs.closeSync(fd);
    expect(mapping.closed).toBe(true);
  });

  test('failures carry errno, code and syscall', () => {
    const { fd, file } = fileOf(4096);
    expect(() => native.mmap(fd, 4096, 1, true, file)).toThrow(
      expect.objectContaining({ code: 'EINVAL', errno: -22, syscall: 'mmap', path: file }),
    );
    expect(() => native.mmap(fd, 0, 0, true)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const readOnly = fs.openSync(file, 'r');
    expect(() => native.mmap(readOnly, 4096, 0, true)).toThrow(expect.objectContaining({ code: 'EACCES' }));
    fs.closeSync(readOnly);
    fs.closeSync(fd);
  });

  test('munmap refuses an ArrayBuffer it did not map', () => {
    expect(() => native.munmap(new ArrayBuffer(8))).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });

  test('mmap refuses lengths and offsets that are not safe integers, and negative ones', () => {
    const { fd, file } = fileOf(4096);
    try {
      const rangeError = expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      for (const bad of [NaN, Infinity, 1.5, 2 ** 53 + 2, -(2 ** 53) - 2]) {
        expect(() => native.mmap(fd, bad, 0, false, file)).toThrow(rangeError);
        expect(() => native.mmap(fd, 4096, bad, false, file)).toThrow(rangeError);
      }
      const einval = expect.objectContaining({ code: 'EINVAL', errno: -22, syscall: 'mmap', path: file });
      expect(() => native.mmap(fd, -4096, 0, false, file)).toThrow(einval);
      expect(() => native.mmap(fd, 4096, -4096, false, file)).toThrow(einval);
      expect(() => native.mmap(fd, '4096' as unknown as number, 0, false)).toThrow(
        expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }),
      );
    } finally {
      fs.closeSync(fd);
    }
  });

  test('many mappings released by the garbage collector leave no mapping behind', async () => {
    const { fd, file } = fileOf(65536);
    const mapsOfFile = () =>
      fs
        .readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .filter((line) => line.endsWith(file)).length;
    for (let i = 0; i < 200; i++) native.mmap(fd, 65536, 0, false);
    fs.closeSync(fd);
    expect(mapsOfFile()).toBe(200);
    // jest runs tests in a context without the process's gc(), even under
    // --expose-gc: turn the flag on and take gc() from a fresh context.
    require('node:v8').setFlagsFromString('--expose-gc');
    const gc = require('node:vm').runInNewContext('gc') as () => void;
    expect(typeof gc).toBe('function');
    // Finalizers run on setImmediate turns after the collection.
    for (let turn = 0; turn < 20 && mapsOfFile() > 0; turn++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(mapsOfFile()).toBe(0);
  });
});

describe('finitModule', () => {
  test('params must be a string: anything else is a TypeError, not an empty string', () => {
    const fd = fs.openSync('/dev/null', 'r');
    try {
      for (const params of [5, {}, null, ['a=1']]) {
        expect(() => native.finitModule(fd, params as unknown as string, '/dev/null')).toThrow(
          expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }),
        );
      }
    } finally {
      fs.closeSync(fd);
    }
  });
});

describe('pollAsync', () => {
  // A Worker that exits while its wait's timer is due: libuv runs the timer
  // while Node tears the Worker down, when N-API can no longer call into
  // JavaScript. The failure to settle the promise must stay in the callback,
  // not end the whole process (std::terminate: SIGABRT).
  test('a wait whose promise cannot be settled (its Worker exiting) does not end the process', () => {
    const fifo = path.join(dir, `fifo-worker-${Math.random()}`);
    execFileSync('mkfifo', [fifo]);
    const worker = `
      const fs = require('node:fs');
      const native = require(${JSON.stringify(path.join(__dirname, '..', '..', 'build', 'Release', 'kmodlab.node'))});
      const fd = fs.openSync(${JSON.stringify(fifo)}, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      native.fastnet.pollAsync(fd, native.fastnet.createWaker(), 1);
      const end = Date.now() + 30;
      while (Date.now() < end); // the timer is due before the exit
      process.exit(0);
    `;
    const main = `
      const { Worker } = require('node:worker_threads');
      new Worker(${JSON.stringify(worker)}, { eval: true }).on('exit', (code) => console.log('worker exit', code));
    `;
    for (let round = 0; round < 3; round++) {
      const run = spawnSync(process.execPath, ['-e', main], { encoding: 'utf8', timeout: 30_000 });
      expect({ status: run.status, signal: run.signal, stdout: run.stdout, stderr: run.stderr }).toEqual({
        status: 0,
        signal: null,
        stdout: 'worker exit 0\n',
        stderr: '',
      });
    }
  }, 60_000);
});
