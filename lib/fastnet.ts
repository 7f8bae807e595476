// fastnet: raw frames from a net device through /dev/fastnet (kmod/fastnet).
// A Session is one open() of the device, bound to one device in one mode
// (normal, drop, read, ring, zerocopy). Frames come one at a time (read), in batches
// (readBatch, ring.drain), counted without a copy (readCount, ring.count),
// as an async iterator of batches, or through a callback per batch (loop).
// A filter (a tcpdump expression or a classic BPF program) picks the frames
// in the kernel, in every mode. close(), or `using`, puts the device back to
// normal.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Wakers, batchesOf, loopOver } from './batch-iterator';
import {
  checkBoolean,
  checkDeviceName,
  checkInteger,
  checkObject,
  checkOneOf,
  checkPowerOfTwo,
  checkString,
  errorCode,
  invalidArgType,
  invalidArgValue,
  invalidState,
  outOfRange,
  withReason,
} from './errors';
import { Mapping } from './mapping';
import { native, type FastnetCounts, type FastnetRawBatch } from './native';

const uapi = native.fastnet;

export const DEVICE_PATH = '/dev/fastnet';

/** Mode numbers, as FASTNET_BIND takes them. */
export const MODES = {
  normal: uapi.MODE_NORMAL,
  drop: uapi.MODE_DROP,
  read: uapi.MODE_READ,
  ring: uapi.MODE_RING,
  /** The NIC DMAs frames into the ring's slots (the project's e1000 and virtio_net); the ring API of mode ring. */
  zerocopy: uapi.MODE_ZEROCOPY,
} as const;
export type ModeName = keyof typeof MODES;

/** The limits FASTNET_BIND enforces (uapi/fastnet.h). */
export const LIMITS = {
  ringSlotsMin: uapi.RING_SLOTS_MIN,
  ringSlotsMax: uapi.RING_SLOTS_MAX,
  ringSlotsDefault: uapi.RING_SLOTS_DEFAULT,
  slotSizeMin: uapi.SLOT_SIZE_MIN,
  slotSizeMax: uapi.SLOT_SIZE_MAX,
  slotSizeDefault: uapi.SLOT_SIZE_DEFAULT,
  ringDataMax: uapi.RING_DATA_MAX,
  queueLengthMax: uapi.QUEUE_LEN_MAX,
  queueLengthDefault: uapi.QUEUE_LEN_DEFAULT,
  batchDelayUsDefault: uapi.BATCH_USECS_DEFAULT,
  batchDelayUsMax: uapi.BATCH_USECS_MAX,
} as const;

/**
 * One classic BPF instruction, field for field a struct sock_filter, as `tcpdump -dd` prints
 * it: `{ code: 0x28, jt: 0, jf: 0, k: 0x0000000c }`.
 */
export interface BpfInstruction {
  /** The opcode, 0 to 65535. */
  code: number;
  /** Conditional jumps: instructions skipped when the test holds, 0 to 255. */
  jt: number;
  /** ... and when it does not, 0 to 255. */
  jf: number;
  /** The constant: a 32-bit integer, unsigned (or signed, for offsets such as SKF_AD_OFF + n). */
  k: number;
}

/** A compiled classic BPF program, as SO_ATTACH_FILTER and FASTNET_SET_FILTER take it. */
export type BpfProgram = readonly BpfInstruction[];

/**
 * Which frames a session keeps: a tcpdump expression (compiled by libpcap for Ethernet, as
 * `tcpdump -i DEV EXPRESSION` would), or a compiled program. The program's return value is the
 * snap length: 0 rejects the frame, less than its length delivers only that many bytes.
 */
export type Filter = string | BpfProgram;

/** Instructions a program may have (the kernel's BPF_MAXINSNS); FASTNET_SET_FILTER refuses more with EINVAL. */
export const MAX_FILTER_INSTRUCTIONS = uapi.BPF_MAXINSNS;

/** The snap length compileFilter() writes into a program unless told: libpcap's largest, so whole frames. */
export const DEFAULT_FILTER_SNAP_LENGTH = 262144;

const INSN_SIZE = uapi.SOCK_FILTER_SIZE;

/** The instructions of struct sock_filter records. */
export function decodeProgram(bytes: Uint8Array): BpfInstruction[] {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const program: BpfInstruction[] = [];
  for (let at = 0; at + INSN_SIZE <= view.length; at += INSN_SIZE) {
    program.push({ code: view.readUInt16LE(at), jt: view[at + 2], jf: view[at + 3], k: view.readUInt32LE(at + 4) });
  }
  return program;
}

