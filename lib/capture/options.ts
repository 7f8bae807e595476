// The options every capture method takes, checked before anything is
// opened: a wrong type is ERR_INVALID_ARG_TYPE, a value out of bounds
// ERR_OUT_OF_RANGE, an option the method does not use ERR_INVALID_ARG_VALUE
// (refused rather than ignored, so a benchmark never measures a setting
// that had no effect). A filter is compiled here too, by libpcap, so a bad
// expression fails before any socket exists (a compiled program is checked
// field by field; the kernel, or libpcap for af_xdp, judges the rest).
import {
  checkAbortSignal,
  checkBoolean,
  checkInteger,
  checkObject,
  checkPowerOfTwo,
  checkString,
  invalidArgValue,
} from '../errors';
import { encodeProgram, type Filter } from '../fastnet';
import { native } from '../native';

/** Every method, in the order the benchmark shows them. */
export const METHODS = [
  'socket',
  'socket-mmsg',
  'pcap',
  'af_xdp',
  'fastnet-drop',
  'fastnet-read',
  'fastnet-ring',
  // Zero-copy (fastnet mode 'zerocopy'): the e1000 DMAs frames straight into
  // the ring's slots; the same ring API as fastnet-ring. e1000 and virtio_net.
  'fastnet-zc',
] as const;
export type CaptureMethod = (typeof METHODS)[number];

export interface CaptureOptions {
  /** Bytes kept of each frame in copied batches (default 65535). */
  snapLength?: number;
  /** socket, socket-mmsg, pcap: the kernel's buffer for this capture, bytes (default 2 MiB, as tcpdump). */
  bufferSize?: number;
  /** af_xdp: rx ring descriptors; fastnet-ring, fastnet-zc: slots; fastnet-read: queue length (powers of two but for read). */
  ringSize?: number;
  /** af_xdp: umem chunk bytes (2048 or 4096); fastnet-ring, fastnet-zc: slot bytes. */
  frameSize?: number;
  /** Frames per countBatch() and per batch, at most (default 256). */
  batchSize?: number;
  /**
   * How long frames may wait to be handed over a batch at a time, ms, 1 to 60000: pcap's
   * TPACKET_V3 block timeout (default 100); fastnet-ring and fastnet-zc's batch delay, with batch
   * (default 1). Longer means fewer wakeups at low rates, for that much latency.
   */
  timeoutMs?: number;
  /**
   * fastnet-ring, fastnet-zc: wait for frames a batch at a time (default true; fastnet's FASTNET_BIND_BATCH):
   * the ring reads ready once half full or once its oldest unannounced frame is timeoutMs old,
   * as pcap's TPACKET_V3 block timeout hands over whole blocks. false: ready at every frame,
   * which costs a wakeup for every few frames when the consumer keeps up.
   */
  batch?: boolean;
  /**
   * Which frames to take, in every method: a tcpdump expression (compiled by libpcap for
   * Ethernet, with snapLength as its snap length) or a compiled classic BPF program. The kernel
   * runs it (SO_ATTACH_FILTER, pcap_setfilter, FASTNET_SET_FILTER), but for af_xdp, where it
   * runs in user space (pcap_offline_filter).
   */
  filter?: Filter;
  /**
   * Whether the device's own stack still gets the frames (default: each method's own way).
   * socket, socket-mmsg and pcap always leave them to it (true is all they take). fastnet-read
   * and fastnet-ring take them from the stack unless true (a copy goes on up). fastnet-zc takes
   * every frame its filter keeps, and with true hands the ones it rejects on to the stack (copied),
   * so a capture filtered to its traffic keeps the guest's ARP and ping working. af_xdp and
   * fastnet-drop take every frame: refused.
   */
  pass?: boolean;
  /** Aborting it closes the capture: iterations and loops end, countBatch() throws. */
  signal?: AbortSignal;
}

type OptionName = keyof CaptureOptions;

const ALL: CaptureMethod[] = [...METHODS];

