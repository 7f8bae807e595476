// The pcap writer against the readers people use: tcpdump -r and tshark -r
// must read back exactly the frames, lengths and nanosecond timestamps
// written; and an existing file is never replaced unless asked.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { LINKTYPE_ETHERNET, PCAP_MAGIC_NS, PcapReader, PcapWriter, readPcapFile } from '../../lib/pcap-file';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmodlab-pcap-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** An Ethernet/IPv4/UDP frame of `length` bytes to `port`, payload = seq then a pattern. */
function udpFrame(seq: number, length: number, port: number): Buffer {
  const f = Buffer.alloc(length);
  Buffer.from('02000000000202000000000108004500', 'hex').copy(f, 0);
  f.writeUInt16BE(length - 14, 16); // IP total length
  f.writeUInt8(64, 22); // TTL
  f.writeUInt8(17, 23); // UDP
  Buffer.from([10, 0, 0, 1, 10, 0, 0, 2]).copy(f, 26);
  f.writeUInt16BE(40000, 34);
  f.writeUInt16BE(port, 36);
  f.writeUInt16BE(length - 34, 38);
  f.writeUInt32BE(seq, 42);
  for (let i = 46; i < length; i++) f[i] = (seq + i) & 0xff;
  return f;
}

const BASE_NS = 1_700_000_000_123_456_789n;

function writeSample(file: string, count: number, options: { snapLength?: number; overwrite?: boolean } = {}): Buffer[] {
  const frames = Array.from({ length: count }, (_, i) => udpFrame(i, 60 + (i % 5) * 100, 9000 + (i % 3)));
  using writer = PcapWriter.open(file, options);
  frames.forEach((data, i) => writer.write({ data, originalLength: data.length, timestampNs: BASE_NS + BigInt(i) * 1001n }));
  expect(writer.frames).toBe(count);
  return frames;
}

test('the header: nanosecond magic, version 2.4, Ethernet', () => {
  const file = path.join(dir, 'header.pcap');
  writeSample(file, 0);
  const bytes = fs.readFileSync(file);
  expect(bytes.length).toBe(24);
  expect(bytes.readUInt32LE(0)).toBe(PCAP_MAGIC_NS);
  expect([bytes.readUInt16LE(4), bytes.readUInt16LE(6)]).toEqual([2, 4]);
  expect(bytes.readUInt32LE(16)).toBe(65535);
  expect(bytes.readUInt32LE(20)).toBe(LINKTYPE_ETHERNET);
});

