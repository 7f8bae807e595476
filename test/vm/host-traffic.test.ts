// lib/host-traffic.ts against the host's framegen through the e1000, booted
// with `--traffic`: qemu/test.sh boots this file with the zero-copy files
// (`npm test -- --vm test/vm/host-traffic`). That send() rejects when
// framegen dies is a host test (test/unit/host-traffic.test.ts): here the
// host side has to outlive the boot.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';

import { HOST_IP, HostTraffic, STOP_BATCH_FRAMES, setupGuestLink } from '../../lib/host-traffic';

const DEV = 'eth0';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Frames the e1000 has handed to the stack: only framegen's (IPv6 is off on it). */
const rxPackets = () => Number(fs.readFileSync(`/sys/class/net/${DEV}/statistics/rx_packets`, 'utf8'));

let traffic: HostTraffic;

beforeAll(async () => {
  if (!HostTraffic.available()) {
    throw new Error('host-traffic needs host traffic: `npm test -- --vm test/vm/host-traffic` boots with it');
  }
  traffic = new HostTraffic();
  await setupGuestLink(DEV);
}, 60_000);

/** Waits until the receive count has not moved for `quietMs`; returns it. */
async function settledRx(quietMs = 500): Promise<number> {
  let last = rxPackets();
  for (;;) {
    await sleep(quietMs);
    const now = rxPackets();
    if (now === last) return now;
    last = now;
  }
}

describe('HostTraffic.stop()', () => {
  test('during a long send ends it with at most a batch more frames', async () => {
    const rate = 1000;
    const base = await settledRx();
    const sending = traffic.send({ size: 60, count: 10_000_000, rate });
    // Past frame 1024, where framegen used to look for a stop first (then every 1024).
    const deadline = Date.now() + 60_000;
    while (rxPackets() - base < 1100) {
      if (Date.now() > deadline) throw new Error(`only ${rxPackets() - base} frames in 60 s at ${rate}/s`);
      await sleep(10);
    }
    const atStop = rxPackets() - base;
    traffic.stop();
    const result = await sending;
    const total = (await settledRx()) - base;
    // What the guest had counted when it asked, plus the batch, plus up to 150 ms of frames
    // still on their way through QEMU and the e1000 at the time (TCG, a shared host).
    expect(result.sent - atStop).toBeLessThanOrEqual(STOP_BATCH_FRAMES + 0.15 * rate);
    // The count measures framegen's frames: every one it sent arrived (or the host counted it
    // dropped at QEMU's socket), plus an ARP reply or two (the guest answers the UDP frames with
    // ICMP port unreachable, which needs the host's MAC).
    expect(total + result.hostDropped - result.sent).toBeGreaterThanOrEqual(0);
    expect(total + result.hostDropped - result.sent).toBeLessThanOrEqual(4);
  });
});

describe('the host answers while it sends', () => {
  test('ARP and ping round trips stay short during a 10 kpps send', async () => {
    const rate = 10_000;
    await settledRx();
    // The guest must ask for the host's MAC again, in the middle of the send.
    execFileSync('ip', ['neigh', 'flush', 'dev', DEV]);
    const sending = traffic.send({ size: 60, count: 6 * rate, rate });
    await sleep(500);
    const ping = spawn('busybox', ['ping', '-c', '16', '-i', '0.25', '-W', '3', HOST_IP], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    ping.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    await new Promise((resolve) => ping.on('exit', resolve));
    const result = await sending;
    expect(result.sent).toBe(6 * rate);
    // Pings sent during the send (16 at 0.25 s: 4 s of its 6), answered in time=X ms lines.
    const times = [...output.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
    const summary = `round trips (ms): ${times.join(' ')}; framegen sent ${result.sent}, host dropped ${result.hostDropped}`;
    console.log(summary);
    expect({ answered: times.length >= 12, summary }).toEqual({ answered: true, summary });
    // Generous bounds (TCG, a shared host): replies held until the burst ended took 1 to 2 s.
    expect({ median: times[Math.floor(times.length / 2)] < 200, summary }).toEqual({ median: true, summary });
  }, 60_000);
});
