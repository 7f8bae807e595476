// Capture files in the classic pcap format, as tcpdump -r and tshark -r read
// them: the nanosecond variant (magic 0xa1b23c4d), LINKTYPE_ETHERNET,
// little-endian (the writer's own byte order, which readers detect from the
// magic). Records are buffered and written in large chunks.
import * as fs from 'node:fs';

import { checkInteger, invalidState } from './errors';

/** The nanosecond-resolution pcap magic (microseconds: 0xa1b2c3d4). */
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const LINKTYPE_ETHERNET = 1;
export const GLOBAL_HEADER_SIZE = 24;
export const RECORD_HEADER_SIZE = 16;

const FLUSH_AT = 256 << 10;

/** What the writer needs of a frame (a capture's Packet has all of it). */
export interface PcapRecord {
  data: Uint8Array;
  /** Length on the wire (default data.length). */
  originalLength?: number;
  /** CLOCK_REALTIME in ns; 0n or absent: the time it is written. */
  timestampNs?: bigint;
}

export interface PcapWriterOptions {
  /** The file's snap length field; longer frames are cut to it (default 65535). */
  snapLength?: number;
  /** Replace an existing file (default: EEXIST). */
  overwrite?: boolean;
}

/** The wall clock when this module loaded, and the monotonic clock then: now, to the nanosecond. */
const WALL_NS = BigInt(Date.now()) * 1_000_000n;
const MONO_NS = process.hrtime.bigint();

function nowNs(): bigint {
  return WALL_NS + (process.hrtime.bigint() - MONO_NS);
}

/** A pcap file being written: open(), write() frames, close() (or `using`). */
export class PcapWriter implements Disposable {
  readonly path: string;
  readonly snapLength: number;
  #fd: number;
  #chunks: Buffer[] = [];
  #pending = 0;
  #frames = 0;

  private constructor(path: string, fd: number, snapLength: number) {
    this.path = path;
    this.#fd = fd;
    this.snapLength = snapLength;
  }

  /** Creates `path` (EEXIST if it exists, unless overwrite) and writes the global header. */
  static open(path: string, options: PcapWriterOptions = {}): PcapWriter {
    const snapLength = options.snapLength ?? 65535;
    checkInteger('snapLength', snapLength, 1, 0x7fffffff);
    const fd = fs.openSync(path, options.overwrite ? 'w' : 'wx', 0o644);
    const writer = new PcapWriter(path, fd, snapLength);
    const header = Buffer.alloc(GLOBAL_HEADER_SIZE);
    header.writeUInt32LE(PCAP_MAGIC_NS, 0);
    header.writeUInt16LE(2, 4); // version 2.4
    header.writeUInt16LE(4, 6);
    header.writeInt32LE(0, 8); // thiszone
    header.writeUInt32LE(0, 12); // sigfigs
    header.writeUInt32LE(snapLength, 16);
    header.writeUInt32LE(LINKTYPE_ETHERNET, 20);
    writer.#push(header);
    return writer;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Frames written so far. */
  get frames(): number {
    return this.#frames;
  }

  /** pcap_dump: one frame. */
  write(record: PcapRecord): void {
    if (this.#fd < 0) throw invalidState(`The pcap file ${this.path} is closed`);
    const stored = record.data.length > this.snapLength ? record.data.subarray(0, this.snapLength) : record.data;
    const ts = record.timestampNs || nowNs();
    const header = Buffer.alloc(RECORD_HEADER_SIZE);
    header.writeUInt32LE(Number(ts / 1_000_000_000n), 0);
    header.writeUInt32LE(Number(ts % 1_000_000_000n), 4);
    header.writeUInt32LE(stored.length, 8);
    header.writeUInt32LE(Math.max(record.originalLength ?? record.data.length, stored.length), 12);
    this.#push(header);
    this.#push(Buffer.from(stored));
    this.#frames++;
  }

  /** Every frame of a batch (or any iterable of records). */
  writeAll(records: Iterable<PcapRecord>): void {
    for (const record of records) this.write(record);
  }

  /** Writes out what is buffered. */
  flush(): void {
    if (this.#pending === 0 || this.#fd < 0) return;
    const data = Buffer.concat(this.#chunks, this.#pending);
    this.#chunks = [];
    this.#pending = 0;
    for (let off = 0; off < data.length; ) off += fs.writeSync(this.#fd, data, off);
  }

  close(): void {
    if (this.#fd < 0) return;
    try {
      this.flush();
    } finally {
      fs.closeSync(this.#fd);
      this.#fd = -1;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#pending += chunk.length;
    if (this.#pending >= FLUSH_AT) this.flush();
  }
}

export interface PcapFile {
  /** true for the nanosecond variant. */
  nanosecond: boolean;
  snapLength: number;
  linkType: number;
  records: { timestampNs: bigint; data: Buffer; originalLength: number }[];
}

/** Reads a whole classic pcap file (either resolution, either byte order). */
export function readPcapFile(path: string): PcapFile {
  const file = fs.readFileSync(path);
  const bad = (why: string) =>
    Object.assign(new Error(`${path} is not a pcap file: ${why}`), { code: 'ERR_PCAP_FORMAT', path });
  if (file.length < GLOBAL_HEADER_SIZE) throw bad('too short');
  let le = true;
  let magic = file.readUInt32LE(0);
  if (magic !== PCAP_MAGIC_NS && magic !== PCAP_MAGIC_US) {
    le = false;
    magic = file.readUInt32BE(0);
  }
  if (magic !== PCAP_MAGIC_NS && magic !== PCAP_MAGIC_US) throw bad(`magic ${file.readUInt32LE(0).toString(16)}`);
  const u32 = (off: number) => (le ? file.readUInt32LE(off) : file.readUInt32BE(off));
  const nanosecond = magic === PCAP_MAGIC_NS;
  const records: PcapFile['records'] = [];
  for (let off = GLOBAL_HEADER_SIZE; off < file.length; ) {
    if (off + RECORD_HEADER_SIZE > file.length) throw bad(`truncated record header at ${off}`);
    const caplen = u32(off + 8);
    if (off + RECORD_HEADER_SIZE + caplen > file.length) throw bad(`truncated record at ${off}`);
    const fraction = BigInt(u32(off + 4));
    records.push({
      timestampNs: BigInt(u32(off)) * 1_000_000_000n + (nanosecond ? fraction : fraction * 1000n),
      data: file.subarray(off + RECORD_HEADER_SIZE, off + RECORD_HEADER_SIZE + caplen),
      originalLength: u32(off + 12),
    });
    off += RECORD_HEADER_SIZE + caplen;
  }
  return { nanosecond, snapLength: u32(16), linkType: u32(20), records };
}
