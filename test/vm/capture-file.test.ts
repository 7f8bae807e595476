// kmodlab capture in the guest, end to end: the command captures what was
// sent by each method that hands frames over, writes a pcap file, and
// tcpdump -r and tshark -r read back exactly those frames (count, order,
// lengths, ports, timestamps), with the filter applied (every method's). tshark reads all the
// files at once (mergecap -a): it takes seconds to start, 30 s on the debug kernel.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { readPcapFile } from '../../lib/pcap-file';
import { pktgenReset } from '../../lib/traffic';
import { Topology, UDP_HEADERS, expectPktgenFrames, expectUdpFrames } from './fastnet-net';

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'kmodlab.js');

let net: Topology;
beforeAll(() => {
  net = new Topology(6);
});
afterAll(() => net?.close());

interface Run {
  status: number | null;
  stderr: string;
}

/** Starts kmodlab capture; resolves `ready` once it listens, `done` when it exits. */
function startCapture(args: string[]): { ready: Promise<void>; done: Promise<Run> } {
  const child = spawn(process.execPath, [CLI, 'capture', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr += text;
    if (stderr.includes('listening on')) onReady();
  });
  const done = new Promise<Run>((resolve) => {
    child.on('exit', (status) => {
      onReady();
      resolve({ status, stderr });
    });
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  done.finally(() => clearTimeout(timer));
  return { ready, done };
}

function tcpdumpLines(file: string): string[] {
  const out = execFileSync('tcpdump', ['-r', file, '-nn', '-tt', '--time-stamp-precision=nano'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out.trim().split('\n').filter((line) => line !== '');
}

function tsharkRows(file: string): string[][] {
  const out = execFileSync(
    'tshark',
    ['-r', file, '-T', 'fields', '-E', 'separator=,', '-e', 'frame.len', '-e', 'udp.dstport', '-e', 'ip.src'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return out.trim().split('\n').map((line) => line.split(','));
}

const METHODS = ['socket', 'socket-mmsg', 'pcap', 'af_xdp', 'fastnet-read', 'fastnet-ring'] as const;
const COUNT = 300;
const LENGTH = 96;

describe.each(METHODS.map((m) => [m]))('kmodlab capture -m %s', (method) => {
  test(`writes the ${COUNT} frames sent to port 9000 (its filter), which tcpdump -r reads back`, async () => {
    const file = `/tmp/capture-${method}.pcap`;
    fs.rmSync(file, { force: true });
    const args = ['-i', net.dev, '-m', method, '-c', String(COUNT), '-w', file, '-t', '100'];
    // af_xdp refuses a device pktgen is set up on (generic XDP must not see pktgen's shared skbs).
    if (method === 'af_xdp') pktgenReset();
    // Every method filters in the kernel (af_xdp in user space): the frames to port 9001 never reach the file.
    const { ready, done } = startCapture([...args, 'udp', 'dst', 'port', '9000']);
    await ready;
    const started = BigInt(Date.now() - 1000) * 1_000_000n;
    if (method === 'af_xdp') {
      await net.sendUdp(50, LENGTH - UDP_HEADERS, 9001);
      await net.sendUdp(COUNT, LENGTH - UDP_HEADERS, 9000);
    } else {
      net.inject(50, LENGTH, 9001);
      net.inject(COUNT, LENGTH, 9000);
    }
    const run = await done;
    expect(run).toMatchObject({ status: 0 });
    expect(run.stderr).toContain(`${COUNT} frames written to ${file}; 0 dropped`);

    const lines = tcpdumpLines(file);
    expect(lines).toHaveLength(COUNT);
    const wrong = lines.filter((l) => !new RegExp(`^\\d+\\.\\d{9} IP 10\\.77\\.6\\.1\\.\\d+ > 10\\.77\\.6\\.2\\.9000: UDP, length ${LENGTH - UDP_HEADERS}$`).test(l));
    expect(wrong).toEqual([]);

    const read = readPcapFile(file);
    expect(read.nanosecond).toBe(true);
    const frames = read.records.map((r) => Buffer.from(r.data));
    if (method === 'af_xdp') expectUdpFrames(frames, COUNT, LENGTH - UDP_HEADERS);
    else expectPktgenFrames(frames, COUNT);
    const finished = BigInt(Date.now() + 1000) * 1_000_000n;
    expect(read.records.filter((r) => r.timestampNs < started || r.timestampNs > finished)).toEqual([]);
  });
});

test('tshark -r reads every method\'s file alike: every frame sent, with its length, port and source', () => {
  const files = METHODS.map((m) => `/tmp/capture-${m}.pcap`).filter((f) => fs.existsSync(f));
  expect(files).toHaveLength(METHODS.length);
  const merged = '/tmp/capture-all.pcap';
  execFileSync('mergecap', ['-a', '-w', merged, ...files], { stdio: ['ignore', 'ignore', 'pipe'] });
  const rows = tsharkRows(merged);
  expect(rows.filter((r) => r.join(',') !== `${LENGTH},9000,10.77.6.1`)).toEqual([]);
  expect(rows).toHaveLength(COUNT * METHODS.length);
});

test('an existing file: refused without -f, replaced with it', async () => {
  const file = '/tmp/capture-existing.pcap';
  fs.writeFileSync(file, 'precious');
  const refused = await startCapture(['-i', net.dev, '-m', 'pcap', '-c', '5', '-w', file]).done;
  expect(refused.status).toBe(1);
  expect(refused.stderr).toContain('EEXIST');
  expect(fs.readFileSync(file, 'utf8')).toBe('precious');

  const { ready, done } = startCapture(['-i', net.dev, '-m', 'pcap', '-c', '5', '-w', file, '-f', '-t', '100']);
  await ready;
  net.inject(5, 64, 9000);
  expect(await done).toMatchObject({ status: 0 });
  expect(tcpdumpLines(file)).toHaveLength(5);
});

test('an unknown device: exit 1 with ENODEV, and no file', async () => {
  const file = '/tmp/capture-nodev.pcap';
  fs.rmSync(file, { force: true });
  const run = await startCapture(['-i', 'nosuchdev0', '-m', 'fastnet-ring', '-w', file]).done;
  expect(run.status).toBe(1);
  expect(run.stderr).toContain('ENODEV');
  expect(fs.existsSync(file)).toBe(false);
});