/**
 * Packs a program into struct sock_filter records, checking each field (ERR_INVALID_ARG_TYPE,
 * ERR_OUT_OF_RANGE, naming it: `filter[3].k`) and the length: 1 to 65535 instructions, what a
 * struct sock_fprog can say (the kernel itself refuses more than MAX_FILTER_INSTRUCTIONS).
 */
export function encodeProgram(program: BpfProgram, name = 'program'): Buffer {
  if (!Array.isArray(program)) throw invalidArgType(name, 'Array', program);
  if (program.length === 0 || program.length > 0xffff) {
    throw outOfRange(`${name}.length`, 'an integer >= 1 && <= 65535 (a program has at least one instruction; null detaches)', program.length);
  }
  const bytes = Buffer.alloc(program.length * INSN_SIZE);
  program.forEach((insn: unknown, i) => {
    const at = `${name}[${i}]`;
    checkObject(at, insn);
    const { code, jt, jf, k } = insn as Record<string, unknown>;
    bytes.writeUInt16LE(checkInteger(`${at}.code`, code, 0, 0xffff), i * INSN_SIZE);
    bytes[i * INSN_SIZE + 2] = checkInteger(`${at}.jt`, jt, 0, 0xff);
    bytes[i * INSN_SIZE + 3] = checkInteger(`${at}.jf`, jf, 0, 0xff);
    bytes.writeUInt32LE(checkInteger(`${at}.k`, k, -(2 ** 31), 2 ** 32 - 1) >>> 0, i * INSN_SIZE + 4);
  });
  return bytes;
}

/**
 * Compiles a tcpdump expression into classic BPF for Ethernet frames (libpcap's pcap_compile,
 * optimized), the program returning `snapLength` (default DEFAULT_FILTER_SNAP_LENGTH, whole
 * frames) for the frames it accepts. A bad expression is ERR_INVALID_ARG_VALUE with libpcap's
 * message.
 */
export function compileFilter(expression: string, snapLength = DEFAULT_FILTER_SNAP_LENGTH): BpfInstruction[] {
  checkString('expression', expression);
  checkInteger('snapLength', snapLength, 1, DEFAULT_FILTER_SNAP_LENGTH);
  return decodeProgram(native.capture.compileFilter(expression, snapLength));
}

/** A filter's struct sock_filter records: compiled if an expression, checked if a program. */
export function filterBytes(name: string, filter: Filter, snapLength = DEFAULT_FILTER_SNAP_LENGTH): Buffer {
  if (typeof filter === 'string') return native.capture.compileFilter(filter, snapLength);
  if (!Array.isArray(filter)) throw invalidArgType(name, ['string', 'Array'], filter);
  return encodeProgram(filter, name);
}

export interface BindOptions {
  /** ring: number of slots, a power of two from 2 to 65536 (default LIMITS.ringSlotsDefault, 1024). */
  slots?: number;
  /** ring: bytes per slot, a power of two from 2048 to 65536 (default 2048); longer frames are cut. */
  slotSize?: number;
  /**
   * read and ring: copy each frame and let it go on up the stack (default false: the frame is consumed).
   * zerocopy: the frames the filter rejects go on up the stack (copied into an skb); those it takes stay
   * the ring's alone, so a filtered capture leaves the device's ARP and ping working.
   */
  passThrough?: boolean;
  /** read: frames queued before new ones are dropped (default LIMITS.queueLengthDefault, 1024). */
  queueLength?: number;
  /**
   * ring, zerocopy: poll()/wait() report the ring readable per batch (once half full, or once its
   * oldest frame is batchDelayUs old), not per frame.
   */
  batch?: boolean;
  /**
   * With batch: how long a frame may wait for its batch to be announced, microseconds, 1 to
   * LIMITS.batchDelayUsMax (a minute; default LIMITS.batchDelayUsDefault, 1 ms). Longer means
   * fewer wakeups at low rates, as libpcap's timeout (TPACKET_V3's block timeout) does.
   */
  batchDelayUs?: number;
  /**
   * Every mode but normal: the session's filter, attached before the bind so that it applies from
   * the first frame (as setFilter() does). A refused bind leaves the session's filter as it was.
   */
  filter?: Filter;
}

export interface OpenOptions {
  /** read() waits for a frame, blocking the thread (default false: it returns null). */
  blocking?: boolean;
}

