// Methods socket, socket-mmsg, pcap and af_xdp: the native Capture class
// (native/capture*.cc) does the system calls and the per-frame loops.
import * as fs from 'node:fs';

import { invalidState } from '../errors';
import { PacketBatch, encodeProgram } from '../fastnet';
import { native } from '../native';
import { CaptureBase, type BatchCounts, type Capabilities, type CaptureStats } from './base';
import type { ResolvedOptions } from './options';

export type NativeMethod = 'socket' | 'socket-mmsg' | 'pcap' | 'af_xdp';

export class NativeCapture extends CaptureBase {
  readonly capabilities: Capabilities;
  readonly #handle: InstanceType<typeof native.capture.Capture>;

  constructor(method: NativeMethod, device: string, options: ResolvedOptions) {
    super(method, device, options);
    if (method === 'af_xdp') refusePktgen(device);
    // pass: a packet socket leaves every frame to the stack anyway (checkOptions allows only true).
    const { signal: _signal, filter, pass: _pass, ...rest } = options;
    this.#handle = new native.capture.Capture(method, {
      ...rest,
      device,
      ...(filter === undefined ? {} : { filter: typeof filter === 'string' ? filter : encodeProgram(filter, 'filter') }),
    });
    // af_xdp's stamps are user space's, taken as each frame comes off the ring.
    this.capabilities = { frames: true, timestamps: true };
    this.opened();
  }

  protected readyFd(): number {
    return this.#handle.fd;
  }

  protected countReady(timeoutMs: number): BatchCounts {
    return this.#handle.count(this.options.batchSize, timeoutMs);
  }

  protected copyReady(): PacketBatch {
    return new PacketBatch(this.#handle.copy(this.options.batchSize));
  }

  protected methodStats(): CaptureStats {
    return this.#handle.stats();
  }

  protected release(): void {
    this.#handle.close();
  }
}

/**
 * Generic XDP on frames pktgen injects (xmit_mode netif_receive) hits
 * BUG_ON(skb_shared) in pskb_expand_head and panics the kernel (seen on
 * Debian's 6.1): pktgen hands the same skb over again and again. So af_xdp
 * refuses a device pktgen is set up on (pktgenReset() lets it go).
 */
function refusePktgen(device: string): void {
  if (fs.existsSync(`/proc/net/pktgen/${device}`)) {
    throw invalidState(
      `af_xdp refuses ${device}: pktgen is set up to inject into it, and generic XDP on pktgen's shared skbs ` +
        'crashes the kernel (BUG in pskb_expand_head); send real frames instead (a veth peer, the host)',
    );
  }
}
