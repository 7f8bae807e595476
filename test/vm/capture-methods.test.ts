// Every capture method against pktgen's frames on one veth device: each
// must count exactly what was sent, or show the difference as counted loss;
// hand over the frames themselves (where it can), in order, with
// timestamps (where it has them); apply a filter; refuse a bad device with
// a Node-style error; and stop for good on close().
//
// af_xdp gets netsend's datagrams from the veth peer instead: generic XDP on
// pktgen's injected (shared) skbs panics the kernel, so it refuses a device
// pktgen is set up on.
import { spawn } from 'node:child_process';
import { getEventListeners } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { METHODS, openCapture, type Capture, type CaptureMethod, type CaptureOptions } from '../../lib/capture';
import { VethPair, pktgenReset, pktgenRun, pktgenSent, pktgenSetup } from '../../lib/traffic';
import { DEBUG_KERNEL, userSpaceTest } from './debug-kernel';
import { Topology, UDP_HEADERS, expectPktgenFrames, expectUdpFrames, pktgenSeq } from './fastnet-net';

let net: Topology;

beforeAll(() => {
  net = new Topology(5);
});

afterAll(() => net?.close());

/** `count` UDP/IPv4 frames of `length` bytes to `port`; returns how many were sent. */
async function send(method: CaptureMethod, count: number, length: number, port = 9000): Promise<number> {
  if (method === 'af_xdp') {
    await net.sendUdp(count, length - UDP_HEADERS, port);
    return count;
  }
  net.inject(count, length, port);
  return pktgenSent(net.dev);
}

/** The frames are the `count` that send() sent, in order. */
function expectSent(method: CaptureMethod, frames: Buffer[], count: number, length: number): void {
  if (method === 'af_xdp') expectUdpFrames(frames, count, length - UDP_HEADERS);
  else expectPktgenFrames(frames, count);
}

/** Room for every frame a test sends before it reads any. */
function roomy(method: CaptureMethod): CaptureOptions {
  switch (method) {
    case 'socket':
    case 'socket-mmsg':
    case 'pcap':
      return { bufferSize: 32 << 20 };
    case 'af_xdp':
    case 'fastnet-ring':
      return { ringSize: 4096 };
    case 'fastnet-read':
      return { ringSize: 8192 };
    default:
      return {};
  }
}

/** The kernel's receive counter in stats().detail: frames that reached the socket, taken or not, dropped ones included. */
const KERNEL_RECEIVED: Partial<Record<CaptureMethod, string>> = { socket: 'tp_packets', 'socket-mmsg': 'tp_packets', pcap: 'ps_recv' };

/** countBatch() until `expected` frames (less what the method counted lost) came, or nothing more does. */
function countAll(capture: Capture, expected: number): { frames: number; ipv4: number; bytes: number } {
  const total = { frames: 0, ipv4: 0, bytes: 0 };
  let idle = 0;
  while (total.frames < expected && idle < 3) {
    const counts = capture.countBatch(1000);
    total.frames += counts.frames;
    total.ipv4 += counts.ipv4;
    total.bytes += counts.bytes;
    if (counts.frames === 0) {
      idle++;
      if (total.frames + capture.stats().dropped >= expected) break;
    } else {
      idle = 0;
    }
  }
  return total;
}

const DIST_CAPTURE = path.join(__dirname, '..', '..', 'dist', 'capture');

/** Resolves with the child's exit status, or kills it and resolves null after `ms`. */
function exited(child: ReturnType<typeof spawn>, ms: number): Promise<number | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, ms);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve(status);
    });
  });
}

// fastnet-zc needs the e1000 and host frames: test/vm/fastnet-zerocopy-bench.test.ts (the zero-copy boot).
// On the debug kernel only fastnet's methods: the others run the kernel's own AF_PACKET, libpcap
// and AF_XDP paths and the project's user space, which Debian's kernel tests; the debug kernel is
// there for the project's modules (qemu/test.sh's debug_skip is the same rule by file).
const VETH_METHODS = METHODS.filter((method) => method !== 'fastnet-zc' && (!DEBUG_KERNEL || method.startsWith('fastnet')));