export interface BatchOptions {
  /** Frames per batch, at most (default 256). */
  maxBatch?: number;
  /** read mode: bytes kept of each frame (default 65536). */
  snapLength?: number;
  /**
   * Ends the iteration (or loop) at the next batch boundary, quietly: the
   * `for await` ends and loop() resolves with the frames seen so far (0 if
   * the signal had aborted before the first batch). Unlike events.on(), no
   * AbortError is thrown: the frames seen are the result, as after close().
   */
  signal?: AbortSignal;
}

/** The session's counters (FASTNET_STATS). */
export interface Stats {
  /** Frames the handler saw that the filter kept (all of them without a filter). */
  received: number;
  receivedBytes: number;
  /** Frames queued for read() or published to the ring. */
  delivered: number;
  /** Bytes queued, or stored in ring slots (after truncation). */
  deliveredBytes: number;
  /** Frames lost by the capture: queue or ring full, or no memory. */
  dropped: number;
  /** Frames delivered shorter than they were. */
  truncated: number;
  /** zerocopy: frames the NIC itself dropped for lack of an armed slot (its missed-packets counter). */
  nicMissed: number;
  /** Frames the filter rejected: neither received nor dropped. */
  filtered: number;
}

/** One frame, from its Ethernet header. */
export interface Packet {
  /** The bytes kept: a view into its batch's data. */
  data: Buffer;
  /** The frame's length on the wire (data.length unless truncated). */
  originalLength: number;
  truncated: boolean;
  /** CLOCK_REALTIME when the kernel saw it, in nanoseconds. */
  timestampNs: bigint;
}

/** No-copy counts of a batch: packets, bytes, IPv4 frames, truncated frames. */
export type Counts = FastnetCounts;

const DEFAULT_MAX_BATCH = 256;
const DEFAULT_SNAP_LENGTH = 65536;
const META = uapi.META_STRIDE;

function modeNumber(mode: unknown): number {
  const chosen = checkOneOf('mode', mode, [...(Object.keys(MODES) as ModeName[]), ...Object.values(MODES)]);
  return typeof chosen === 'string' ? MODES[chosen] : chosen;
}

function modeName(mode: number): ModeName {
  return (Object.keys(MODES) as ModeName[]).find((name) => MODES[name] === mode)!;
}

/** The raw fields of struct fastnet_bind. */
export interface BindFields {
  ifname: string;
  mode: number;
  flags?: number;
  slots?: number;
  slotSize?: number;
  queueLength?: number;
  batchDelayUs?: number;
  reserved?: [number, number];
}

/** Packs struct fastnet_bind as it is, unchecked (tests use it to ask the kernel for bad things). */
export function encodeBind(fields: BindFields): Buffer {
  const buffer = Buffer.alloc(uapi.BIND_SIZE);
  buffer.write(fields.ifname, 0, uapi.IFNAMSIZ, 'utf8');
  buffer.writeUInt32LE(fields.mode >>> 0, uapi.BIND_MODE_OFFSET);
  buffer.writeUInt32LE((fields.flags ?? 0) >>> 0, uapi.BIND_FLAGS_OFFSET);
  buffer.writeUInt32LE((fields.slots ?? 0) >>> 0, uapi.BIND_SLOTS_OFFSET);
  buffer.writeUInt32LE((fields.slotSize ?? 0) >>> 0, uapi.BIND_SLOT_SIZE_OFFSET);
  buffer.writeUInt32LE((fields.queueLength ?? 0) >>> 0, uapi.BIND_QUEUE_LEN_OFFSET);
  buffer.writeUInt32LE((fields.batchDelayUs ?? 0) >>> 0, uapi.BIND_BATCH_USECS_OFFSET);
  (fields.reserved ?? [0, 0]).forEach((value, i) =>
    buffer.writeUInt32LE(value >>> 0, uapi.BIND_RESERVED_OFFSET + 4 * i),
  );
  return buffer;
}

const BIND_OPTIONS: Record<keyof BindOptions, ModeName[]> = {
  slots: ['ring', 'zerocopy'],
  slotSize: ['ring', 'zerocopy'],
  queueLength: ['read'],
  passThrough: ['read', 'ring', 'zerocopy'],
  batch: ['ring', 'zerocopy'],
  batchDelayUs: ['ring', 'zerocopy'],
  filter: ['drop', 'read', 'ring', 'zerocopy'],
};

/**
 * Checks a bind request the way the kernel will, with errors that name the
 * argument, and packs it. Options a mode does not use are refused rather
 * than ignored.
 */
