// A capture must not cut the machine off the network: in pass-through mode
// a 50 MiB TCP transfer (15 on the debug kernel) through the captured device arrives whole while the
// frames are being taken, and once the session is closed the kernel holds
// no more memory than before.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as netModule from 'node:net';

import * as fastnet from '../../lib/fastnet';
import { rounds } from './debug-kernel';
import { NETSEND, Topology } from './fastnet-net';
import { memorySnapshot, settleMemory } from './meminfo';

const FILE = '/tmp/fastnet-transfer';
const SMALL_FILE = '/tmp/fastnet-warmup';
const SIZE = rounds(50, 15) << 20;
const PORT = 9100;

let net: Topology;
let digest: string;

beforeAll(() => {
  net = new Topology(3);
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(FILE, 'w');
  for (let written = 0; written < SIZE; written += 1 << 20) {
    const chunk = crypto.randomBytes(1 << 20);
    hash.update(chunk);
    fs.writeSync(fd, chunk);
  }
  fs.closeSync(fd);
  digest = hash.digest('hex');
  fs.writeFileSync(SMALL_FILE, crypto.randomBytes(4 << 20));
});

afterAll(() => {
  fs.rmSync(FILE, { force: true });
  fs.rmSync(SMALL_FILE, { force: true });
  net?.close();
});

/** Sends `file` from the peer's namespace to a server here; what arrived, and its SHA-256. */
async function transfer(file: string): Promise<{ bytes: number; digest: string }> {
  const server = netModule.createServer();
  const received = new Promise<{ bytes: number; digest: string }>((resolve, reject) => {
    server.once('connection', (socket) => {
      const hash = crypto.createHash('sha256');
      let bytes = 0;
      socket.on('data', (chunk) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      socket.on('error', reject);
      // netsend waits for this close before it exits.
      socket.on('end', () => {
        socket.end();
        resolve({ bytes, digest: hash.digest('hex') });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(PORT, net.address, resolve));
  try {
    const [, sent] = await Promise.all([
      received,
      net.ns.run(NETSEND, ['tcp', net.address, String(PORT), file], { timeoutMs: 120_000 }),
    ]);
    expect(sent.trim()).toBe(`sent ${fs.statSync(file).size}`);
    return await received;
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

type Captured = { packets: number; bytes: number; ipv4: number; truncated: number };

/** Counts a batch into `captured`. */
function count(captured: Captured, batch: fastnet.PacketBatch): void {
  captured.packets += batch.count;
  captured.bytes += batch.bytes;
  captured.ipv4 += batch.countIPv4();
  for (const packet of batch) if (packet.truncated) captured.truncated++;
}

/** Takes what the capture still holds, after its loop ended. */
function drainRest(session: fastnet.Session, captured: Captured): void {
  for (;;) {
    const batch = session.mode === 'ring' ? session.ring.drain() : session.readBatch(512);
    if (batch.count === 0) return;
    count(captured, batch);
  }
}

test.each([
  // veth hands TCP's GSO frames (up to 64 KiB) to the handler whole: slots that fit them.
  ['ring', { slots: 1024, slotSize: 65536, passThrough: true }],
  ['read', { queueLength: 4096, passThrough: true }],
] as const)(`mode %s, pass-through: a ${SIZE >> 20} MiB TCP transfer arrives whole while captured, and leaves no memory behind`, async (mode, options) => {
  expect((await transfer(SMALL_FILE)).bytes).toBe(4 << 20); // warms TCP's caches
  await settleMemory();
  const before = memorySnapshot();
  {
    using session = fastnet.open().bind(net.dev, mode, options);
    const captured: Captured = { packets: 0, bytes: 0, ipv4: 0, truncated: 0 };
    const controller = new AbortController();
    const capturing = session.loop((batch) => count(captured, batch), { maxBatch: 512, signal: controller.signal });

    const started = Date.now();
    const result = await transfer(FILE);
    const ms = Date.now() - started;
    controller.abort();
    await capturing;
    drainRest(session, captured);

    expect(result).toEqual({ bytes: SIZE, digest });
    const stats = session.stats();
    console.log(
      `fastnet ${mode} pass-through: ${SIZE >> 20} MiB in ${ms} ms; ${stats.received} frames seen ` +
        `(${stats.receivedBytes} bytes), ${stats.delivered} captured, ${stats.dropped} dropped, ${stats.truncated} truncated`,
    );
    // The data came as IPv4 frames on this device, and every one of them was seen.
    expect(stats.receivedBytes).toBeGreaterThan(SIZE);
    expect(stats.delivered + stats.dropped).toBe(stats.received);
    expect(stats.delivered).toBeGreaterThan(0);
    expect(captured.packets).toBe(stats.delivered);
    expect(captured.bytes).toBe(stats.deliveredBytes);
    // Static neighbours and no IPv6 (Topology): every frame is IPv4, and
    // none is longer than a ring slot or the snap length (64 KiB).
    expect(captured.ipv4).toBe(captured.packets);
    expect(captured.truncated).toBe(0);
    expect(stats.truncated).toBe(0);
  }
  await settleMemory();
  const after = memorySnapshot();
  console.log(
    `fastnet ${mode} pass-through: Slab ${before.slab} -> ${after.slab} KiB, ` +
      `MemAvailable ${before.memAvailable} -> ${after.memAvailable} KiB ` +
      `(with per-CPU free pages and own memory ${before.available} -> ${after.available} KiB)`,
  );
  expect(after.slab - before.slab).toBeLessThan(1024);
  expect(before.available - after.available).toBeLessThan(4096);
});
