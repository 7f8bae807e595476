// libpcap-fastnet.so (pcap/, docs/pcap-preload.md): the LD_PRELOAD library
// that gives unchanged libpcap programs (tcpdump, tshark, your own) devices
// named fastnet:IFNAME and fastnet-zc:IFNAME. This module says where the
// built library is and makes the environment that preloads it.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { systemError } from './errors';

/** Where `make` puts the library: out/lib under the package root (lib/ and dist/ sit one level below it). */
export const PCAP_PRELOAD_PATH = path.join(__dirname, '..', 'out', 'lib', 'libpcap-fastnet.so');

/** The library's path; ENOENT (Node-style, with the way to build it) if it was not built. */
export function pcapPreloadPath(): string {
  if (!fs.existsSync(PCAP_PRELOAD_PATH)) {
    throw systemError('ENOENT', 'access', PCAP_PRELOAD_PATH, 'libpcap-fastnet.so is not built: run make in the project');
  }
  return PCAP_PRELOAD_PATH;
}

/**
 * `env` (default: this process's) with the library first in LD_PRELOAD, and
 * whatever was preloaded already after it.
 */
export function pcapPreloadEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const lib = pcapPreloadPath();
  const others = (env.LD_PRELOAD ?? '').split(/[:\s]+/).filter((entry) => entry !== '' && entry !== lib);
  return { ...env, LD_PRELOAD: [lib, ...others].join(':') };
}