export function bindRequest(device: string, mode: ModeName | number, options: BindOptions = {}): Buffer {
  checkDeviceName('device', device);
  const number = modeNumber(mode);
  const name = modeName(number);
  checkObject('options', options);
  for (const [key, value] of Object.entries(options)) {
    const modes = BIND_OPTIONS[key as keyof BindOptions] as ModeName[] | undefined;
    if (!modes) throw invalidArgValue(key, value, `is not a bind option (${Object.keys(BIND_OPTIONS).join(', ')})`);
    if (value !== undefined && value !== false && !modes.includes(name)) {
      throw invalidArgValue(key, value, `applies to mode ${modes.join(' or ')}, not ${name}`);
    }
  }
  if (options.passThrough !== undefined) checkBoolean('passThrough', options.passThrough);
  if (options.batch !== undefined) checkBoolean('batch', options.batch);
  let batchDelayUs = 0;
  if (options.batchDelayUs !== undefined) {
    batchDelayUs = checkInteger('batchDelayUs', options.batchDelayUs, 1, LIMITS.batchDelayUsMax);
    if (!options.batch) throw invalidArgValue('batchDelayUs', options.batchDelayUs, 'applies only with batch: true');
  }

  const slots =
    options.slots === undefined
      ? 0
      : checkPowerOfTwo('slots', options.slots, LIMITS.ringSlotsMin, LIMITS.ringSlotsMax);
  const slotSize =
    options.slotSize === undefined
      ? 0
      : checkPowerOfTwo('slotSize', options.slotSize, LIMITS.slotSizeMin, LIMITS.slotSizeMax);
  if (name === 'ring' || name === 'zerocopy') {
    const bytes = (slots || LIMITS.ringSlotsDefault) * (slotSize || LIMITS.slotSizeDefault);
    if (bytes > LIMITS.ringDataMax) {
      throw outOfRange('slots * slotSize', `<= ${LIMITS.ringDataMax}`, bytes);
    }
  }
  const queueLength =
    options.queueLength === undefined ? 0 : checkInteger('queueLength', options.queueLength, 1, LIMITS.queueLengthMax);

  return encodeBind({
    ifname: device,
    mode: number,
    // Mode read: each read() returns the frame with its descriptor (one call, atomic per frame).
    flags:
      (options.passThrough ? uapi.BIND_PASS : 0) |
      (options.batch ? uapi.BIND_BATCH : 0) |
      (number === MODES.read ? uapi.BIND_HEADER : 0),
    slots,
    slotSize,
    queueLength,
    batchDelayUs,
  });
}

/** Decodes struct fastnet_stats. */
export function decodeStats(buffer: Buffer): Stats {
  const u64 = (index: number) => Number(buffer.readBigUInt64LE(8 * index));
  return {
    received: u64(0),
    receivedBytes: u64(1),
    delivered: u64(2),
    deliveredBytes: u64(3),
    dropped: u64(4),
    truncated: u64(5),
    nicMissed: u64(6),
    filtered: u64(7),
  };
}

/** Frames copied out of the kernel in one native call. */
export class PacketBatch implements Iterable<Packet> {
  readonly count: number;
  /** Bytes kept, all frames together. */
  readonly bytes: number;
  /** Every frame, back to back. */
  readonly data: Buffer;
  /** META_STRIDE numbers per frame: offset, length, original length, flags, timestamp low, high. */
  readonly meta: Uint32Array;

  constructor(raw: FastnetRawBatch) {
    this.count = raw.count;
    this.bytes = raw.bytes;
    this.data = raw.data;
    this.meta = raw.meta;
  }

  packet(index: number): Packet {
    checkInteger('index', index, 0, this.count - 1);
    const m = this.meta.subarray(index * META, index * META + META);
    return {
      data: this.data.subarray(m[0], m[0] + m[1]),
      originalLength: m[2],
      truncated: (m[3] & uapi.PKT_TRUNC) !== 0,
      timestampNs: (BigInt(m[5]) << 32n) | BigInt(m[4]),
    };
  }

  *[Symbol.iterator](): Iterator<Packet> {
    for (let i = 0; i < this.count; i++) yield this.packet(i);
  }

  /** Frames whose EtherType (bytes 12-13) is IPv4, counted natively. */
  countIPv4(): number {
    return uapi.countIPv4(this.data, this.meta, this.count);
  }
}

/** Frames in `batch` whose EtherType (bytes 12-13) is IPv4. */
export function countIPv4(batch: PacketBatch): number {
  return batch.countIPv4();
}

