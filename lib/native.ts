// Typed view of the C++ addon (native/), built by node-gyp into build/Release.
import * as path from 'node:path';

import type { CaptureOptions } from './capture/options';

export interface KshramConstants {
  readonly SLOTS: number;
  readonly DEFAULT_SIZE: number;
  readonly MAX_SIZE: number;
  readonly GETSLOTS: number;
  readonly GETSIZE: number;
  readonly SETSIZE: number;
}

/** {packets, bytes, ipv4, truncated}: the no-copy loops' result. */
export interface FastnetCounts {
  packets: number;
  bytes: number;
  /** Frames with EtherType 0x0800 (bytes 12-13), if asked to count them. */
  ipv4: number;
  truncated: number;
}

/** Frames copied into one Buffer; `meta` has META_STRIDE numbers per frame. */
export interface FastnetRawBatch {
  count: number;
  bytes: number;
  data: Buffer;
  meta: Uint32Array;
}

export interface FastnetNative {
  readonly MODE_NORMAL: number;
  readonly MODE_DROP: number;
  readonly MODE_READ: number;
  readonly MODE_RING: number;
  readonly MODE_ZEROCOPY: number;
  readonly BIND_PASS: number;
  readonly BIND_BATCH: number;
  readonly BIND_HEADER: number;
  readonly IFNAMSIZ: number;
  readonly RING_SLOTS_MIN: number;
  readonly RING_SLOTS_MAX: number;
  readonly RING_SLOTS_DEFAULT: number;
  readonly SLOT_SIZE_MIN: number;
  readonly SLOT_SIZE_MAX: number;
  readonly SLOT_SIZE_DEFAULT: number;
  readonly RING_DATA_MAX: number;
  readonly QUEUE_LEN_MAX: number;
  readonly QUEUE_LEN_DEFAULT: number;
  readonly QUEUE_BYTES_MAX: number;
  /** FASTNET_BIND_BATCH's announcement delay, microseconds. */
  readonly BATCH_USECS_DEFAULT: number;
  readonly BATCH_USECS_MAX: number;
  readonly SLOT_READY: number;
  readonly PKT_TRUNC: number;
  readonly RING_MAGIC: number;
  readonly RING_VERSION: number;
  /** ioctl numbers. */
  readonly BIND: number;
  readonly STATS: number;
  readonly RING_INFO: number;
  readonly READ_INFO: number;
  readonly SET_FILTER: number;
  /** Instructions a classic BPF program may have (the kernel's BPF_MAXINSNS). */
  readonly BPF_MAXINSNS: number;
  /** Bytes of one struct sock_filter. */
  readonly SOCK_FILTER_SIZE: number;
  /** Structure sizes and field offsets, from the UAPI header. */
  readonly BIND_SIZE: number;
  readonly BIND_MODE_OFFSET: number;
  readonly BIND_FLAGS_OFFSET: number;
  readonly BIND_SLOTS_OFFSET: number;
  readonly BIND_SLOT_SIZE_OFFSET: number;
  readonly BIND_QUEUE_LEN_OFFSET: number;
  readonly BIND_BATCH_USECS_OFFSET: number;
  readonly BIND_RESERVED_OFFSET: number;
  readonly STATS_SIZE: number;
  readonly SLOT_DESC_SIZE: number;
  readonly RING_INFO_SIZE: number;
  readonly RING_HEADER_SIZE: number;
  readonly RING_PRODUCER_OFFSET: number;
  readonly RING_CONSUMER_OFFSET: number;
  /** Numbers per frame in a batch's meta: offset, length, origLength, flags, tsLo, tsHi. */
  readonly META_STRIDE: number;
  readonly POLLIN: number;
  readonly POLLERR: number;
  readonly POLLHUP: number;
  readonly POLLNVAL: number;

  /** Mode READ: up to `max` frames, each cut to `snapLength`; only the first read may wait. */
  readBatch(fd: number, max: number, snapLength: number, wait: boolean, path?: string): FastnetRawBatch;
  /** Mode READ: reads up to `max` frames and counts them without copying them to JS. */
  readCount(fd: number, max: number, snapLength: number, wait: boolean, countIPv4: boolean, path?: string): FastnetCounts;
  /** FASTNET_SET_FILTER with `program` (struct sock_filter records), or null to detach. */
  setFilter(fd: number, program: Uint8Array | null, path?: string): void;
  /**
   * fastnet's own check of a program (kmod/fastnet/fastnet_bpf.c, built into the addon): null if
   * it passes, else the rule it breaks and the instruction's index. `zerocopy`: zero-copy's rules
   * (no load of skb data), else the kernel's (programs run on skbs).
   */
  checkProgram(program: Uint8Array, zerocopy: boolean): { reason: string; at: number } | null;
  /** Frames of a batch whose EtherType is IPv4. */
  countIPv4(data: Buffer, meta: Uint32Array, count: number): number;
  /** Mode RING: takes up to `max` published slots, counts them, hands them back. */
  ringCount(zone: Uint8Array, max: number, countIPv4: boolean): FastnetCounts;
  /** Mode RING: copies up to `max` published slots out, hands them back. */
  ringCopy(zone: Uint8Array, max: number): FastnetRawBatch;
  ringState(zone: Uint8Array): { producer: number; consumer: number; pending: number };
  /** poll(2) for POLLIN; returns revents, 0 on timeout. Blocks the thread; EBADF for a negative fd. */
  poll(fd: number, timeoutMs: number, path?: string): number;
  /**
   * Waits for POLLIN on the event loop (no thread-pool thread); resolves with
   * revents, 0 on timeout or when `waker` is woken.
   */
  pollAsync(fd: number, waker: number, timeoutMs: number, path?: string): Promise<number>;
  /** A waker id (not a descriptor) for pollAsync(); free it with closeWaker(). */
  createWaker(): number;
  /** Ends every pending and later pollAsync() on `waker` with 0, releasing their descriptors now. */
  wake(waker: number): void;
  /** Wakes and frees a waker; false if it was already closed. */
  closeWaker(waker: number): boolean;
}