/** Which methods use each option. */
export const OPTION_METHODS: Record<OptionName, readonly CaptureMethod[]> = {
  snapLength: ALL.filter((m) => m !== 'fastnet-drop'),
  bufferSize: ['socket', 'socket-mmsg', 'pcap'],
  ringSize: ['af_xdp', 'fastnet-read', 'fastnet-ring', 'fastnet-zc'],
  frameSize: ['af_xdp', 'fastnet-ring', 'fastnet-zc'],
  batchSize: ALL,
  timeoutMs: ['pcap', 'fastnet-ring', 'fastnet-zc'],
  batch: ['fastnet-ring', 'fastnet-zc'],
  filter: ALL,
  pass: ['socket', 'socket-mmsg', 'pcap', 'fastnet-read', 'fastnet-ring', 'fastnet-zc'],
  signal: ALL,
};

/** Methods whose frames the stack always gets as well: pass can only be true there. */
const ALWAYS_PASS: readonly CaptureMethod[] = ['socket', 'socket-mmsg', 'pcap'];

export const DEFAULTS = {
  snapLength: 65535,
  bufferSize: 2 << 20,
  batchSize: 256,
} as const;

/** The checked options, defaults filled in where the library picks them. */
export interface ResolvedOptions extends CaptureOptions {
  snapLength: number;
  batchSize: number;
}

export function checkOptions(method: CaptureMethod, options: unknown): ResolvedOptions {
  const given = checkObject('options', options === undefined ? {} : options) as Record<string, unknown>;
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue;
    const methods = OPTION_METHODS[key as OptionName] as readonly CaptureMethod[] | undefined;
    if (!methods) throw invalidArgValue(key, value, `is not a capture option (${Object.keys(OPTION_METHODS).join(', ')})`);
    if (!methods.includes(method)) {
      throw invalidArgValue(key, value, `applies to ${methods.join(', ')}, not ${method}`);
    }
  }
  const o = given as CaptureOptions;
  const resolved: ResolvedOptions = {
    snapLength: checkInteger('snapLength', o.snapLength ?? DEFAULTS.snapLength, 1, 262144),
    batchSize: checkInteger('batchSize', o.batchSize ?? DEFAULTS.batchSize, 1, 65536),
  };
  if (o.bufferSize !== undefined) resolved.bufferSize = checkInteger('bufferSize', o.bufferSize, 4096, 1 << 30);
  else if (OPTION_METHODS.bufferSize.includes(method)) resolved.bufferSize = DEFAULTS.bufferSize;
  if (o.ringSize !== undefined) {
    resolved.ringSize =
      method === 'fastnet-read'
        ? checkInteger('ringSize', o.ringSize, 1, 65536)
        : checkPowerOfTwo('ringSize', o.ringSize, method === 'af_xdp' ? 64 : 2, 65536);
  }
  if (o.frameSize !== undefined) {
    resolved.frameSize = checkPowerOfTwo('frameSize', o.frameSize, 2048, method === 'af_xdp' ? 4096 : 65536);
  }
  if (o.timeoutMs !== undefined) resolved.timeoutMs = checkInteger('timeoutMs', o.timeoutMs, 1, 60_000);
  if (o.batch !== undefined) resolved.batch = checkBoolean('batch', o.batch);
  else if (method === 'fastnet-ring' || method === 'fastnet-zc') resolved.batch = true;
  if (resolved.timeoutMs !== undefined && resolved.batch === false) {
    throw invalidArgValue('timeoutMs', resolved.timeoutMs, 'applies to fastnet methods only with batch: true');
  }
  if (o.filter !== undefined) {
    if (Array.isArray(o.filter)) {
      const program = encodeProgram(o.filter, 'filter');
      // af_xdp runs it in user space: libpcap checks it first (bpf_validate), as the kernel would.
      if (method === 'af_xdp') native.capture.offlineFilter(program, new Uint8Array(0));
      resolved.filter = o.filter;
    } else {
      const filter = checkString('filter', o.filter);
      native.capture.checkFilter(filter, resolved.snapLength);
      resolved.filter = filter;
    }
  }
  if (o.pass !== undefined) {
    resolved.pass = checkBoolean('pass', o.pass);
    if (!resolved.pass && ALWAYS_PASS.includes(method)) {
      throw invalidArgValue('pass', false, `cannot be false with ${method}: a packet socket's frames always go on to the stack`);
    }
  }
  if (o.signal !== undefined) resolved.signal = checkAbortSignal('signal', o.signal);
  return resolved;
}