test('tcpdump -r reads every frame back, with its nanosecond timestamp and length', () => {
  const file = path.join(dir, 'tcpdump.pcap');
  const frames = writeSample(file, 1000);
  const out = execFileSync('tcpdump', ['-r', file, '-nn', '-tt', '--time-stamp-precision=nano'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = out.trim().split('\n');
  expect(lines).toHaveLength(1000);
  const problems = lines
    .map((line, i) => {
      const ts = BASE_NS + BigInt(i) * 1001n;
      const stamp = `${ts / 1_000_000_000n}.${String(ts % 1_000_000_000n).padStart(9, '0')}`;
      const want = `${stamp} IP 10.0.0.1.40000 > 10.0.0.2.${9000 + (i % 3)}: UDP, length ${frames[i].length - 42}`;
      return line === want ? null : `${i}: ${line} (want ${want})`;
    })
    .filter((p) => p !== null);
  expect(problems).toEqual([]);
});

test('tshark -r agrees: frame and captured lengths, ports, epoch times', () => {
  const file = path.join(dir, 'tshark.pcap');
  const frames = writeSample(file, 200);
  const out = execFileSync(
    'tshark',
    ['-r', file, '-T', 'fields', '-E', 'separator=,', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'udp.dstport', '-e', 'frame.time_epoch'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const rows = out.trim().split('\n').map((line) => line.split(','));
  expect(rows.map((r) => [Number(r[0]), Number(r[1]), Number(r[2])])).toEqual(
    frames.map((f, i) => [f.length, f.length, 9000 + (i % 3)]),
  );
  // tshark prints epoch seconds with nanoseconds.
  expect(rows[7][3]).toBe('1700000000.123463796');
});

test('snapLength cuts stored frames and keeps their length on the wire', () => {
  const file = path.join(dir, 'snap.pcap');
  const frames = writeSample(file, 50, { snapLength: 96 });
  const read = readPcapFile(file);
  expect(read.nanosecond).toBe(true);
  expect(read.snapLength).toBe(96);
  expect(read.records.map((r) => [r.data.length, r.originalLength])).toEqual(
    frames.map((f) => [Math.min(96, f.length), f.length]),
  );
  expect(read.records.every((r, i) => r.data.equals(frames[i].subarray(0, 96)))).toBe(true);
  expect(read.records[3].timestampNs).toBe(BASE_NS + 3003n);
  const out = execFileSync('tcpdump', ['-r', file, '-nn', '-c', '1', '-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  expect(out).toContain('10.0.0.1.40000 > 10.0.0.2.9000');
});

test('frames without a timestamp get the time they are written, to the nanosecond, one stamp each', () => {
  const file = path.join(dir, 'unstamped.pcap');
  const before = BigInt(Date.now() - 1000) * 1_000_000n;
  {
    using writer = PcapWriter.open(file);
    for (let i = 0; i < 20; i++) writer.write({ data: udpFrame(i, 60, 9), timestampNs: 0n });
  }
  const after = BigInt(Date.now() + 1000) * 1_000_000n;
  const stamps = readPcapFile(file).records.map((r) => r.timestampNs);
  expect(stamps).toHaveLength(20);
  expect(stamps.filter((t) => t < before || t > after)).toEqual([]);
  expect(stamps.filter((t, i) => i > 0 && t <= stamps[i - 1])).toEqual([]);
  // Milliseconds would leave every stamp a multiple of 1,000,000 and most of them equal.
  expect(stamps.filter((t) => t % 1_000_000n !== 0n).length).toBeGreaterThan(10);
});

test('an existing file: EEXIST (Node-style) and untouched, unless overwrite', () => {
  const file = path.join(dir, 'exists.pcap');
  fs.writeFileSync(file, 'keep me');
  expect(() => PcapWriter.open(file)).toThrow(
    expect.objectContaining({ code: 'EEXIST', errno: -17, syscall: 'open', path: file }),
  );
  expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
  writeSample(file, 3, { overwrite: true });
  expect(readPcapFile(file).records).toHaveLength(3);
});

test('bad arguments and a closed writer', () => {
  expect(() => PcapWriter.open(path.join(dir, 'bad.pcap'), { snapLength: 0 })).toThrow(
    expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
  );
  const writer = PcapWriter.open(path.join(dir, 'closed.pcap'));
  writer.close();
  writer.close();
  expect(() => writer.write({ data: Buffer.alloc(60) })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
  expect(() => readPcapFile(path.join(dir, 'nope.pcap'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  fs.writeFileSync(path.join(dir, 'junk.pcap'), Buffer.alloc(40, 7));
  expect(() => readPcapFile(path.join(dir, 'junk.pcap'))).toThrow(expect.objectContaining({ code: 'ERR_PCAP_FORMAT' }));
});

describe('reading through libpcap: classic pcap of either resolution and pcapng', () => {
  let frames: Buffer[];
  let classic: string;
  beforeAll(() => {
    classic = path.join(dir, 'reader.pcap');
    frames = writeSample(classic, 700);
  });

  function expectSample(file: string, microseconds: boolean): void {
    const read = readPcapFile(file);
    expect(read.records.map((r) => r.data.toString('hex'))).toEqual(frames.map((f) => f.toString('hex')));
    expect(read.records.map((r) => r.originalLength)).toEqual(frames.map((f) => f.length));
    const times = frames.map((_, i) => BASE_NS + BigInt(i) * 1001n);
    expect(read.records.map((r) => r.timestampNs)).toEqual(microseconds ? times.map((t) => (t / 1000n) * 1000n) : times);
  }

  test('the writer\'s own file: nanoseconds', () => {
    expect(readPcapFile(classic)).toMatchObject({ format: 'pcap', nanosecond: true, snapLength: 65535, linkType: LINKTYPE_ETHERNET });
    expectSample(classic, false);
  });

  test('microseconds (tcpdump -w), and pcapng in nanoseconds and microseconds (editcap -F pcapng)', () => {
    const micro = path.join(dir, 'reader-us.pcap');
    execFileSync('tcpdump', ['-r', classic, '-w', micro], { stdio: 'ignore' });
    expect(readPcapFile(micro)).toMatchObject({ format: 'pcap', nanosecond: false });
    expectSample(micro, true);
    const ng = path.join(dir, 'reader.pcapng');
    execFileSync('editcap', ['-F', 'pcapng', classic, ng]);
    expect(readPcapFile(ng)).toMatchObject({ format: 'pcapng', nanosecond: true, linkType: LINKTYPE_ETHERNET });
    expectSample(ng, false);
    const ngMicro = path.join(dir, 'reader-us.pcapng');
    execFileSync('editcap', ['-F', 'pcapng', micro, ngMicro]);
    expect(readPcapFile(ngMicro)).toMatchObject({ format: 'pcapng', nanosecond: false });
    expectSample(ngMicro, true);
  });

  test('PcapReader: batches, for await to the end (then closed), a break closes it too', async () => {
    using reader = PcapReader.open(classic, { batchSize: 256 });
    expect(reader.readBatch()?.count).toBe(256);
    let seen = 0;
    for await (const packet of reader) {
      expect(packet.data.equals(frames[256 + seen])).toBe(true);
      seen++;
    }
    expect(seen).toBe(700 - 256);
    expect(reader.closed).toBe(true);
    expect(() => reader.readBatch()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    const other = PcapReader.open(classic);
    for await (const packet of other) {
      expect(packet.timestampNs).toBe(BASE_NS);
      break;
    }
    expect(other.closed).toBe(true);
  });

  test('a file cut inside a record: ERR_PCAP_FORMAT with libpcap\'s reason, after the whole records', () => {
    const cut = path.join(dir, 'cut.pcap');
    const bytes = fs.readFileSync(classic);
    fs.writeFileSync(cut, bytes.subarray(0, 24 + 16 + frames[0].length + 16 + 10));
    using reader = PcapReader.open(cut, { batchSize: 1 });
    expect(reader.readBatch()?.count).toBe(1);
    expect(() => reader.readBatch()).toThrow(expect.objectContaining({ code: 'ERR_PCAP_FORMAT', message: expect.stringContaining('truncated') }));
    expect(() => PcapReader.open(dir)).toThrow(expect.objectContaining({ code: 'EISDIR' }));
    expect(() => PcapReader.open(classic, { batchSize: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });
});
