// The iteration fastnet sessions and captures share (lib/batch-iterator.ts),
// on the host: a FIFO stands for the device (its bytes for frames, its writer
// closing for the device going away: POLLHUP). Batches come as they are
// ready, the wait runs on the event loop, a poll() error gives the source's
// error once what was ready has come, and close() or an abort end it quietly.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { type BatchSource, Wakers, batchesOf, loopOver } from '../../lib/batch-iterator';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmodlab-batches-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Batch {
  count: number;
  text: string;
}

/** A FIFO as a source: take() reads what is there; gone() is a system error as the kernel's are. */
function fifoSource(): { source: BatchSource<Batch>; write(text: string): void; hangUp(): void; close(): void } {
  const fifo = path.join(dir, `fifo-${Math.random()}`);
  execFileSync('mkfifo', [fifo]);
  const readFd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  let writeFd = fs.openSync(fifo, 'w');
  let closed = false;
  const wakers = new Wakers();
  const source: BatchSource<Batch> = {
    take() {
      const buffer = Buffer.alloc(4096);
      let n = 0;
      try {
        n = fs.readSync(readFd, buffer);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      }
      return { count: n, text: buffer.subarray(0, n).toString() };
    },
    fd: () => readFd,
    path: fifo,
    wakers,
    closed: () => closed,
    gone: () => Object.assign(new Error(`ENODEV: no such device, ioctl '${fifo}'`), { code: 'ENODEV', errno: -19, syscall: 'ioctl' }),
  };
  return {
    source,
    write: (text) => fs.writeSync(writeFd, text),
    hangUp: () => {
      fs.closeSync(writeFd);
      writeFd = -1;
    },
    close: () => {
      closed = true;
      wakers.wakeAll();
      if (writeFd >= 0) fs.closeSync(writeFd);
      fs.closeSync(readFd);
    },
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

test('batches as they come, waiting on the event loop; after a hang-up, what was ready, then the source\'s error', async () => {
  const fifo = fifoSource();
  const seen: string[] = [];
  let timers = 0;
  const timer = setInterval(() => timers++, 5);
  const iterating = (async () => {
    for await (const batch of batchesOf(fifo.source)) seen.push(batch.text);
  })();
  await tick();
  fifo.write('one');
  await tick();
  fifo.write('two');
  fifo.hangUp();
  await expect(iterating).rejects.toMatchObject({ code: 'ENODEV', errno: -19, syscall: 'ioctl' });
  clearInterval(timer);
  expect(seen).toEqual(['one', 'two']);
  expect(timers).toBeGreaterThan(0);
  fifo.close();
});

test('close() and an abort end a waiting iteration quietly; loopOver counts the frames and awaits the callback', async () => {
  const fifo = fifoSource();
  fifo.write('abc');
  const calls: string[] = [];
  const looping = loopOver(batchesOf(fifo.source), async (batch) => {
    await tick();
    calls.push(batch.text);
  });
  await tick();
  await tick();
  fifo.close();
  await expect(looping).resolves.toBe(3);
  expect(calls).toEqual(['abc']);

  const other = fifoSource();
  const controller = new AbortController();
  const waiting = loopOver(batchesOf(other.source, controller.signal), () => {});
  await tick();
  controller.abort();
  await expect(waiting).resolves.toBe(0);
  // Aborted before the first batch: nothing is taken, nothing waits.
  other.write('late');
  await expect(loopOver(batchesOf(other.source, controller.signal), () => {})).resolves.toBe(0);
  other.close();
});
