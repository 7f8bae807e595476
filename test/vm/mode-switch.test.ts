// Frames lost around a fastnet session's bind() and close() (issue 21), on the
// NIC the boot has (KMODLAB_NIC: e1000, or virtio in the virtio boot, both with
// the project's zero-copy driver): host frames at a paced rate, a packet socket
// watching the device throughout (lib/mode-switch.ts), so a frame nobody saw
// is one the switch lost.
import * as fastnet from '../../lib/fastnet';
import { HostTraffic, RCTL_HOLD_MS, pinHostAddress, setupGuestLink } from '../../lib/host-traffic';
import { measureSwitchGaps } from '../../lib/mode-switch';
import { DEBUG_KERNEL } from './debug-kernel';

const DEV = 'eth0';
const NIC = process.env.KMODLAB_NIC ?? 'e1000';
const RATE = 2000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/**
 * Frames a switch may lose, for a bound of `ms` on Debian's kernel. The debug kernel (KASAN,
 * kmemleak) takes a vCPU for a few hundred ms to set up a ring (measured: 140 ms of frames lost
 * binding mode ring on virtio-net, where Debian's kernel loses none): there the bound only tells
 * a queue reset from a restart of the NIC, whose link renegotiation cost 0.5 to 0.9 s.
 */
const allowed = (ms: number) => (RATE * (DEBUG_KERNEL ? 300 : ms)) / 1000;

let traffic: HostTraffic;

beforeAll(async () => {
  if (!HostTraffic.available()) throw new Error('mode-switch needs host traffic: `npm test -- --vm test/vm/mode-switch` boots with it');
  traffic = new HostTraffic();
  await setupGuestLink(DEV);
  pinHostAddress(DEV);
}, 60_000);

beforeEach(() => sleep(RCTL_HOLD_MS)); // the last close (or link-up) may have restarted RX

jest.setTimeout(120_000);

test(`${NIC}: the driver is the one the boot asked for`, () => {
  expect(fastnet.deviceDriver(DEV)).toBe(NIC === 'virtio' ? 'virtio_net' : 'e1000');
});

const onDebug = DEBUG_KERNEL ? ' (the debug kernel: at most 300 ms of frames)' : '';

test(`${NIC}: ring mode's bind and close lose no frame (the NIC is not touched)${onDebug}`, async () => {
  const run = await measureSwitchGaps(traffic, DEV, { mode: 'ring', rate: RATE });
  expect({ bind: run.lostAroundBind <= allowed(0), close: run.lostAroundClose <= allowed(0) }).toEqual({ bind: true, close: true });
  expect(run.seen + run.lostAroundBind + run.lostAroundClose).toBe(run.sent);
});

if (NIC === 'e1000') {
  test(`e1000: entering zero-copy loses no frame; leaving loses only what QEMU refuses for 1 s after RX restarts${onDebug}`, async () => {
    const run = await measureSwitchGaps(traffic, DEV, { mode: 'zerocopy', rate: RATE });
    expect(run.lostAroundBind).toBeLessThanOrEqual(allowed(0));
    // Leaving stops RX (RCTL.EN) to take every slot back: QEMU's e1000 then takes no frame for
    // 1 s (its flush timer; hardware: none), and the host's socket drops them. The driver's own part
    // (RX stopped 10 ms, frames the NIC completed but NAPI had not yet handed over) is the rest.
    expect(run.lostAroundClose).toBeGreaterThanOrEqual(run.hostDropped);
    expect(run.hostDropped).toBeLessThanOrEqual((RATE * (RCTL_HOLD_MS + 100)) / 1000);
    expect(run.lostAroundClose - run.hostDropped).toBeLessThanOrEqual(allowed(100));
    expect(run.seen + run.lostAroundBind + run.lostAroundClose).toBe(run.sent);
  });
} else {
  test(`${NIC}: entering and leaving zero-copy reset the receive queue alone: each loses at most 20 ms of frames${onDebug}`, async () => {
    // Measured on Debian's kernel: 0 to 1 frame around bind, 4 to 13 around close (2 to 6.5 ms:
    // the queue's reset, and frames left unread in the ring as the session closes), at 2000 frames/s.
    const run = await measureSwitchGaps(traffic, DEV, { mode: 'zerocopy', rate: RATE });
    expect({ bind: run.lostAroundBind <= allowed(20), close: run.lostAroundClose <= allowed(20) }).toEqual({ bind: true, close: true });
    expect(run.seen + run.lostAroundBind + run.lostAroundClose).toBe(run.sent);
  });
}
