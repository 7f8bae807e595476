// Traffic inside the VM, for fastnet's tests, demo and users' scripts (public
// API: `traffic` in the package): veth pairs, network namespaces, and the
// kernel's packet generator (pktgen), whose xmit_mode netif_receive injects
// frames into a device's receive path, where an rx_handler sees them. Root only.
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { promisify } from 'node:util';

import { checkInteger } from './errors';

const execFileAsync = promisify(execFile);

/** Runs `ip ARGS...`; throws with ip's own message on failure. */
export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** modprobe a module of the running kernel (veth, pktgen, bridge). */
export function modprobe(name: string): void {
  execFileSync('modprobe', [name], { stdio: 'ignore' });
}

/** Writes a sysctl under /proc/sys; false if the knob does not exist (no IPv6, say). */
function writeSysctl(path: string, value: string): boolean {
  try {
    fs.writeFileSync(path, value);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** A network namespace, deleted (with the devices in it) on close. */
export class Namespace implements Disposable {
  readonly name: string;

  constructor(name: string) {
    this.name = name;
    ip('netns', 'add', name);
    // Only the traffic a test sends: no IPv6 autoconfiguration chatter.
    this.exec('sh', '-c', 'for k in all default; do echo 1 > /proc/sys/net/ipv6/conf/$k/disable_ipv6 || :; done 2>/dev/null');
  }

  /** Runs a command inside the namespace, synchronously. */
  exec(command: string, ...args: string[]): string {
    return execFileSync('ip', ['netns', 'exec', this.name, command, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** Runs a command inside the namespace without blocking the event loop (timeoutMs: default 60000 ms). */
  async run(command: string, args: string[], options: { timeoutMs?: number } = {}): Promise<string> {
    const { stdout } = await execFileAsync('ip', ['netns', 'exec', this.name, command, ...args], {
      encoding: 'utf8',
      timeout: options.timeoutMs ?? 60_000,
    });
    return stdout;
  }

  close(): void {
    try {
      ip('netns', 'del', this.name);
    } catch {
      // already gone
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export interface VethOptions {
  /** name's address, CIDR (e.g. 10.77.0.2/24). */
  address?: string;
  /** peer's address, CIDR. */
  peerAddress?: string;
  /** Put the peer in this namespace. */
  peerNamespace?: Namespace;
  /** Static neighbour entries both ways, so that no ARP frame shows up in a capture. */
  staticNeighbours?: boolean;
}

/** A veth pair, `name` in this namespace, `peer` here or in another one. Deleted on close. */
export class VethPair implements Disposable {
  readonly name: string;
  readonly peer: string;
  readonly peerNamespace: Namespace | undefined;

  constructor(name: string, peer: string, options: VethOptions = {}) {
    modprobe('veth');
    this.name = name;
    this.peer = peer;
    this.peerNamespace = options.peerNamespace;
    ip('link', 'add', name, 'type', 'veth', 'peer', 'name', peer);
    writeSysctl(`/proc/sys/net/ipv6/conf/${name}/disable_ipv6`, '1');
    writeSysctl(`/proc/sys/net/ipv6/conf/${peer}/disable_ipv6`, '1');
    if (this.peerNamespace) ip('link', 'set', peer, 'netns', this.peerNamespace.name);
    if (options.address) ip('addr', 'add', options.address, 'dev', name);
    if (options.peerAddress) this.#peerIp('addr', 'add', options.peerAddress, 'dev', peer);
    ip('link', 'set', name, 'up');
    this.#peerIp('link', 'set', peer, 'up');
    if (options.staticNeighbours && options.address && options.peerAddress) {
      const [address] = options.address.split('/');
      const [peerAddress] = options.peerAddress.split('/');
      ip('neigh', 'replace', peerAddress, 'lladdr', this.peerMac, 'dev', name, 'nud', 'permanent');
      this.#peerIp('neigh', 'replace', address, 'lladdr', this.mac, 'dev', peer, 'nud', 'permanent');
    }
  }

  get mac(): string {
    return fs.readFileSync(`/sys/class/net/${this.name}/address`, 'utf8').trim();
  }

  get peerMac(): string {
    const match = /link\/ether ([0-9a-f:]{17})/.exec(this.#peerIp('link', 'show', this.peer));
    if (!match) throw new Error(`no MAC address for ${this.peer}`);
    return match[1];
  }

  /** The device's own receive counters (what its driver counted). */
  rxStats(): { packets: number; bytes: number } {
    const read = (name: string) => Number(fs.readFileSync(`/sys/class/net/${this.name}/statistics/${name}`, 'utf8'));
    return { packets: read('rx_packets'), bytes: read('rx_bytes') };
  }

  #peerIp(...args: string[]): string {
    return this.peerNamespace ? ip('-n', this.peerNamespace.name, ...args) : ip(...args);
  }

  close(): void {
    try {
      ip('link', 'del', this.name);
    } catch {
      // already gone (deleted by a test, or with its namespace)
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export interface PktgenOptions {
  /** The device whose receive path gets the frames. */
  device: string;
  /** Frames to inject; 0 runs until pktgenStop(). */
  count: number;
  /** Frame length in bytes, Ethernet header included (default 64). */
  size?: number;
  /** Destination MAC: the device's own, for the stack to take the frames. */
  dstMac: string;
  /** IPv4 source and destination. */
  src: string;
  dst: string;
  /** UDP source port (default 9). */
  udpSrcPort?: number;
  /** UDP destination port (default 9). */
  udpDstPort?: number;
  /**
   * Destination ports to cycle over, frame by frame, from udpDstPort up
   * (default 1: every frame to udpDstPort); a filter on one port then keeps 1/N.
   */
  udpDstPorts?: number;
  /** Frames per skb pass (default 1: every frame is a fresh skb with its own sequence number). */
  burst?: number;
  /** pktgen thread (= CPU) to run on (default 0). */
  thread?: number;
  /** Frames per second to pace at (pktgen's ratep); unpaced without it. */
  rate?: number;
}

const PKTGEN = '/proc/net/pktgen';

/** pktgen's header, right after the UDP header: magic, then a big-endian sequence number. */
export const PKTGEN_MAGIC = 0xbe9be955;

function pktgenWrite(file: string, command: string): void {
  fs.writeFileSync(`${PKTGEN}/${file}`, `${command}\n`);
}

/**
 * Configures pktgen to inject UDP/IPv4 frames into `device`'s receive path
 * (xmit_mode netif_receive). Replaces whatever pktgen had before.
 */
export function pktgenSetup(options: PktgenOptions): void {
  modprobe('pktgen');
  for (const entry of fs.readdirSync(PKTGEN)) {
    if (entry.startsWith('kpktgend_')) pktgenWrite(entry, 'rem_device_all');
  }
  // The threads let go of their devices when they next run (EBUSY until then): wait for it.
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; fs.existsSync(`${PKTGEN}/${options.device}`); i++) {
    if (i >= 1000) throw new Error(`pktgen still holds ${options.device} after 10 s`);
    Atomics.wait(sleeper, 0, 0, 10);
  }
  const dstPort = checkInteger('udpDstPort', options.udpDstPort ?? 9, 0, 65535);
  const ports = checkInteger('udpDstPorts', options.udpDstPorts ?? 1, 1, 65536 - dstPort);
  pktgenWrite(`kpktgend_${options.thread ?? 0}`, `add_device ${options.device}`);
  const commands = [
    `count ${options.count}`,
    `pkt_size ${options.size ?? 64}`,
    'xmit_mode netif_receive',
    `burst ${options.burst ?? 1}`,
    'delay 0',
    `dst_mac ${options.dstMac}`,
    `src_min ${options.src}`,
    `src_max ${options.src}`,
    `dst ${options.dst}`,
    `udp_src_min ${options.udpSrcPort ?? 9}`,
    `udp_src_max ${options.udpSrcPort ?? 9}`,
    `udp_dst_min ${dstPort}`,
    // pktgen steps through min..max-1 (it wraps when the next port reaches max), one port a frame.
    `udp_dst_max ${ports > 1 ? dstPort + ports : dstPort}`,
  ];
  if (options.rate !== undefined) commands.push(`ratep ${options.rate}`);
  for (const command of commands) pktgenWrite(options.device, command);
}

/** Runs the configured injection to the end; blocks the thread meanwhile. */
export function pktgenRun(): void {
  pktgenWrite('pgctrl', 'start');
}

/** Runs the configured injection from a child process: the event loop keeps running. */
export async function pktgenRunAsync(): Promise<void> {
  await execFileAsync('sh', ['-c', `echo start > ${PKTGEN}/pgctrl`]);
}

/** Stops a running injection. */
export function pktgenStop(): void {
  pktgenWrite('pgctrl', 'stop');
}

/** Frames pktgen injected on `device` in its last run. */
export function pktgenSent(device: string): number {
  const text = fs.readFileSync(`${PKTGEN}/${device}`, 'utf8');
  const match = /sofar: (\d+)/.exec(text);
  if (!match) throw new Error(`no "sofar" in ${PKTGEN}/${device}`);
  return Number(match[1]);
}

/** Whether a pktgen thread is injecting into `device` now. */
export function pktgenRunning(device: string): boolean {
  return fs
    .readdirSync(PKTGEN)
    .filter((entry) => entry.startsWith('kpktgend_'))
    .some((entry) => {
      const match = /^Running: (.*)$/m.exec(fs.readFileSync(`${PKTGEN}/${entry}`, 'utf8'));
      return match !== null && match[1].split(/\s+/).includes(device);
    });
}

/** How long pktgen's last run on `device` took, by its own clock, in microseconds. */
export function pktgenElapsedUs(device: string): number | null {
  const match = /Result: OK: (\d+)\(/.exec(fs.readFileSync(`${PKTGEN}/${device}`, 'utf8'));
  return match ? Number(match[1]) : null;
}

/** Forgets every device pktgen was given. */
export function pktgenReset(): void {
  if (!fs.existsSync(PKTGEN)) return;
  for (const entry of fs.readdirSync(PKTGEN)) {
    if (entry.startsWith('kpktgend_')) pktgenWrite(entry, 'rem_device_all');
  }
}