describe.each(VETH_METHODS.map((method) => [method]))('%s', (method: CaptureMethod) => {
  if (method === 'af_xdp') {
    beforeAll(() => pktgenReset());

    test('refuses a device pktgen injects into', () => {
      net.setupInjection(1);
      expect(() => openCapture(method, net.dev)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
      pktgenReset();
    });
  }

  test('countBatch() counts every frame sent, or the difference is counted loss', async () => {
    using capture = openCapture(method, net.dev, { ...roomy(method), batchSize: 64 });
    expect(capture.method).toBe(method);
    expect(capture.device).toBe(net.dev);
    const sent = await send(method, 3000, 64);
    expect(sent).toBe(3000);
    // The kernel's count (docs/capture.md): every frame that reached the socket, read or not.
    const kernel = KERNEL_RECEIVED[method];
    // libpcap's direction filter runs in user space: ps_recv also counts the stack's own frames
    // out of the device (its ICMP port unreachable to the sender, rate-limited), which it discards.
    let outgoing = 0;
    if (kernel) {
      const waiting = capture.stats();
      expect(waiting.received).toBe(0);
      outgoing = waiting.detail[kernel] - sent;
      expect(outgoing).toBeGreaterThanOrEqual(0);
      expect(outgoing).toBeLessThanOrEqual(method === 'pcap' ? 10 : 0);
    }
    const total = countAll(capture, sent);
    const stats = capture.stats();
    expect(total.frames + stats.dropped).toBe(sent);
    if (kernel) expect(stats.detail[kernel] - stats.received - stats.dropped).toBe(outgoing);
    expect(total.frames).toBeGreaterThan(0);
    expect(stats.received).toBe(total.frames);
    expect(total.bytes).toBe(total.frames * 64);
    // drop never reads a frame; every other method reads bytes 12-13 of each.
    expect(total.ipv4).toBe(method === 'fastnet-drop' ? 0 : total.frames);
    expect(stats.ipv4).toBe(total.ipv4);
    // Nothing more than was sent.
    expect(capture.countBatch(200).frames).toBe(0);
  });

  if (method === 'fastnet-ring') {
    test('batch: false (the ring readable at every frame) counts every frame too', async () => {
      using capture = openCapture(method, net.dev, { ...roomy(method), batch: false, batchSize: 64 });
      const sent = await send(method, 3000, 64);
      const total = countAll(capture, sent);
      expect(total.frames + capture.stats().dropped).toBe(sent);
      expect(total.ipv4).toBe(total.frames);
      expect(capture.countBatch(200).frames).toBe(0);
    });

    test('countBatch(timeout) on an idle batched ring waits the timeout once, not again after it', () => {
      using capture = openCapture(method, net.dev);
      const start = performance.now();
      expect(capture.countBatch(1000).frames).toBe(0);
      const elapsed = performance.now() - start;
      // Once is 1000 ms, twice 2000 (the bug): the bound leaves 800 ms for a slow kernel or host.
      expect(elapsed).toBeGreaterThanOrEqual(990);
      expect(elapsed).toBeLessThan(1800);
    });
  }

  if (method === 'fastnet-drop') {
    test('hands no frames over: batches() refuses', async () => {
      using capture = openCapture(method, net.dev);
      expect(capture.capabilities.frames).toBe(false);
      await expect(capture.batches().next()).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
    });
  } else {
    test('for await: the frames themselves, in order, with timestamps where the method has them', async () => {
      using capture = openCapture(method, net.dev, roomy(method));
      const before = BigInt(Date.now() - 1000) * 1_000_000n;
      await send(method, 500, 128);
      const frames: Buffer[] = [];
      const stamps: bigint[] = [];
      const signal = AbortSignal.timeout(60_000);
      for await (const batch of capture.batches({ signal })) {
        for (const packet of batch) {
          frames.push(Buffer.from(packet.data));
          stamps.push(packet.timestampNs);
          expect(packet.originalLength).toBe(128);
        }
        if (frames.length + capture.stats().dropped >= 500) break;
      }
      expect(capture.stats().dropped).toBe(0);
      expectSent(method, frames, 500, 128);
      expect(frames.every((f) => f.length === 128 && f.readUInt16BE(12) === 0x0800)).toBe(true);
      if (capture.capabilities.timestamps) {
        const after = BigInt(Date.now() + 1000) * 1_000_000n;
        expect(stamps.filter((t) => t < before || t > after)).toEqual([]);
        expect(stamps.filter((t, i) => i > 0 && t < stamps[i - 1])).toEqual([]);
        // Nanoseconds (or microseconds), not milliseconds in a nanosecond field.
        expect(stamps.filter((t) => t % 1_000_000n !== 0n).length).toBeGreaterThan(stamps.length / 2);
        // af_xdp stamps each frame as it takes it: not one stamp a batch.
        if (method === 'af_xdp') expect(new Set(stamps).size).toBeGreaterThan(stamps.length / 2);
      } else {
        expect(stamps.every((t) => t === 0n)).toBe(true);
      }
    });

    test('loop() and snapLength: frames cut to the snap length keep their length on the wire', async () => {
      using capture = openCapture(method, net.dev, { ...roomy(method), snapLength: 50 });
      await send(method, 200, 100);
      const controller = new AbortController();
      let lengths: number[] = [];
      let originals: number[] = [];
      const seen = await capture.loop(
        (batch) => {
          for (const packet of batch) {
            lengths.push(packet.data.length);
            originals.push(packet.originalLength);
          }
          if (lengths.length >= 200) controller.abort();
        },
        { signal: controller.signal },
      );
      expect(seen).toBe(200);
      // fastnet-ring's slots keep whole frames: snapLength applies to its copies only via the slot size.
      if (method !== 'fastnet-ring') lengths = lengths.filter((n) => n !== 50);
      else lengths = [];
      originals = originals.filter((n) => n !== 100);
      expect({ lengths, originals }).toEqual({ lengths: [], originals: [] });
    });
  }

  test('close(): stops for good, twice is fine, iterators end', async () => {
    const capture = openCapture(method, net.dev);
    const pending = capture.capabilities.frames ? capture.batches().next() : Promise.resolve({ done: true });
    capture.close();
    capture.close();
    expect(capture.closed).toBe(true);
    await expect(pending).resolves.toMatchObject({ done: true });
    expect(() => capture.countBatch()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    expect(() => capture.stats()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    // The device is free again for another capture.
    openCapture(method, net.dev).close();
  });

  test('an AbortSignal given at open closes the capture', async () => {
    const controller = new AbortController();
    const capture = openCapture(method, net.dev, { signal: controller.signal });
    controller.abort();
    expect(capture.closed).toBe(true);
  });

  test('an unknown device: ENODEV, Node-style; the signal given keeps no listener', () => {
    const controller = new AbortController();
    let error: NodeJS.ErrnoException | undefined;
    try {
      openCapture(method, 'nosuchdev0', { signal: controller.signal }).close();
    } catch (e) {
      error = e as NodeJS.ErrnoException;
    }
    // Not toBeInstanceOf(Error): the addon's errors come from another realm than jest's.
    expect(Object.prototype.toString.call(error)).toBe('[object Error]');
    expect(error).toMatchObject({ code: 'ENODEV', errno: -19 });
    expect(typeof error!.syscall).toBe('string');
    expect(typeof error!.path).toBe('string');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    controller.abort(); // nothing to close: no TypeError from a listener
  });

  test('one AbortSignal over 11 captures: a listener while each is open, none once it is closed', () => {
    const controller = new AbortController();
    for (let i = 0; i < 11; i++) {
      const capture = openCapture(method, net.dev, { signal: controller.signal });
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
      capture.close();
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    }
    const last = openCapture(method, net.dev, { signal: controller.signal });
    controller.abort();
    expect(last.closed).toBe(true);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  test('countBatchAsync(): waits on the event loop (timers run), counts what comes; abort and close() end a wait', async () => {
    using capture = openCapture(method, net.dev, { ...roomy(method), batchSize: 64 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    const start = performance.now();
    const idle = await capture.countBatchAsync(400);
    clearInterval(timer);
    expect(idle).toEqual({ frames: 0, ipv4: 0, bytes: 0 });
    expect(performance.now() - start).toBeGreaterThanOrEqual(390);
    // A wait that blocked the event loop would let no tick run before it returned; how many run
    // depends on the machine's load (4 of 20 seen on the debug kernel beside another job).
    expect(ticks).toBeGreaterThanOrEqual(1);

    const sent = await send(method, 500, 64);
    let frames = 0;
    while (frames + capture.stats().dropped < sent) {
      const counts = await capture.countBatchAsync(5000);
      if (counts.frames === 0) break;
      // drop reports what the kernel counted since the last call, in one go.
      if (method !== 'fastnet-drop') expect(counts.frames).toBeLessThanOrEqual(64);
      frames += counts.frames;
    }
    expect(frames + capture.stats().dropped).toBe(sent);
    expect(capture.stats().received).toBe(frames);

    const controller = new AbortController();
    const aborted = capture.countBatchAsync(-1, { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await expect(aborted).resolves.toEqual({ frames: 0, ipv4: 0, bytes: 0 });
    const closed = capture.countBatchAsync();
    setTimeout(() => capture.close(), 100);
    await expect(closed).resolves.toEqual({ frames: 0, ipv4: 0, bytes: 0 });
  });

  // countBatch(-1) would block the event loop in poll(): the handler could not run.
  userSpaceTest('a SIGINT handler runs while countBatchAsync() waits', async () => {
    const script = `
      const { openCapture } = require(${JSON.stringify(DIST_CAPTURE)});
      const capture = openCapture(process.argv[1], process.argv[2]);
      process.on('SIGINT', () => {
        console.log('SIGINT');
        capture.close();
      });
      capture.countBatchAsync(-1).then((counts) => console.log('frames', counts.frames));
      console.log('waiting');
    `;
    const child = spawn(process.execPath, ['-e', script, method, net.dev], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.setEncoding('utf8');
    const waiting = new Promise<void>((resolve) =>
      child.stdout!.on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('waiting\n')) resolve();
      }),
    );
    const status = exited(child, 30_000);
    await Promise.race([waiting, status]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill('SIGINT');
    expect({ status: await status, out }).toEqual({ status: 0, out: 'waiting\nSIGINT\nframes 0\n' });
  });

  if (method === 'socket-mmsg') {
    test('buffers too big to allocate: the open fails and leaves no descriptor behind', () => {
      const descriptors = () => fs.readdirSync('/proc/self/fd').length;
      const before = descriptors();
      // 65536 frames of 256 KiB: 16 GiB, more than the guest has, allocated after the socket is open.
      expect(() => openCapture(method, net.dev, { batchSize: 65536, snapLength: 262144 })).toThrow();
      expect(descriptors()).toBe(before);
    });
  }

  if (method === 'socket') {
    // The socket reports an error once (ENETDOWN when its device goes
    // down). A countBatch() that meets it after taking frames must return
    // them and throw it on the next call, or they are lost. The device goes
    // down from another process while one call takes 30,000 queued frames;
    // a round where it went down before or after that call says nothing,
    // and is tried again.
    test('frames taken before an error are returned; the error comes on the next call', async () => {
      const rounds: Array<Array<number | string>> = [];
      const sent = 30_000;
      for (let round = 0; round < 4; round++) {
        using veth = new VethPair('caperr0', 'caperr1', { address: '10.99.8.2/24' });
        using capture = openCapture(method, veth.name, { bufferSize: 512 << 20, batchSize: 65536 });
        pktgenSetup({ device: veth.name, count: sent, size: 256, dstMac: veth.mac, src: '10.99.8.1', dst: '10.99.8.2' });
        pktgenRun();
        expect(pktgenSent(veth.name)).toBe(sent);
        const results: Array<number | string> = [];
        const take = () => {
          try {
            results.push(capture.countBatch(0).frames);
          } catch (error) {
            results.push((error as NodeJS.ErrnoException).code ?? String(error));
          }
        };
        const down = spawn('ip', ['link', 'set', 'dev', veth.name, 'down']);
        take();
        expect(await exited(down, 30_000)).toBe(0);
        do take();
        while (results.at(-1) !== 0);
        pktgenReset();
        rounds.push(results);
        const counted = results.reduce<number>((sum, r) => sum + (typeof r === 'number' ? r : 0), 0);
        expect({ results, counted: counted + capture.stats().dropped }).toEqual({ results, counted: sent });
        expect(results.filter((r) => typeof r === 'string')).toEqual(['ENETDOWN']);
        const first = results[0];
        if (typeof first === 'number' && first > 0 && first < sent) break;
      }
      // The device went down during a call at least once.
      const hit = rounds.at(-1)![0];
      expect({ rounds, hit: typeof hit === 'number' && hit > 0 && hit < sent }).toEqual({ rounds, hit: true });
    });
  }

  if (!method.startsWith('fastnet-')) {
    test('a filter keeps only what it matches (compiled by libpcap)', async () => {
      using capture = openCapture(method, net.dev, { ...roomy(method), filter: 'udp dst port 9001' });
      await send(method, 300, 64, 9000);
      await send(method, 200, 64, 9001);
      const total = countAll(capture, 200);
      expect(total.frames + capture.stats().dropped).toBe(200);
      expect(capture.countBatch(300).frames).toBe(0);
    });

    test('copies through a filter too', async () => {
      using capture = openCapture(method, net.dev, { ...roomy(method), filter: 'udp dst port 9001' });
      await send(method, 100, 64, 9000);
      await send(method, 50, 64, 9001);
      const frames: Buffer[] = [];
      for await (const batch of capture.batches({ signal: AbortSignal.timeout(60_000) })) {
        for (const packet of batch) frames.push(Buffer.from(packet.data));
        if (frames.length >= 50) break;
      }
      expect(frames.map((f) => f.readUInt16BE(36))).toEqual(new Array(50).fill(9001));
      if (method !== 'af_xdp') expect(frames.map(pktgenSeq).every((seq) => seq >= 0)).toBe(true);
    });
  }
});
