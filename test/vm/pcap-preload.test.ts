// libpcap-fastnet.so in the guest (docs/pcap-preload.md): Debian's own
// tcpdump, tshark (through dumpcap) and a plain C program capture fastnet
// devices, unchanged, with LD_PRELOAD. tcpdump through fastnet beside plain
// tcpdump on the same pktgen frames writes the same records; its closing
// counters are fastnet's; the zero-copy device takes the host's frames and is
// refused on a veth; bad names, an unprivileged user and a second capture of a
// device fail with the reason, and nothing stays bound once a program exits.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import * as fastnet from '../../lib/fastnet';
import { GUEST_IP, HostTraffic, RCTL_HOLD_MS, decodeFrame, setupGuestLink, waitForCarrier } from '../../lib/host-traffic';
import { readPcapFile } from '../../lib/pcap-file';
import { DEBUG_KERNEL, userSpaceTest } from './debug-kernel';
import { Topology, expectPktgenFrames, pktgenSeq, udpCounters } from './fastnet-net';

const LIB = path.join(__dirname, '..', '..', 'out', 'lib', 'libpcap-fastnet.so');
const PCAP_NEXT = path.join(__dirname, '..', '..', 'out', 'bin', 'pcap-next');
const PRELOAD = { ...process.env, LD_PRELOAD: LIB };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let net: Topology;
let dev: string;
beforeAll(() => {
  net = new Topology(7);
  dev = net.dev;
});
afterAll(() => net?.close());

interface Exit {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Tools still running: a failed test leaves none behind to hold the device for the next. */
const running = new Set<Tool>();
afterEach(async () => {
  const left = [...running];
  for (const tool of left) tool.child.kill('SIGKILL');
  await Promise.all(left.map((tool) => tool.done));
});

/** A program run in the background: `ready` once its stderr says it listens, `done` at its exit. */
class Tool {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly ready: Promise<void>;
  readonly done: Promise<Exit>;

  constructor(command: string, args: string[], options: { preload?: boolean; readyText?: string; env?: NodeJS.ProcessEnv } = {}) {
    // The whole line: the rest of tcpdump's may come in a later read.
    const readyLine = new RegExp(`${options.readyText ?? 'listening on'}.*\\n`);
    running.add(this);
    const env = { ...(options.preload === false ? process.env : PRELOAD), ...options.env };
    this.child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let onReady: () => void = () => {};
    this.ready = new Promise<void>((resolve) => (onReady = resolve));
    this.child.stdout!.setEncoding('utf8').on('data', (text: string) => (this.stdout += text));
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      this.stderr += text;
      if (readyLine.test(this.stderr)) onReady();
    });
    // A guard, not a measure: a program that hangs fails its test instead of the run.
    const guard = setTimeout(() => this.child.kill('SIGKILL'), 200_000);
    this.done = new Promise<Exit>((resolve) => {
      this.child.on('exit', (status, signal) => {
        clearTimeout(guard);
        running.delete(this);
        onReady();
        // The pipes may still hold output: wait for them to close.
        this.child.on('close', () => resolve({ status, signal, stdout: this.stdout, stderr: this.stderr }));
      });
    });
  }

  /** SIGINT (tcpdump's Ctrl-C), then its exit. */
  async interrupt(): Promise<Exit> {
    this.child.kill('SIGINT');
    return this.done;
  }
}

/** A pcap file's records so far (tcpdump -U writes each at once); 0 while it has no header. */
function recordsIn(file: string): number {
  try {
    return readPcapFile(file).records.length;
  } catch {
    return 0;
  }
}

/** Until the file has `count` records, or the tool writing it has exited. */
async function waitForRecords(tool: Tool, file: string, count: number): Promise<void> {
  while (recordsIn(file) < count && tool.child.exitCode === null && tool.child.signalCode === null) await sleep(50);
}

/** tcpdump's closing report, by label. */
function report(stderr: string): { captured: number; received: number; dropped: number } {
  const field = (label: string): number => {
    const match = new RegExp(`(\\d+) packets? ${label}\\n`).exec(stderr);
    if (!match) throw new Error(`no "${label}" in tcpdump's report: ${stderr}`);
    return Number(match[1]);
  };
  return { captured: field('captured'), received: field('received by filter'), dropped: field('dropped by kernel') };
}

