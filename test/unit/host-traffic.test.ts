// HostTraffic (lib/host-traffic.ts) against a real out/bin/framegen on the
// host, without a VM: the frames go to a UDP socket of the test's own, bound
// where QEMU's would be. send() rejects when framegen dies or its folder goes,
// and stop() ends a send within framegen's batch of frames.
import { spawn, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { HostTraffic, STOP_BATCH_FRAMES, decodeFrame, type TrafficResult } from '../../lib/host-traffic';

const FRAMEGEN = path.resolve(__dirname, '..', '..', 'out', 'bin', 'framegen');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Above the 10 s each send is given to settle, so a send that never does fails as 'pending'.
jest.setTimeout(30_000);

let dir: string;
let framegen: ChildProcess;
let framegenExited: Promise<void>;
/** QEMU's end of the link: counts framegen's frames. */
let qemuSocket: dgram.Socket;
let received: number;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'framegen-test-'));
  framegen = spawn(FRAMEGEN, [dir], { stdio: 'ignore' });
  framegenExited = new Promise((resolve) => framegen.on('exit', () => resolve()));
  const ports = path.join(dir, 'ports');
  for (let i = 0; !fs.existsSync(ports); i++) {
    if (i > 100) throw new Error(`framegen wrote no ${ports}`);
    await sleep(50);
  }
  const qemuPort = Number(fs.readFileSync(ports, 'utf8').trim().split(/\s+/)[1]);
  received = 0;
  qemuSocket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  qemuSocket.on('message', (frame) => {
    if (decodeFrame(frame)) received++;
  });
  await new Promise<void>((resolve) => qemuSocket.bind(qemuPort, '127.0.0.1', resolve));
});

afterEach(async () => {
  framegen.kill('SIGKILL');
  await framegenExited;
  qemuSocket.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The send's outcome, or 'pending' if it has not settled within `ms`. */
async function settled(sending: Promise<TrafficResult>, ms: number): Promise<TrafficResult | Error | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    sending.catch((err: Error) => err),
    new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms))),
  ]);
  clearTimeout(timer);
  return outcome;
}

async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(5);
  }
}

test('send() rejects with ERR_HOST_TRAFFIC_GONE within seconds when framegen is killed mid-send', async () => {
  const traffic = new HostTraffic(dir);
  const sending = traffic.send({ size: 60, count: 10_000_000, rate: 1000 });
  await until('the first frames', 5000, () => received > 50);
  framegen.kill('SIGKILL');
  const outcome = await settled(sending, 10_000);
  expect(outcome).toBeInstanceOf(Error);
  expect(outcome).toMatchObject({ code: 'ERR_HOST_TRAFFIC_GONE', message: expect.stringMatching(/framegen is not running: its heartbeat .*alive has not moved/) });
});

test('send() rejects with ERR_HOST_TRAFFIC_GONE when the folder goes mid-send, and framegen exits', async () => {
  const traffic = new HostTraffic(dir);
  const sending = traffic.send({ size: 60, count: 10_000_000, rate: 1000 });
  await until('the first frames', 5000, () => received > 50);
  fs.rmSync(dir, { recursive: true, force: true });
  const outcome = await settled(sending, 10_000);
  expect(outcome).toMatchObject({ code: 'ERR_HOST_TRAFFIC_GONE', message: expect.stringContaining(`framegen's folder ${dir} is gone`) });
  expect((outcome as Error).cause).toMatchObject({ code: 'ENOENT', syscall: 'stat' });
  // framegen notices in its send loop, not only between requests.
  expect(await Promise.race([framegenExited.then(() => 'exited'), sleep(2000).then(() => 'running')])).toBe('exited');
});

test('stop() during a long send: at most a batch of frames more', async () => {
  const traffic = new HostTraffic(dir);
  const sending = traffic.send({ size: 60, count: 10_000_000, rate: 2000 });
  // Past framegen's old check at frame 1024, so the old 1024-frame batch would show.
  await until('1100 frames', 10_000, () => received >= 1100);
  const atStop = received;
  traffic.stop();
  const result = await sending;
  await sleep(100); // the last frames on the loopback socket
  expect(result.sent).toBe(received);
  // Plus what the event loop had not yet counted at the stop: 10 ms at 2000 frames/s.
  expect(result.sent - atStop).toBeLessThanOrEqual(STOP_BATCH_FRAMES + 20);
});

test('a stop() before framegen takes the request still stops it', async () => {
  const traffic = new HostTraffic(dir);
  const sending = traffic.send({ size: 60, count: 5000, rate: 5000 });
  traffic.stop(); // framegen looks for a request every 20 ms: not yet taken
  const result = await sending;
  expect(result.sent).toBeLessThanOrEqual(STOP_BATCH_FRAMES);
  // And the next send is not stopped by it.
  expect((await traffic.send({ size: 60, count: 100, rate: 0 })).sent).toBe(100);
});
