// Capture methods behind one interface: openCapture(method, device, options)
// gives a Capture whatever the method, so a script or the benchmark swaps
// one for another. See docs/capture.md.
import { FastnetCapture, type FastnetMethod } from './fastnet-capture';
import { NativeCapture, type NativeMethod } from './native-capture';
import { checkDeviceName, checkOneOf, checkString } from '../errors';
import { checkOptions, METHODS, type CaptureMethod, type CaptureOptions } from './options';
import type { Capture } from './base';

export { PacketBatch, type Packet } from '../fastnet';
export type { BatchCounts, BatchOptions, Capabilities, Capture, CaptureStats } from './base';
export { DEFAULTS, METHODS, OPTION_METHODS, type CaptureMethod, type CaptureOptions } from './options';
export { FASTNET_MODES } from './fastnet-capture';

/**
 * Opens a capture of `device` (in this process's network namespace) by
 * `method`. Bad arguments throw ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE
 * or ERR_OUT_OF_RANGE before anything is opened; system call failures throw
 * Node-style errors (ENODEV for an unknown device, EPERM without
 * CAP_NET_RAW) with `code`, negative `errno`, `syscall` and `path`.
 *
 * af_xdp and the fastnet methods take every frame from the device's own
 * stack while they run (ping and ARP through it fail; fastnet-zc restarts
 * the NIC too): `pass: true` keeps the stack fed where a method can
 * (fastnet-read and -ring copy every frame on to it, fastnet-zc the ones its
 * filter rejects). The packet sockets (socket, socket-mmsg, pcap) only look.
 */
export function openCapture(method: CaptureMethod, device: string, options: CaptureOptions = {}): Capture {
  const m = checkOneOf('method', checkString('method', method), METHODS);
  const dev = checkDeviceName('device', device);
  const resolved = checkOptions(m, options);
  if (m.startsWith('fastnet-')) return new FastnetCapture(m as FastnetMethod, dev, resolved);
  return new NativeCapture(m as NativeMethod, dev, resolved);
}