/** Nothing holds the device: a new fastnet session binds it (and lets it go). */
function expectUnbound(device: string): void {
  const session = fastnet.open();
  try {
    expect(() => session.bind(device, 'drop')).not.toThrow();
  } finally {
    session.close();
  }
}

/** The user a process runs as now (tcpdump drops root after opening its capture). */
function uidOf(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'));
  return Number(line!.split(/\s+/)[1]);
}

function tmpFile(name: string): string {
  const file = `/tmp/pcap-preload-${name}`;
  fs.rmSync(file, { force: true });
  return file;
}

describe('tcpdump -i fastnet:DEV beside tcpdump -i DEV, on the same pktgen frames', () => {
  const cases: [string, string[]][] = [
    ['default options', []],
    ['-Q in --time-stamp-precision=nano', ['-Q', 'in', '--time-stamp-precision=nano']],
  ];
  // The second differs only in what the library does in user space: Debian's kernel alone.
  test.each(DEBUG_KERNEL ? cases.slice(0, 1) : cases)('%s: the same records, byte for byte, and the counters are fastnet\'s', async (name, extra) => {
    const files = [tmpFile(`beside-fastnet-${extra.length}.pcap`), tmpFile(`beside-plain-${extra.length}.pcap`)];
    const filter = ['udp', 'dst', 'port', '9'];
    // No -Z: Debian's tcpdump drops to user tcpdump once the capture is open.
    const viaFastnet = new Tool('tcpdump', ['-i', `fastnet:${dev}`, '-n', '-U', ...extra, '-w', files[0], ...filter]);
    const plain = new Tool('tcpdump', ['-i', dev, '-n', '-U', ...extra, '-w', files[1], ...filter], { preload: false });
    await Promise.all([viaFastnet.ready, plain.ready]);
    expect(viaFastnet.stderr).toContain(`listening on fastnet:${dev}, link-type EN10MB (Ethernet), snapshot length 262144 bytes`);
    expect(uidOf(viaFastnet.child.pid!)).not.toBe(0);
    const started = BigInt(Date.now() - 1) * 1_000_000n;
    const udpBefore = udpCounters();
    net.inject(50, 64, 9001); // not port 9: filtered in the kernel
    net.inject(300, 96, 9);
    // Captured or not, every frame went on up the stack, to closed UDP ports.
    expect(udpCounters().NoPorts - udpBefore.NoPorts).toBe(350);
    await Promise.all([waitForRecords(viaFastnet, files[0], 300), waitForRecords(plain, files[1], 300)]);
    const [a, b] = await Promise.all([viaFastnet.interrupt(), plain.interrupt()]);
    expect(a).toMatchObject({ status: 0 });
    expect(b).toMatchObject({ status: 0 });
    // fastnet's counters: 300 frames passed the filter (received), none lost; the 50 others were filtered.
    expect(report(a.stderr)).toEqual({ captured: 300, received: 300, dropped: 0 });
    expect(report(b.stderr)).toMatchObject({ captured: 300, dropped: 0 });

    const [fa, fb] = files.map((file) => readPcapFile(file));
    expect(fa.nanosecond).toBe(name.includes('nano'));
    expect(fa.snapLength).toBe(fb.snapLength);
    expectPktgenFrames(fa.records.map((r) => r.data), 300);
    expect(fa.records.map((r) => r.data.toString('hex'))).toEqual(fb.records.map((r) => r.data.toString('hex')));
    expect(fa.records.map((r) => r.originalLength)).toEqual(fb.records.map((r) => r.originalLength));
    // Time stamps: in order, taken while the test ran, with nanoseconds in the file when asked for.
    const times = fa.records.map((r) => r.timestampNs);
    expect(times.filter((t, i) => t < started || t > BigInt(Date.now() + 1) * 1_000_000n || (i > 0 && t < times[i - 1]))).toEqual([]);
    expect(times.some((t) => t % 1000n !== 0n)).toBe(name.includes('nano'));
    expectUnbound(dev);
  });
});

