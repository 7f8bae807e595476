// The consumer side of the ring protocol and the waits, on the host: the
// native loops run against a zone laid out by hand exactly as the kernel
// lays it out (uapi/fastnet.h), and against pipes.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { native } from '../../lib/native';

const uapi = native.fastnet;
const PAGE = 4096;
const SLOT = 2048;

/** A zone of `slots` slots, with frames[i] published in slot i (producer = frames.length). */
function zone(slots: number, frames: Buffer[], origLengths: number[] = []): Buffer {
  const descOffset = PAGE;
  const dataOffset = descOffset + Math.ceil((slots * uapi.SLOT_DESC_SIZE) / PAGE) * PAGE;
  const z = Buffer.alloc(dataOffset + slots * SLOT);
  z.writeUInt32LE(uapi.RING_MAGIC, 0);
  z.writeUInt32LE(uapi.RING_VERSION, 4);
  z.writeUInt32LE(slots, 8);
  z.writeUInt32LE(SLOT, 12);
  z.writeBigUInt64LE(BigInt(descOffset), 16);
  z.writeBigUInt64LE(BigInt(dataOffset), 24);
  z.writeBigUInt64LE(BigInt(z.length), 32);
  z.writeUInt32LE(uapi.MODE_RING, 40);
  frames.forEach((frame, i) => {
    const slot = i % slots;
    const desc = descOffset + slot * uapi.SLOT_DESC_SIZE;
    const data = dataOffset + slot * SLOT;
    frame.copy(z, data);
    z.writeBigUInt64LE(1_000_000_000n + BigInt(i), desc);
    z.writeBigUInt64LE(BigInt(data), desc + 8);
    z.writeUInt32LE(frame.length, desc + 16);
    const orig = origLengths[i] ?? frame.length;
    z.writeUInt32LE(orig, desc + 20);
    z.writeUInt16LE(uapi.SLOT_READY, desc + 24);
    z.writeUInt16LE(orig > frame.length ? uapi.PKT_TRUNC : 0, desc + 26);
  });
  z.writeUInt32LE(frames.length, uapi.RING_PRODUCER_OFFSET);
  return z;
}

function frame(etherType: number, length: number, fill: number): Buffer {
  const f = Buffer.alloc(length, fill);
  f.writeUInt16BE(etherType, 12);
  return f;
}

const consumer = (z: Buffer) => z.readUInt32LE(uapi.RING_CONSUMER_OFFSET);