/** The ring zone of a session in mode ring or zerocopy, mapped. The session closes it. */
export class Ring {
  readonly slots: number;
  readonly slotSize: number;
  readonly zoneSize: number;
  readonly descOffset: number;
  readonly dataOffset: number;
  readonly #mapping: Mapping;

  /** Maps the zone of the session open at `fd` (after FASTNET_RING_INFO). */
  constructor(fd: number, path: string) {
    const info = Buffer.alloc(uapi.RING_INFO_SIZE);
    native.ioctl(fd, uapi.RING_INFO, info, path);
    this.zoneSize = Number(info.readBigUInt64LE(0));
    this.descOffset = Number(info.readBigUInt64LE(8));
    this.dataOffset = Number(info.readBigUInt64LE(16));
    this.slots = info.readUInt32LE(24);
    this.slotSize = info.readUInt32LE(28);
    this.#mapping = new Mapping(fd, this.zoneSize, { path });
  }

  /** The mapped zone: header, descriptors, slots. Empty once closed. */
  get zone(): Buffer {
    return this.#mapping.buffer;
  }

  get closed(): boolean {
    return this.#mapping.closed;
  }

  /** The shared indices; pending = frames published and not yet handed back. */
  state(): { producer: number; consumer: number; pending: number } {
    return uapi.ringState(this.zone);
  }

  /** Copies up to `max` published frames (default: all the ring's slots) out and hands their slots back. */
  drain(max: number = this.slots): PacketBatch {
    return new PacketBatch(uapi.ringCopy(this.zone, max));
  }

  /**
   * Counts up to `max` published frames (default: all the ring's slots), and
   * their IPv4 frames if `countIPv4` (default false), without copying; hands them back.
   */
  count(max: number = this.slots, options: { countIPv4?: boolean } = {}): Counts {
    return uapi.ringCount(this.zone, max, options.countIPv4 ?? false);
  }

  close(): void {
    this.#mapping.close();
  }
}

/** One session of /dev/fastnet. */
export class Session implements Disposable, AsyncIterable<PacketBatch> {
  readonly path = DEVICE_PATH;
  readonly blocking: boolean;
  readonly #flags: number;
  #fd: number;
  #mode: ModeName | undefined;
  #device: string | undefined;
  #ring: Ring | undefined;
  /** The program the kernel holds for this session (FASTNET_SET_FILTER), or null. */
  #filter: Buffer | null = null;
  /** The wakers of pending waits and iterations, woken by close(). */
  readonly #wakers = new Wakers();