userSpaceTest('tcpdump -c 100: stops by itself after the first 100 frames', async () => {
  const file = tmpFile('count.pcap');
  const tool = new Tool('tcpdump', ['-i', `fastnet:${dev}`, '-c', '100', '-w', file, 'udp']);
  await tool.ready;
  net.inject(300, 64, 9);
  const exit = await tool.done;
  expect(exit).toMatchObject({ status: 0 });
  const counts = report(exit.stderr);
  expect(counts.captured).toBe(100);
  expect(counts.received).toBeGreaterThanOrEqual(100);
  expect(counts.dropped).toBe(0);
  const frames = readPcapFile(file).records.map((r) => r.data);
  expectPktgenFrames(frames, 100);
  expectUnbound(dev);
});

test('FASTNET_PCAP_CONSUME=1: the capture takes the frames, and the stack sees none of them', async () => {
  const file = tmpFile('consume.pcap');
  const tool = new Tool('tcpdump', ['-i', `fastnet:${dev}`, '-c', '100', '-w', file, 'udp'], { env: { FASTNET_PCAP_CONSUME: '1' } });
  await tool.ready;
  const udpBefore = udpCounters();
  net.inject(100, 64, 9);
  expect(await tool.done).toMatchObject({ status: 0 });
  expect(udpCounters().NoPorts - udpBefore.NoPorts).toBe(0);
  expectPktgenFrames(readPcapFile(file).records.map((r) => r.data), 100);
  expectUnbound(dev);
});

test('tcpdump -B 8: a ring of 8 KiB (4 slots of 2 KiB) holds 4 frames while tcpdump is stopped, and the rest are counted dropped', async () => {
  const file = tmpFile('small-buffer.pcap');
  const tool = new Tool('tcpdump', ['-i', `fastnet:${dev}`, '-B', '8', '-U', '-w', file, 'udp']);
  await tool.ready;
  tool.child.kill('SIGSTOP');
  try {
    net.inject(100, 64, 9);
  } finally {
    tool.child.kill('SIGCONT');
  }
  await waitForRecords(tool, file, 4);
  const exit = await tool.interrupt();
  expect(exit).toMatchObject({ status: 0 });
  expect(report(exit.stderr)).toEqual({ captured: 4, received: 100, dropped: 96 });
  const seqs = readPcapFile(file).records.map((r) => pktgenSeq(r.data));
  expect(seqs).toEqual([seqs[0], seqs[0] + 1, seqs[0] + 2, seqs[0] + 3]);
});

test('tcpdump -Q out is refused: fastnet sees received frames only', async () => {
  const run = spawnSync('tcpdump', ['-i', `fastnet:${dev}`, '-Q', 'out', '-w', '/dev/null'], { env: PRELOAD, encoding: 'utf8' });
  expect(run.status).toBe(1);
  expect(run.stderr).toContain(`fastnet:${dev}: fastnet captures the frames ${dev} receives only: no outgoing direction`);
  expectUnbound(dev);
});

// dumpcap takes the same kernel path as tcpdump (bind, filter, ring) and costs two minutes on the debug kernel.
userSpaceTest('tshark -i fastnet:DEV -f FILTER -c 50 -w FILE (dumpcap underneath), then tshark -r FILE', async () => {
  const file = tmpFile('tshark.pcapng');
  const tool = new Tool('tshark', ['-i', `fastnet:${dev}`, '-f', 'udp dst port 9', '-c', '50', '-w', file], { readyText: 'Capturing on' });
  await tool.ready;
  // dumpcap opens the capture once tshark has said so: wait for fastnet to have it.
  while (!fastnetBusy(dev) && tool.child.exitCode === null) await sleep(50);
  net.inject(20, 64, 9001);
  net.inject(100, 64, 9);
  const exit = await tool.done;
  expect(exit.stderr).toContain(`Capturing on 'fastnet:${dev}'`);
  expect(exit).toMatchObject({ status: 0 });
  const read = spawnSync('tshark', ['-r', file, '-T', 'fields', '-E', 'separator=,', '-e', 'frame.interface_name', '-e', 'udp.dstport', '-e', 'frame.len'], {
    encoding: 'utf8',
  });
  expect(read.status).toBe(0);
  const rows = read.stdout.trim().split('\n');
  expect(rows).toHaveLength(50);
  expect(rows.filter((row) => row !== `fastnet:${dev},9,64`)).toEqual([]);
  // dumpcap writes pcapng, which the library reads through libpcap.
  const pcapng = readPcapFile(file);
  expect(pcapng).toMatchObject({ format: 'pcapng', nanosecond: true });
  expectPktgenFrames(pcapng.records.map((r) => r.data), 50);
  expectUnbound(dev);
}, 300_000); // tshark takes tens of seconds to start on the debug kernel

