// The host source of kmodlab bench and the fastnet-zc capture method, for
// real: qemu/test.sh boots files named fastnet-zerocopy* with `--traffic
// --iommu`, so the e1000's other end is the host's framegen. No speed is
// asserted: only that the counts add up (what was sent is what was counted,
// or the difference is counted loss).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { openCapture } from '../../lib/capture';
import { HostTraffic, setupGuestLink, waitForCarrier } from '../../lib/host-traffic';
import { userSpaceTest } from './debug-kernel';

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'kmodlab.js');
const DEV = 'eth0';

let traffic: HostTraffic;

beforeAll(async () => {
  if (!HostTraffic.available()) {
    throw new Error('needs host traffic: `npm test -- --vm test/vm/fastnet-zerocopy-bench` boots with it');
  }
  traffic = new HostTraffic();
  await setupGuestLink(DEV);
}, 60_000);

jest.setTimeout(600_000);

describe('fastnet-zc capture', () => {
  test('counts what the host sent (IPv4, bytes), or counts the difference as loss; stats; close', async () => {
    const size = 128;
    const capture = openCapture('fastnet-zc', DEV, { ringSize: 4096, batchSize: 256 });
    try {
      expect(capture.capabilities).toEqual({ frames: true, timestamps: true });
      // Entering zero-copy restarts the e1000: its link comes back within seconds.
      await waitForCarrier(DEV);
      let done = false;
      const sending = traffic.send({ size, count: 5000, rate: 5000 }).finally(() => (done = true));
      let counted = 0;
      let quietSince = 0;
      for (;;) {
        const got = capture.countBatch(50).frames;
        counted += got;
        await new Promise((resolve) => setImmediate(resolve));
        if (!done) continue;
        if (got) quietSince = 0;
        else if (!quietSince) quietSince = Date.now();
        else if (Date.now() - quietSince > 500) break;
      }
      const result = await sending;
      const stats = capture.stats();
      expect(stats.received).toBe(counted);
      // Every framegen frame is UDP/IPv4 of `size` bytes; nothing else is sent to the guest meanwhile.
      expect(stats.ipv4).toBe(stats.received);
      expect(stats.bytes).toBe(stats.received * size);
      // What did not arrive is counted: the ring's drops, the NIC's missed frames, the host socket's drops.
      expect(stats.received + stats.dropped + stats.detail.nicMissed + result.hostDropped).toBe(result.sent);
      expect(stats.detail.delivered).toBe(stats.received);

      // Copied batches work too: a few frames, whole, with timestamps.
      const few = traffic.send({ size, count: 8, rate: 100 });
      await few;
      await new Promise((resolve) => setTimeout(resolve, 300));
      const ac = new AbortController();
      let frames = 0;
      for await (const batch of capture.batches({ signal: ac.signal })) {
        for (const packet of batch) {
          expect(packet.data.length).toBe(size);
          expect(packet.timestampNs).toBeGreaterThan(0n);
          frames++;
        }
        if (frames >= 8) ac.abort();
      }
      expect(frames).toBe(8);
    } finally {
      capture.close();
    }
    expect(capture.closed).toBe(true);
    expect(() => capture.countBatch()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    await waitForCarrier(DEV);
  });

  test('a device without zero-copy: a Node-style error, nothing left bound', () => {
    expect(() => openCapture('fastnet-zc', 'lo')).toThrow(expect.objectContaining({ syscall: expect.any(String) }));
    expect(() => openCapture('fastnet-zc', 'nosuchdev0')).toThrow(expect.objectContaining({ code: 'ENODEV' }));
  });
});

describe('kmodlab bench --source host', () => {
  userSpaceTest('a short run of two methods and the ceiling: table, loss-free rates, JSON whose counts add up', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-host-'));
    const r = spawnSync(
      process.execPath,
      [CLI, 'bench', '-s', 'host', '-m', 'pcap,fastnet-zc,zc-ceiling', '-r', '5k', '-d', '1', '-n', '1', '-o', out],
      { encoding: 'utf8', timeout: 540_000 },
    );
    expect({ status: r.status, signal: r.signal, stderr: r.stderr, stdout: r.stdout.slice(-3000) }).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout.match(/^\[bench \d\/3 /gm)).toHaveLength(3);
    // The device the frames came in on, by its driver: this boot's NIC.
    expect(r.stdout).toMatch(/^source host, eth0 e1000$/m);
    expect(r.stdout).toMatch(/^method +bytes +offered kpps .* x pcap +lost: own\/NIC\/host\/other$/m);
    expect(r.stdout).toMatch(/^fastnet-zc +64 +5\.0 /m);
    expect(r.stdout).toMatch(/^loss-free rate /m);
    expect(r.stdout).toMatch(/^ +64 B +zc-ceiling /m);

    const json = fs.readdirSync(out).find((f) => f.endsWith('.json'))!;
    const result = JSON.parse(fs.readFileSync(path.join(out, json), 'utf8'));
    expect(result.options).toMatchObject({ source: 'host', nic: 'e1000', rates: [5000], methods: ['pcap', 'fastnet-zc', 'zc-ceiling'] });
    expect(result.device).toEqual({ name: 'eth0', driver: 'e1000' });
    expect(result.samples).toHaveLength(3);
    for (const s of result.samples) {
      expect(s.source).toBe('host');
      expect(s.sent).toBe(5000);
      expect(s.delivered + s.lost).toBe(s.sent);
      expect(s.hostDropped).toBeGreaterThanOrEqual(0);
      expect(s.nicMissed).toBeGreaterThanOrEqual(0);
      if (s.method !== 'zc-ceiling') expect(s.ipv4).toBe(s.delivered);
      if (s.method === 'fastnet-zc' || s.method === 'zc-ceiling') {
        // Zero-copy names every lost frame: ring full, NIC missed, host socket full.
        expect(s.delivered + s.captureDropped + s.nicMissed + s.hostDropped).toBe(s.sent);
      }
    }
    expect(fs.readdirSync(out).some((f) => f.endsWith('.svg'))).toBe(true);
    fs.rmSync(out, { recursive: true, force: true });
  });
});