  constructor(options: OpenOptions = {}) {
    this.blocking = options.blocking ?? false;
    this.#flags = fs.constants.O_RDWR | (this.blocking ? 0 : fs.constants.O_NONBLOCK);
    this.#fd = fs.openSync(DEVICE_PATH, this.#flags);
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  get fd(): number {
    if (this.#fd < 0) throw invalidState('The fastnet session is closed: open a new one with fastnet.open()');
    return this.#fd;
  }

  /** Checked before a call that needs a binding (in one of `modes`): ERR_INVALID_STATE naming the state. */
  #requireMode(call: string, ...modes: ModeName[]): ModeName {
    this.fd; // closed?
    if (this.#mode === undefined) throw invalidState(`${call} needs a bound session: call bind() first`);
    if (modes.length > 0 && !modes.includes(this.#mode)) {
      const list = modes.length > 1 ? `${modes.slice(0, -1).join(', ')} or ${modes.at(-1)}` : modes[0];
      throw invalidState(`${call} works in mode ${list}; this session is bound in mode ${this.#mode}`);
    }
    return this.#mode;
  }

  /** Why the kernel refused FASTNET_BIND, where the library can tell; `filter` is the one attached. */
  #bindRefusal(code: string | undefined, device: string, mode: ModeName, filter: Buffer | null): string | undefined {
    switch (code) {
      case 'EINVAL': {
        const fault = mode === 'zerocopy' && filter ? uapi.checkProgram(filter, true) : null;
        return fault ? `the session's filter cannot run in zero-copy: ${describeFault(fault, filter!)}` : undefined;
      }
      case 'EBUSY':
        return this.#mode !== undefined
          ? `this session is already bound to ${this.#device} in mode ${this.#mode}: a session binds once, open another`
          : `${device} already has a fastnet session or another rx_handler (bridge port, bond slave, macvlan...)`;
      case 'ENODEV':
        return this.#mode !== undefined
          ? `the device this session was bound to, ${this.#device}, is gone`
          : `no device named ${device} in this network namespace`;
      case 'ENOTSUP': {
        let type: string | undefined;
        try {
          type = fs.readFileSync(`/sys/class/net/${device}/type`, 'utf8').trim();
        } catch {
          // gone meanwhile: no reason to add
        }
        if (type !== undefined && type !== '1') return `${device} is not an Ethernet device (ARPHRD type ${type})`;
        if (mode !== 'zerocopy' || type === undefined) return undefined;
        const driver = deviceDriver(device);
        if (driver !== null && ZERO_COPY_DRIVERS.includes(driver)) return ZERO_COPY_LIMITS[driver];
        return `${device}'s driver (${driver ?? 'none: a virtual device'}) has no fastnet zero-copy operations (only the project's patched e1000 and virtio_net have): use mode ring`;
      }
      case 'EPERM':
        return 'binding needs CAP_NET_RAW in the network namespace of the device';
      default:
        return undefined;
    }
  }

  /** The mode bound, or undefined before bind(). */
  get mode(): ModeName | undefined {
    return this.#mode;
  }

  /** The device bound, or undefined before bind(). */
  get device(): string | undefined {
    return this.#device;
  }

  /**
   * FASTNET_BIND: attaches the session to `device` (in this process's network
   * namespace) in `mode`. Kernel refusals: EBUSY (this session is bound, or
   * the device has a session or another rx_handler), ENODEV, EINVAL,
   * EOPNOTSUPP (not Ethernet; Node names it ENOTSUP), EPERM (no CAP_NET_RAW).
   * The error's message (and its `reason`) says which, where the library can tell.
   * In modes ring and zerocopy the ring is mapped too; if that fails (ENOMEM:
   * no address space), the bind is undone: the session is unbound, on a new
   * descriptor, and the device free.
   */
  bind(device: string, mode: ModeName | number, options: BindOptions = {}): this {
    const request = bindRequest(device, mode, options);
    const name = modeName(modeNumber(mode));
    const program = options.filter === undefined ? undefined : filterBytes('filter', options.filter);
    const fd = this.fd;
    const previous = this.#filter;
    // Before the bind, so that it applies from the first frame; a bound session refuses the bind anyway.
    if (program !== undefined && this.#mode === undefined) this.#attach(fd, program);
    try {
      native.ioctl(fd, uapi.BIND, request, this.path);
    } catch (error) {
      const why = this.#bindRefusal(errorCode(error), device, name, this.#filter);
      if (this.#filter !== previous) this.#restoreFilter(fd, previous);
      throw withReason(error, `binding ${device} in mode ${name}${why ? `: ${why}` : ''}`);
    }
    if (name === 'ring' || name === 'zerocopy') {
      try {
        this.#ring = new Ring(fd, this.path);
      } catch (error) {
        throw withReason(error, `mapping the ring of ${device} in mode ${name}; ${this.#unbind(previous)}`);
      }
    }
    this.#mode = name;
    this.#device = device;
    return this;
  }

  /**
   * A session binds once for its life, so a bind whose ring cannot be mapped
   * would leave it bound, useless, and holding the device: closing the
   * descriptor undoes the bind, and a new one makes the session unbound
   * again, with the filter it had before (`filter`). Says which it managed.
   */
  #unbind(filter: Buffer | null): string {
    const fd = this.#fd;
    this.#fd = -1;
    this.#filter = null;
    fs.closeSync(fd);
    try {
      this.#fd = fs.openSync(DEVICE_PATH, this.#flags);
    } catch (error) {
      return `the session is closed: reopening ${DEVICE_PATH} failed (${(error as Error).message})`;
    }
    return `the session is unbound again${filter ? this.#restoreFilter(this.#fd, filter) : ''}`;
  }

  /** Puts back the filter a failed call replaced; says so if it could not. */
  #restoreFilter(fd: number, filter: Buffer | null): string {
    try {
      uapi.setFilter(fd, filter, this.path);
      this.#filter = filter;
      return '';
    } catch (error) {
      return `, without its filter: restoring it failed (${(error as Error).message})`;
    }
  }

  /**
   * FASTNET_SET_FILTER: from now on the session keeps only the frames `filter` accepts (a tcpdump
   * expression, compiled by libpcap for Ethernet, or a compiled program), cut to the snap length
   * it returns; null removes it. Before or after bind(), in every mode, while frames flow: each
   * frame sees the old program or the new. Rejected frames count in stats().filtered. A bad
   * expression is ERR_INVALID_ARG_VALUE with libpcap's message; a program the kernel refuses is
   * EINVAL (code, errno, syscall, path), with the instruction and the rule in its `reason`, and
   * the session keeps the filter it had. Zero-copy runs programs without an skb: one that loads
   * skb data (SKF_AD_OFF, SKF_NET_OFF, SKF_LL_OFF) is refused there.
   */
  setFilter(filter: Filter | null): this {
    const fd = this.fd;
    this.#attach(fd, filter === null ? null : filterBytes('filter', filter));
    return this;
  }

  #attach(fd: number, program: Buffer | null): void {
    try {
      uapi.setFilter(fd, program, this.path);
    } catch (error) {
      throw withReason(error, this.#filterRefusal(errorCode(error), program));
    }
    this.#filter = program;
  }

  /** The session's filter, as the kernel has it (an expression compiled), or null. */
  get filter(): BpfInstruction[] | null {
    return this.#filter && decodeProgram(this.#filter);
  }

  /** Why the kernel refused FASTNET_SET_FILTER, where the library can tell. */
  #filterRefusal(code: string | undefined, program: Buffer | null): string {
    const what = program ? `setting a filter of ${program.length / INSN_SIZE} instructions` : 'removing the filter';
    if (code === 'ENODEV') return `${what}: the device this session was bound to, ${this.#device}, is gone`;
    if (code !== 'EINVAL' || !program) return what;
    const zerocopy = this.#mode === 'zerocopy';
    const fault = uapi.checkProgram(program, zerocopy);
    if (!fault) return `${what}: the kernel refused it`;
    return `${what}: ${describeFault(fault, program)}${zerocopy && fault.reason.includes('needs an skb') ? ', and this session is in zero-copy, whose frames have none' : ''}`;
  }

  /** FASTNET_STATS. ENODEV once the device is gone; ERR_INVALID_STATE before bind(). */
  stats(): Stats {
    this.#requireMode('stats()');
    const buffer = Buffer.alloc(uapi.STATS_SIZE);
    native.ioctl(this.fd, uapi.STATS, buffer, this.path);
    return decodeStats(buffer);
  }

  /** The mapped ring (modes ring and zerocopy); ERR_INVALID_STATE in another mode, unbound or closed. */
  get ring(): Ring {
    this.#requireMode('ring', 'ring', 'zerocopy');
    return this.#ring!;
  }

  /**
   * Mode read: one frame, cut to `snapLength` bytes (default 65536; flagged
   * truncated), or null if none is queued. A blocking session waits for one
   * instead, blocking the whole event loop: no timer, I/O or signal handler
   * (SIGINT's included) runs until a frame comes, which on an idle device is
   * never. To wait with the event loop running: `await waitAsync()` then
   * read() on a non-blocking session, or batches().
   */
  read(snapLength = DEFAULT_SNAP_LENGTH): Packet | null {
    this.#requireMode('read()', 'read');
    const raw = uapi.readBatch(this.fd, 1, snapLength, this.blocking, this.path);
    return raw.count ? new PacketBatch(raw).packet(0) : null;
  }

  /**
   * Mode read: the frames queued, up to `max` (default 256), each cut to
   * `snapLength` bytes (default 65536), copied in one native call. Never waits.
   */
  readBatch(max = DEFAULT_MAX_BATCH, snapLength = DEFAULT_SNAP_LENGTH): PacketBatch {
    this.#requireMode('readBatch()', 'read');
    return new PacketBatch(uapi.readBatch(this.fd, max, snapLength, false, this.path));
  }

  /**
   * Mode read: reads up to `max` queued frames (default 256) and counts them,
   * no copy to JavaScript (snapLength: bytes read of each, default 65536;
   * countIPv4: count IPv4 frames too, default false). Never waits.
   */
  readCount(max = DEFAULT_MAX_BATCH, options: { snapLength?: number; countIPv4?: boolean } = {}): Counts {
    this.#requireMode('readCount()', 'read');
    const snap = options.snapLength ?? DEFAULT_SNAP_LENGTH;
    return uapi.readCount(this.fd, max, snap, false, options.countIPv4 ?? false, this.path);
  }

  /**
   * poll(2) for frames, blocking the thread, up to `timeoutMs` milliseconds
   * (default -1: no limit): revents (0 on timeout). The event loop stops
   * meanwhile, signal handlers included; waitAsync() waits on it instead.
   */
  wait(timeoutMs = -1): number {
    this.#requireMode('wait()');
    return uapi.poll(this.fd, timeoutMs, this.path);
  }

  /** Waits on the event loop (no thread-pool thread) up to `timeoutMs` milliseconds (default -1: no limit): revents, or 0 on timeout or close(). */
  async waitAsync(timeoutMs = -1): Promise<number> {
    this.#requireMode('waitAsync()');
    const waker = this.#wakers.add();
    try {
      return await uapi.pollAsync(this.fd, waker, timeoutMs, this.path);
    } finally {
      this.#wakers.remove(waker);
    }
  }

  /**
   * Batches of frames as they come (modes read, ring and zerocopy), waiting on
   * the event loop between them. Ends when the session is closed or `signal`
   * aborts (no error); throws ENODEV when the device goes away (after the
   * frames it left), ERR_INVALID_STATE unbound or in another mode.
   */
  async *batches(options: BatchOptions = {}): AsyncGenerator<PacketBatch, void, undefined> {
    const maxBatch = checkInteger('maxBatch', options.maxBatch ?? DEFAULT_MAX_BATCH, 1, LIMITS.ringSlotsMax);
    const snapLength = checkInteger('snapLength', options.snapLength ?? DEFAULT_SNAP_LENGTH, 1, 1 << 20);
    this.#requireMode('batches() (for await)', 'read', 'ring', 'zerocopy');
    yield* batchesOf(
      {
        take: () =>
          this.#ring ? this.#ring.drain(maxBatch) : new PacketBatch(uapi.readBatch(this.fd, maxBatch, snapLength, false, this.path)),
        fd: () => this.fd,
        path: this.path,
        wakers: this.#wakers,
        closed: () => this.closed,
        gone: () => this.pollError(),
      },
      options.signal,
    );
  }

  [Symbol.asyncIterator](): AsyncIterator<PacketBatch> {
    return this.batches();
  }

  /**
   * Calls `callback` with each batch (awaiting what it returns), like
   * pcap_loop; resolves with the frames seen when the session closes or the
   * signal aborts, and rejects with the callback's error or ENODEV.
   */
  loop(callback: (batch: PacketBatch) => unknown, options: BatchOptions = {}): Promise<number> {
    return loopOver(this.batches(options), callback);
  }

  /** Unmaps the ring and closes the session: the device is back to normal. */
  close(): void {
    if (this.#fd < 0) return;
    this.#wakers.wakeAll();
    this.#ring?.close();
    fs.closeSync(this.#fd);
    this.#fd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * After poll() reported POLLERR or POLLHUP: the kernel's own error, from an
   * ioctl that reports it (ENODEV once the bound device is gone).
   */
  pollError(): Error {
    try {
      this.stats();
    } catch (error) {
      return error as Error;
    }
    return invalidState('poll() reported an error on the session but FASTNET_STATS did not');
  }
}

/** "instruction 3: unknown opcode", or the length that broke the limit. */
function describeFault(fault: { reason: string; at: number }, program: Buffer): string {
  const length = program.length / INSN_SIZE;
  if (length > MAX_FILTER_INSTRUCTIONS) return `${length} instructions: more than BPF_MAXINSNS (${MAX_FILTER_INSTRUCTIONS})`;
  return `instruction ${fault.at} of ${length}: ${fault.reason}`;
}

/** What each driver with fastnet's zero-copy operations refuses (kmod/<driver>-zc), as a bind's reason. */
const ZERO_COPY_LIMITS: Record<string, string> = {
  e1000: 'the e1000 takes zero-copy with an MTU of 1500 at most (a slot holds one standard frame)',
  virtio_net:
    'virtio_net takes zero-copy with an MTU of 1500 at most, one queue pair, no XDP program, no rx-gro-hw and a device ' +
    'that resets a queue (VIRTIO_F_RING_RESET): the kernel log says which failed',
};
/** The drivers that register fastnet's zero-copy operations: the project's patched e1000 and virtio_net. */
export const ZERO_COPY_DRIVERS: readonly string[] = Object.keys(ZERO_COPY_LIMITS);

/** The driver of a network device (e1000, virtio_net), from sysfs; null for a virtual one (veth, lo) or none. */
export function deviceDriver(device: string): string | null {
  try {
    return path.basename(fs.readlinkSync(`/sys/class/net/${device}/device/driver`));
  } catch {
    return null;
  }
}

/** Opens a session of /dev/fastnet (non-blocking unless asked). */
export function open(options: OpenOptions = {}): Session {
  return new Session(options);
}