/** Whether some fastnet session holds the device (a bind attempt says EBUSY). */
function fastnetBusy(device: string): boolean {
  const session = fastnet.open();
  try {
    session.bind(device, 'normal');
    return false;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EBUSY') return true;
    throw error;
  } finally {
    session.close();
  }
}

test('a C program: pcap_open_live, then poll() on pcap_get_selectable_fd and pcap_next_ex', async () => {
  const tool = new Tool(PCAP_NEXT, [`fastnet:${dev}`, '100', 'udp dst port 9']);
  await tool.ready;
  net.inject(20, 64, 9001);
  net.inject(100, 80, 9);
  const exit = await tool.done;
  expect(exit).toMatchObject({ status: 0, stderr: `listening on fastnet:${dev}\n` });
  const lines = exit.stdout.trim().split('\n');
  const frames = lines.filter((l) => l.startsWith('frame ')).map((l) => l.split(' '));
  expect(frames.filter(([, len, caplen]) => len !== '80' || caplen !== '80')).toEqual([]);
  expectPktgenFrames(frames.map(([, , , hex]) => Buffer.from(hex, 'hex')), 100);
  expect(Number(lines.find((l) => l.startsWith('polls '))!.split(' ')[1])).toBeGreaterThanOrEqual(1);
  expect(lines[lines.length - 1]).toBe('stats 100 0 0');
  expectUnbound(dev);
});

userSpaceTest('tcpdump -D lists fastnet:DEV for the Ethernet devices and fastnet-zc:eth0 for the e1000, after libpcap\'s own', () => {
  const run = spawnSync('tcpdump', ['-D'], { env: PRELOAD, encoding: 'utf8' });
  expect(run.status).toBe(0);
  const names = run.stdout.trim().split('\n').map((line) => line.split(/\s+/)[0].replace(/^\d+\./, ''));
  expect(names).toEqual(expect.arrayContaining([dev, 'eth0', 'lo', `fastnet:${dev}`, 'fastnet:eth0', 'fastnet-zc:eth0']));
  expect(names.filter((name) => name === 'fastnet:lo' || name === `fastnet-zc:${dev}`)).toEqual([]);
  expect(names.indexOf(`fastnet:${dev}`)).toBeGreaterThan(names.indexOf('lo'));
});

