// The public API: one namespace per kernel module, plus the shared pieces. The raw addon
// (ioctl, mmap, the capture loops) is `kmodlab/native`: internal, its calls may change.
export * as kshram from './kshram';
export * as memoryInfo from './memory-info';
export * as fastnet from './fastnet';
export * as capture from './capture';
export { openCapture } from './capture';
export { PcapReader, PcapWriter, readPcapFile } from './pcap-file';
export { PCAP_PRELOAD_PATH, pcapPreloadEnv, pcapPreloadPath } from './pcap-preload';

export * as kmod from './kmod';
export * as traffic from './traffic';
// Frames from the host into the guest's e1000 (a guest booted with `--traffic`): docs/capture.md.
export {
  HostTraffic,
  setupGuestLink,
  waitForCarrier,
  HOST_IP,
  GUEST_IP,
  type TrafficRequest,
  type TrafficResult,
} from './host-traffic';
export { Mapping } from './mapping';
