// How many of the frames a source sent a --filter keeps: the bench counts a
// filtered method's loss against that, not against every frame sent. Both
// sources send UDP/IPv4 frames that differ only in their destination port
// (cycling over --ports values from 9) and their payload, so libpcap's own
// verdict (pcap_offline_filter) on one frame of each port, of the run's size
// and addresses, gives the share; a filter that looks into the payload past
// the source's header would need the frames themselves and is not modelled.
import { native } from '../native';
import type { SourceName } from './bench-options';

/** The first destination port of both sources (pktgen's udp_dst_min, framegen's). */
export const FIRST_PORT = 9;

/** Addresses of each source's frames: lib/cli/bench-run.ts (pktgen) and qemu/framegen.c (host). */
const ADDRESSES: Record<SourceName, { src: number[]; dst: number[] }> = {
  pktgen: { src: [10, 98, 0, 1], dst: [10, 98, 0, 2] },
  host: { src: [192, 168, 77, 1], dst: [192, 168, 77, 2] },
};

/** A UDP/IPv4 frame of `size` bytes (Ethernet header to payload) as `source` sends it to `port`. */
export function sourceFrame(source: SourceName, size: number, port: number): Buffer {
  const frame = Buffer.alloc(size);
  frame.writeUInt16BE(0x0800, 12);
  frame.writeUInt8(0x45, 14); // IPv4, 20-byte header
  frame.writeUInt16BE(size - 14, 16);
  frame.writeUInt8(32, 22); // TTL
  frame.writeUInt8(17, 23); // UDP
  Buffer.from(ADDRESSES[source].src).copy(frame, 26);
  Buffer.from(ADDRESSES[source].dst).copy(frame, 30);
  frame.writeUInt16BE(FIRST_PORT, 34);
  frame.writeUInt16BE(port, 36);
  frame.writeUInt16BE(size - 34, 38);
  return frame;
}

/** The share (0 to 1) of a source's frames of `size` over `ports` destination ports that `filter` keeps. */
export function keptShare(filter: string | null, source: SourceName, size: number, ports: number): number {
  if (filter === null) return 1;
  const program = native.capture.compileFilter(filter);
  let kept = 0;
  for (let i = 0; i < ports; i++) {
    if (native.capture.offlineFilter(program, sourceFrame(source, size, FIRST_PORT + i)) > 0) kept++;
  }
  return kept / ports;
}