/** The native side of socket, socket-mmsg, pcap and af_xdp (native/capture*.cc). */
export interface NativeCaptureHandle {
  /** The descriptor that polls readable when frames are ready (-1 once closed). */
  readonly fd: number;
  /** Counts up to `max` ready frames in place; waits up to timeoutMs only if none is. */
  count(max: number, timeoutMs: number): { frames: number; ipv4: number; bytes: number };
  /** Copies up to `max` ready frames out; never waits. */
  copy(max: number): FastnetRawBatch;
  stats(): { received: number; ipv4: number; bytes: number; dropped: number; detail: Record<string, number> };
  /** false if it was already closed. */
  close(): boolean;
}

export interface CaptureNative {
  /**
   * The options as lib/capture/options.ts checked them, less what the library keeps to itself;
   * a compiled filter arrives encoded (struct sock_filter records).
   */
  Capture: new (
    method: string,
    options: Omit<CaptureOptions, 'signal' | 'batch' | 'filter' | 'pass'> & { device: string; filter?: string | Uint8Array },
  ) => NativeCaptureHandle;
  /** Compiles a tcpdump expression (throws ERR_INVALID_ARG_VALUE); returns its instruction count. */
  checkFilter(expression: string, snapLength?: number): number;
  /** Compiles a tcpdump expression for Ethernet (ERR_INVALID_ARG_VALUE): struct sock_filter records. */
  compileFilter(expression: string, snapLength?: number): Buffer;
  /** libpcap's pcap_offline_filter() of `program` (which must pass bpf_validate) on `frame`: the snap length, 0 if rejected. */
  offlineFilter(program: Uint8Array, frame: Uint8Array): number;
  readonly libpcapVersion: string;
  /** pcap_open_offline_with_tstamp_precision (nanoseconds); throws ERR_PCAP_FORMAT with libpcap's reason. */
  openPcapFile(path: string): { file: NativePcapFile; linkType: number; snapLength: number };
  /** Up to `max` records (count 0 at the end); ERR_PCAP_FORMAT for a damaged one. */
  readPcapFile(file: NativePcapFile, max: number): FastnetRawBatch;
  /** false if it was already closed. */
  closePcapFile(file: NativePcapFile): boolean;
}

/** An open capture file of the addon's (opaque). */
export type NativePcapFile = { readonly __nativePcapFile: unique symbol };

export interface NativeAddon {
  /**
   * ioctl(2) with a pointer to `arg`'s bytes, which the kernel reads or fills
   * in place; a request with a direction (_IOR/_IOW/_IOWR) needs at least
   * _IOC_SIZE(request) of them. Never a number, which would be taken for an
   * address by any request that uses a pointer (FIONREAD has no size bits):
   * integers go through ioctlValue().
   */
  ioctl(fd: number, request: number, arg: ArrayBufferView, path?: string): number;
  /**
   * ioctl(2) with an integer argument passed by value (default 0). Requests
   * with a direction, which always dereference their argument, are refused
   * (ERR_INVALID_ARG_VALUE).
   */
  ioctlValue(fd: number, request: number, value?: number | bigint, path?: string): number;
  /** mmap(2) with MAP_SHARED; the ArrayBuffer is backed by the mapping itself. */
  mmap(fd: number, length: number, offset: number, writable: boolean, path?: string): ArrayBuffer;
  /** munmap(2) after detaching the ArrayBuffer; false if it was already released. */
  munmap(buffer: ArrayBuffer): boolean;
  /** finit_module(2): loads the module file open at `fd` with `params` (a string). */
  finitModule(fd: number, params: string, path?: string): void;
  /** delete_module(2) with O_NONBLOCK: EBUSY at once while the module is in use. */
  deleteModule(name: string): void;
  readonly pageSize: number;
  readonly kshram: KshramConstants;
  readonly fastnet: FastnetNative;
  readonly capture: CaptureNative;
}

// dist/native.js and lib/native.ts both sit one level below the package root.
export const native: NativeAddon = require(path.join(__dirname, '..', 'build', 'Release', 'kmodlab.node'));
