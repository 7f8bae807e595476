// The addon's syscalls on the host, against ordinary files: error shapes,
// and the lifetime rules of mappings.
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
      expect(() => native.ioctl(fd, 0x4b00, 0, '/dev/null')).toThrow(
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
    expect(() => native.ioctl(1 << 20, 0x5401)).toThrow(expect.objectContaining({ code: 'EBADF', errno: -9 }));
  });

  test('FIONREAD fills a Buffer argument through its pointer', () => {
    const [readFd, writeFd] = pipe();
    try {
      fs.writeSync(writeFd, 'hello');
      const count = Buffer.alloc(4);
      expect(native.ioctl(readFd, 0x541b /* FIONREAD */, count)).toBe(0);
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
    expect(() => native.ioctl('x' as unknown as number, 1)).toThrow(typeError);
    expect(() => native.ioctl(0, 1.5)).toThrow(rangeError);
    expect(() => native.ioctl(0, -1)).toThrow(rangeError);
    expect(() => native.ioctl(0, 2 ** 32)).toThrow(rangeError);
  });
});

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

  test('many mappings released by the garbage collector leave no mapping behind', () => {
    const { fd } = fileOf(65536);
    const maps = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\n').length;
    const before = maps();
    for (let i = 0; i < 200; i++) native.mmap(fd, 65536, 0, false);
    fs.closeSync(fd);
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) return; // run with --expose-gc to check the finalizer path
    gc();
    expect(maps()).toBeLessThan(before + 10);
  });
});