describe('ring consumer', () => {
  test('ringCopy takes published slots in order, up to max, and hands them back', () => {
    const frames = [frame(0x0800, 60, 1), frame(0x86dd, 100, 2), frame(0x0800, SLOT, 3)];
    const z = zone(4, frames, [60, 100, 3000]);
    const first = uapi.ringCopy(z, 2);
    expect(first.count).toBe(2);
    expect(first.bytes).toBe(160);
    expect(first.data).toEqual(Buffer.concat(frames.slice(0, 2)));
    expect(Array.from(first.meta.subarray(0, 6))).toEqual([0, 60, 60, 0, 1_000_000_000, 0]);
    expect(consumer(z)).toBe(2);
    expect(uapi.ringState(z)).toEqual({ producer: 3, consumer: 2, pending: 1 });

    const second = uapi.ringCopy(z, 64);
    expect(second.count).toBe(1);
    expect(Array.from(second.meta.subarray(0, 4))).toEqual([0, SLOT, 3000, uapi.PKT_TRUNC]);
    expect(consumer(z)).toBe(3);
    expect(uapi.ringCopy(z, 64).count).toBe(0);
  });

  test('ringCount counts frames, bytes, IPv4 frames and truncated ones without copying', () => {
    const frames = [frame(0x0800, 60, 0), frame(0x0806, 42, 0), frame(0x0800, 1514, 0), Buffer.alloc(10)];
    const z = zone(8, frames, [60, 42, 1600, 10]);
    expect(uapi.ringCount(z, 8, true)).toEqual({ packets: 4, bytes: 60 + 42 + 1514 + 10, ipv4: 2, truncated: 1 });
    expect(consumer(z)).toBe(4);
    expect(uapi.ringCount(z, 8, true)).toEqual({ packets: 0, bytes: 0, ipv4: 0, truncated: 0 });
  });

  test('indices wrap around 2^32', () => {
    const z = zone(4, [1, 2, 3, 4].map((fill) => frame(0x0800, 64, fill)));
    // Indices 2^32 - 1 and 2^32 (= 0): slots 3 then 0.
    z.writeUInt32LE(0xffffffff, uapi.RING_CONSUMER_OFFSET);
    z.writeUInt32LE(1, uapi.RING_PRODUCER_OFFSET);
    expect(uapi.ringState(z).pending).toBe(2);
    const batch = uapi.ringCopy(z, 4);
    expect(batch.count).toBe(2);
    expect([batch.data[20], batch.data[64 + 20]]).toEqual([4, 1]);
    expect(consumer(z)).toBe(1);
  });

  test('a zone that is not a ring, or indices and descriptors that make no sense, are refused', () => {
    const ringError = expect.objectContaining({ code: 'ERR_FASTNET_RING' });
    const bad = zone(4, [frame(0x0800, 64, 0)]);
    bad.writeUInt32LE(0, 0);
    expect(() => uapi.ringCount(bad, 4, false)).toThrow(ringError);

    const truncatedZone = zone(4, []).subarray(0, PAGE * 2);
    expect(() => uapi.ringCopy(truncatedZone, 4)).toThrow(ringError);

    const ahead = zone(4, [frame(0x0800, 64, 0)]);
    ahead.writeUInt32LE(9, uapi.RING_CONSUMER_OFFSET);
    expect(() => uapi.ringCopy(ahead, 4)).toThrow(ringError);

    const outside = zone(4, [frame(0x0800, 64, 0)]);
    outside.writeBigUInt64LE(BigInt(outside.length - 10), PAGE + 8);
    expect(() => uapi.ringCount(outside, 4, true)).toThrow(ringError);
    expect(consumer(outside)).toBe(0);

    // A frame at 2^64 - 10: offset + length wraps around to 10.
    const wrapping = zone(4, [frame(0x0800, 64, 0)]);
    wrapping.writeBigUInt64LE(2n ** 64n - 10n, PAGE + 8);
    wrapping.writeUInt32LE(20, PAGE + 16);
    expect(() => uapi.ringCopy(wrapping, 4)).toThrow(ringError);
    expect(() => uapi.ringCount(wrapping, 4, true)).toThrow(ringError);
    expect(consumer(wrapping)).toBe(0);
    // Just past the end, and exactly up to it.
    const edge = zone(4, [frame(0x0800, 64, 7)]);
    edge.writeBigUInt64LE(BigInt(edge.length - 63), PAGE + 8);
    expect(() => uapi.ringCopy(edge, 4)).toThrow(ringError);
    edge.writeBigUInt64LE(BigInt(edge.length - 64), PAGE + 8);
    expect(uapi.ringCopy(edge, 4).bytes).toBe(64);

    // Header offsets that wrap: descriptors or slots "inside" only modulo 2^64.
    const descWraps = zone(4, [frame(0x0800, 64, 0)]);
    descWraps.writeBigUInt64LE(2n ** 64n - 64n, 16);
    expect(() => uapi.ringCopy(descWraps, 4)).toThrow(ringError);
    const dataWraps = zone(4, [frame(0x0800, 64, 0)]);
    dataWraps.writeBigUInt64LE(2n ** 64n - 4096n, 24);
    expect(() => uapi.ringState(dataWraps)).toThrow(ringError);

    expect(() => uapi.ringCount(Buffer.alloc(0), 4, true)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    expect(() => uapi.ringCopy(zone(4, []), 0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => uapi.ringCopy({} as Uint8Array, 1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('waiting', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastnet-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function fifo(): { read: number; write: number } {
    const file = path.join(dir, `fifo-${Math.random()}`);
    execFileSync('mkfifo', [file]);
    const read = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    return { read, write: fs.openSync(file, 'w') };
  }

  test('poll() and pollAsync() report POLLIN; the event loop runs meanwhile', async () => {
    const { read, write } = fifo();
    const waker = uapi.createWaker();
    try {
      expect(uapi.poll(read, 0)).toBe(0);
      const pending = uapi.pollAsync(read, waker, 5000);
      let ticked = false;
      setTimeout(() => {
        ticked = true;
        fs.writeSync(write, 'x');
      }, 20);
      expect(await pending).toBe(uapi.POLLIN);
      expect(ticked).toBe(true);
      expect(uapi.poll(read, 0)).toBe(uapi.POLLIN);
    } finally {
      [read, write].forEach((fd) => fs.closeSync(fd));
      uapi.closeWaker(waker);
    }
  });

  test('a woken waker ends a wait with 0, even after its descriptors were closed', async () => {
    const { read, write } = fifo();
    const waker = uapi.createWaker();
    const pending = uapi.pollAsync(read, waker, -1);
    // The wait polls its own duplicate: closing ours is safe.
    fs.closeSync(read);
    uapi.wake(waker);
    expect(uapi.closeWaker(waker)).toBe(true);
    expect(uapi.closeWaker(waker)).toBe(false);
    expect(await pending).toBe(0);
    fs.closeSync(write);
  });

  // A device that goes away makes fastnet report POLLERR | POLLHUP; a pipe
  // does the same for its ends: the wait resolves with them, as poll(2) says.
  test('an error or hang-up on the descriptor resolves with its revents', async () => {
    const writerGone = fifo();
    const readerGone = fifo();
    const waker = uapi.createWaker();
    const hangUp = uapi.pollAsync(writerGone.read, waker, 10_000);
    const error = uapi.pollAsync(readerGone.write, waker, 10_000);
    fs.closeSync(writerGone.write);
    fs.closeSync(readerGone.read);
    expect((await hangUp) & uapi.POLLHUP).toBe(uapi.POLLHUP);
    expect((await error) & uapi.POLLERR).toBe(uapi.POLLERR);
    uapi.closeWaker(waker);
    [writerGone.read, readerGone.write].forEach((fd) => fs.closeSync(fd));
  });

  const openFds = () => fs.readdirSync('/proc/self/fd').length;

  test('wake() releases the descriptors of pending waits at once, not on a later turn', async () => {
    const { read, write } = fifo();
    const waker = uapi.createWaker();
    const before = openFds();
    const pending = [uapi.pollAsync(read, waker, -1), uapi.pollAsync(read, waker, 60_000)];
    expect(openFds()).toBe(before + 2);
    uapi.wake(waker);
    expect(openFds()).toBe(before);
    expect(await Promise.all(pending)).toEqual([0, 0]);
    // Woken for good: a later wait ends at once.
    expect(await uapi.pollAsync(read, waker, -1)).toBe(0);
    uapi.closeWaker(waker);
    [read, write].forEach((fd) => fs.closeSync(fd));
  });

  // libuv's thread pool has 4 threads: a wait that held one would stall
  // fs.promises, dns.lookup, zlib and crypto behind four idle waits.
  test('eight idle waits hold no thread-pool thread: fs.promises.readFile still answers', async () => {
    const fifos = Array.from({ length: 8 }, fifo);
    const wakers = fifos.map(() => uapi.createWaker());
    try {
      const waits = fifos.map(({ read }, i) => uapi.pollAsync(read, wakers[i], -1));
      const answer = fs.promises.readFile('/proc/self/status', 'utf8').then(() => 'answered');
      let timer: NodeJS.Timeout | undefined;
      const stalled = new Promise((resolve) => (timer = setTimeout(resolve, 30_000, 'stalled')));
      expect(await Promise.race([answer, stalled])).toBe('answered');
      clearTimeout(timer);
      // And each of the eight still sees its frame.
      fifos.forEach(({ write }) => fs.writeSync(write, 'x'));
      expect(await Promise.all(waits)).toEqual(Array(8).fill(uapi.POLLIN));
    } finally {
      wakers.forEach((waker) => uapi.closeWaker(waker));
      fifos.forEach(({ read, write }) => [read, write].forEach((fd) => fs.closeSync(fd)));
    }
  }, 60_000);

  test('a blocking descriptor stays blocking while waited on', async () => {
    const file = path.join(dir, `fifo-${Math.random()}`);
    execFileSync('mkfifo', [file]);
    const fd = fs.openSync(file, fs.constants.O_RDWR); // a FIFO opened read-write does not wait for a writer
    const flags = () => parseInt(/^flags:\s+(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1], 8);
    const waker = uapi.createWaker();
    expect(flags() & fs.constants.O_NONBLOCK).toBe(0);
    const pending = uapi.pollAsync(fd, waker, -1);
    expect(flags() & fs.constants.O_NONBLOCK).toBe(0);
    fs.writeSync(fd, 'x');
    expect(await pending).toBe(uapi.POLLIN);
    uapi.closeWaker(waker);
    fs.closeSync(fd);
  });

  test('wake() takes only wakers: it writes to no other descriptor', () => {
    const { read, write } = fifo();
    try {
      const notAWaker = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      expect(() => uapi.wake(write)).toThrow(notAWaker);
      expect(() => uapi.pollAsync(read, write, 0)).toThrow(notAWaker);
      expect(uapi.poll(read, 0)).toBe(0); // nothing was written into the FIFO
      const closed = uapi.createWaker();
      uapi.closeWaker(closed);
      expect(() => uapi.wake(closed)).toThrow(notAWaker);
    } finally {
      [read, write].forEach((fd) => fs.closeSync(fd));
    }
  });

  test('poll() with a negative descriptor throws EBADF instead of waiting forever', () => {
    // In a child, so that a poll(2) that never returns fails the test instead of hanging it.
    const addon = path.join(__dirname, '..', '..', 'build', 'Release', 'kmodlab.node');
    const script = `
      const f = require(${JSON.stringify(addon)}).fastnet;
      try { f.poll(-1, -1, '/dev/fastnet'); console.log('returned'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, errno: e.errno, syscall: e.syscall, path: e.path })); }`;
    const child = require('node:child_process').spawnSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(child.signal).toBeNull();
    expect(JSON.parse(child.stdout)).toEqual({ code: 'EBADF', errno: -9, syscall: 'poll', path: '/dev/fastnet' });
  });

  test('timeouts give 0; bad descriptors give Node-style errors', async () => {
    const { read, write } = fifo();
    const waker = uapi.createWaker();
    expect(await uapi.pollAsync(read, waker, 10)).toBe(0);
    await expect(uapi.pollAsync(-1, waker, 10, '/dev/fastnet')).rejects.toMatchObject({
      code: 'EBADF',
      syscall: 'dup',
      path: '/dev/fastnet',
    });
    expect(() => uapi.poll(read, -2)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    [read, write].forEach((fd) => fs.closeSync(fd));
    uapi.closeWaker(waker);
  });
});