describe('kmodlab bench --source host --pcap FILE', () => {
  userSpaceTest('the sample file replayed at 2k frames/s to two methods: rows "pcap", every sent frame counted or lost, IPv6 frames not IPv4', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-pcap-'));
    const file = 'test/fixtures/sample-traffic.pcapng';
    const r = spawnSync(
      process.execPath,
      [CLI, 'bench', '-s', 'host', '--pcap', file, '-m', 'pcap,fastnet-ring', '-r', '2k', '-d', '1', '-n', '1', '--no-soaker', '-o', out],
      { encoding: 'utf8', timeout: 300_000 },
    );
    expect({ status: r.status, signal: r.signal, stderr: r.stderr, stdout: r.stdout.slice(-3000) }).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout).toContain(`replaying ${file}`);
    expect(r.stdout).toMatch(/^pcap +pcap +2\.0 /m);
    expect(r.stdout).toMatch(/^fastnet-ring +pcap +2\.0 /m);
    const json = fs.readdirSync(out).find((f) => f.endsWith('.json'))!;
    const result = JSON.parse(fs.readFileSync(path.join(out, json), 'utf8'));
    expect(result.options).toMatchObject({ pcap: file, sizes: [0] });
    for (const s of result.samples) {
      expect(s.sent).toBe(2000);
      expect(s.delivered + s.lost).toBe(s.sent);
      expect(s.delivered).toBeGreaterThan(0);
      // The sample's IPv6 frames (10 in 145) are not IPv4.
      expect(s.ipv4).toBeLessThan(s.delivered);
    }
    fs.rmSync(out, { recursive: true, force: true });
  });
});
