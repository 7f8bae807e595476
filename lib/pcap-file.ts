// Capture files. PcapWriter writes the classic pcap format, as tcpdump -r and
// tshark -r read it: the nanosecond variant (magic 0xa1b23c4d),
// LINKTYPE_ETHERNET, little-endian (the writer's own byte order, which
// readers detect from the magic); records are buffered and written in large
// chunks. PcapReader and readPcapFile read through libpcap, so pcapng too.
import * as fs from 'node:fs';

import { checkInteger, invalidState } from './errors';
import { type Packet, PacketBatch } from './fastnet';
import { native, type NativePcapFile } from './native';

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

/** pcapng's Section Header Block type: the first four bytes of a pcapng file. */
export const PCAPNG_MAGIC = 0x0a0d0d0a;

export type PcapFormat = 'pcap' | 'pcapng';

/** What a capture file says of itself, from its first bytes. */
export interface PcapFileInfo {
  format: PcapFormat;
  /**
   * Whether it records nanoseconds: classic pcap's 0xa1b23c4d magic, or pcapng's
   * first interface with if_tsresol 9. Records are read in nanoseconds either way.
   */
  nanosecond: boolean;
  snapLength: number;
  linkType: number;
}

export interface PcapFile extends PcapFileInfo {
  records: { timestampNs: bigint; data: Buffer; originalLength: number }[];
}

export interface PcapReaderOptions {
  /** Records a batch (default 256, at most 65536). */
  batchSize?: number;
}

/**
 * A capture file read through libpcap (pcap_open_offline_with_tstamp_precision,
 * nanoseconds): classic pcap of either resolution and byte order, and pcapng
 * as tshark and dumpcap write it. Batches of Packets, as captures give them;
 * `for await (const packet of reader)` reads it to the end.
 */
export class PcapReader implements Disposable, AsyncIterable<Packet>, Iterable<Packet> {
  readonly path: string;
  readonly format: PcapFormat;
  readonly nanosecond: boolean;
  readonly snapLength: number;
  readonly linkType: number;
  readonly batchSize: number;
  #file: NativePcapFile | null;

  private constructor(path: string, info: PcapFileInfo, file: NativePcapFile, batchSize: number) {
    this.path = path;
    this.format = info.format;
    this.nanosecond = info.nanosecond;
    this.snapLength = info.snapLength;
    this.linkType = info.linkType;
    this.batchSize = batchSize;
    this.#file = file;
  }

  /**
   * Opens `path`: Node's errors (ENOENT, EACCES, EISDIR) for the file itself,
   * ERR_PCAP_FORMAT with libpcap's reason for what it holds.
   */
  static open(path: string, options: PcapReaderOptions = {}): PcapReader {
    const batchSize = checkInteger('batchSize', options.batchSize ?? 256, 1, 65536);
    const head = readHead(path);
    const opened = native.capture.openPcapFile(path);
    const info = describe(head, opened.linkType, opened.snapLength);
    return new PcapReader(path, info, opened.file, batchSize);
  }

  get closed(): boolean {
    return this.#file === null;
  }

  /** The next records, up to `max` (default batchSize); null at the end of the file. */
  readBatch(max = this.batchSize): PacketBatch | null {
    if (this.#file === null) throw invalidState(`The capture file ${this.path} is closed`);
    checkInteger('max', max, 1, 65536);
    const raw = native.capture.readPcapFile(this.#file, max);
    return raw.count === 0 ? null : new PacketBatch(raw);
  }

  *[Symbol.iterator](): Iterator<Packet> {
    for (let batch = this.readBatch(); batch; batch = this.readBatch()) yield* batch;
  }

  /** Every remaining packet; the reader closes when the loop ends, whether by the end of the file or a break. */
  async *[Symbol.asyncIterator](): AsyncIterator<Packet> {
    try {
      for (let batch = this.readBatch(); batch; batch = this.readBatch()) {
        yield* batch;
        // A large file does not hold the event loop for its whole length.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.close();
    }
  }

  close(): void {
    if (this.#file === null) return;
    native.capture.closePcapFile(this.#file);
    this.#file = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The first bytes of a file, through Node (so its errors are Node's), enough to tell its format. */
function readHead(path: string): Buffer {
  const fd = fs.openSync(path, 'r');
  try {
    const head = Buffer.alloc(4096);
    return head.subarray(0, fs.readSync(fd, head, 0, head.length, 0));
  } finally {
    fs.closeSync(fd);
  }
}

function describe(head: Buffer, linkType: number, snapLength: number): PcapFileInfo {
  if (head.length >= 4 && head.readUInt32LE(0) === PCAPNG_MAGIC) {
    return { format: 'pcapng', nanosecond: pcapngTsresol(head) === 9, linkType, snapLength };
  }
  const magic = head.readUInt32LE(0);
  return { format: 'pcap', nanosecond: magic === PCAP_MAGIC_NS || magic === 0x4d3cb2a1, linkType, snapLength };
}

/** if_tsresol of a pcapng file's first Interface Description Block, 6 (microseconds) without one. */
function pcapngTsresol(head: Buffer): number {
  if (head.length < 12) return 6;
  const le = head.readUInt32LE(8) === 0x1a2b3c4d;
  const u32 = (off: number) => (le ? head.readUInt32LE(off) : head.readUInt32BE(off));
  const u16 = (off: number) => (le ? head.readUInt16LE(off) : head.readUInt16BE(off));
  const off = u32(4); // past the Section Header Block
  if (off + 20 > head.length || u32(off) !== 1) return 6; // not an IDB
  const end = off + u32(off + 4) - 4;
  for (let opt = off + 16; opt + 4 <= Math.min(end, head.length); ) {
    const code = u16(opt);
    const length = u16(opt + 2);
    if (code === 0) break;
    if (code === 9 && length >= 1 && opt + 4 < head.length) {
      const value = head[opt + 4];
      // Powers of ten only: 9 is nanoseconds (the high bit would mean powers of two).
      return value & 0x80 ? -1 : value;
    }
    opt += 4 + ((length + 3) & ~3);
  }
  return 6;
}

/**
 * Reads a whole capture file (classic pcap of either resolution and byte
 * order, or pcapng) through libpcap; see PcapReader for one batch at a time.
 */
export function readPcapFile(path: string): PcapFile {
  using reader = PcapReader.open(path, { batchSize: 65536 });
  const records: PcapFile['records'] = [];
  for (const packet of reader) {
    records.push({ timestampNs: packet.timestampNs, data: packet.data, originalLength: packet.originalLength });
  }
  const { format, nanosecond, snapLength, linkType } = reader;
  return { format, nanosecond, snapLength, linkType, records };
}