describe('refusals: what tcpdump says, and nothing left bound', () => {
  // The library's own checks: the kernel's refusals of these are errors.test.ts's.
  userSpaceTest.each([
    ['fastnet:', 'tcpdump: fastnet:: No such device exists\n(fastnet: no device name after "fastnet:": name one, as in fastnet:eth0)\n'],
    ['fastnet:nosuchdev', 'tcpdump: fastnet:nosuchdev: No such device exists\n(fastnet: no device named nosuchdev in this network namespace)\n'],
    ['fastnet:lo', 'tcpdump: fastnet:lo: lo is not an Ethernet device: fastnet captures Ethernet devices only\n'],
  ])('tcpdump -i %s', (device, message) => {
    const run = spawnSync('tcpdump', ['-i', device, '-w', '/dev/null'], { env: PRELOAD, encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(message);
  });

  test('an unprivileged user: permission denied, with the reason', () => {
    // A copy the user can read: the checkout may sit in a folder only root can enter (mktemp -d).
    const dir = fs.mkdtempSync('/tmp/pcap-preload-');
    fs.chmodSync(dir, 0o755);
    const lib = path.join(dir, 'libpcap-fastnet.so');
    fs.copyFileSync(LIB, lib);
    fs.chmodSync(lib, 0o755);
    const run = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'tcpdump', '-i', `fastnet:${dev}`, '-w', '/dev/null'], {
      env: { ...PRELOAD, LD_PRELOAD: lib },
      encoding: 'utf8',
    });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(
      `tcpdump: fastnet:${dev}: You don't have permission to perform this capture on that device\n` +
        '(fastnet: cannot open /dev/fastnet: Permission denied (fastnet captures need root: access to /dev/fastnet and CAP_NET_RAW))\n',
    );
    expectUnbound(dev);
  });

  test('two captures of one device: the second is refused while the first runs; none is left after either exits, even killed', async () => {
    const first = new Tool('tcpdump', ['-i', `fastnet:${dev}`, '-w', '/dev/null']);
    await first.ready;
    const second = spawnSync('tcpdump', ['-i', `fastnet:${dev}`, '-w', '/dev/null'], { env: PRELOAD, encoding: 'utf8' });
    expect(second.status).toBe(1);
    expect(second.stderr).toBe(
      `tcpdump: fastnet:${dev}: ${dev} is busy: it already has a fastnet capture (one per device), or another rx_handler (a bridge, bond or macvlan port)\n`,
    );
    expect(fastnetBusy(dev)).toBe(true);
    expect(await first.interrupt()).toMatchObject({ status: 0 });
    expectUnbound(dev);
    const killed = new Tool('tcpdump', ['-i', `fastnet:${dev}`, '-w', '/dev/null']);
    await killed.ready;
    killed.child.kill('SIGKILL');
    expect(await killed.done).toMatchObject({ signal: 'SIGKILL' });
    expectUnbound(dev);
  });
});

describe('fastnet-zc: zero-copy', () => {
  test('tcpdump -i fastnet-zc:VETH is refused: the driver has no zero-copy', () => {
    const run = spawnSync('tcpdump', ['-i', `fastnet-zc:${dev}`, '-w', '/dev/null'], { env: PRELOAD, encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(
      `tcpdump: fastnet-zc:${dev}: ${dev}'s driver (veth) has no fastnet zero-copy support (only the project's patched e1000 and virtio_net have): capture it with fastnet:${dev}\n`,
    );
    expectUnbound(dev);
  });

  test("tcpdump -i fastnet-zc:eth0 -c 100 takes the host's frames", async () => {
    if (!HostTraffic.available()) throw new Error('fastnet-zc:eth0 needs host traffic: `npm test -- --vm test/vm/pcap-preload` boots with it');
    const traffic = new HostTraffic();
    await setupGuestLink('eth0');
    const file = tmpFile('zc.pcap');
    const tool = new Tool('tcpdump', ['-i', 'fastnet-zc:eth0', '-c', '100', '-w', file, `udp and dst host ${GUEST_IP}`]);
    try {
      await tool.ready;
      // Entering zero-copy (and promiscuous mode) wrote the e1000's RCTL: QEMU takes no frame for 1 s.
      await sleep(RCTL_HOLD_MS);
      const sent = await traffic.send({ size: 100, count: 200, rate: 2000 });
      const exit = await tool.done;
      expect(exit).toMatchObject({ status: 0 });
      expect(report(exit.stderr).captured).toBe(100);
      const ours = readPcapFile(file)
        .records.map((r) => decodeFrame(r.data))
        .filter((d) => d?.id === sent.id)
        .map((d) => d!.seq);
      // All of them unless a frame of an earlier send was still queued in QEMU.
      expect(ours.length).toBeGreaterThanOrEqual(95);
      expect(ours).toEqual(Array.from({ length: ours.length }, (_, k) => ours[0] + k));
    } finally {
      tool.child.kill('SIGKILL');
      await tool.done;
      // Leaving zero-copy restarts the NIC.
      await waitForCarrier('eth0');
    }
    expectUnbound('eth0');
  });
});
