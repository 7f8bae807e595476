// Frames lost around a fastnet session's bind() and close() (issue 21), on the
// NIC the boot has (KMODLAB_NIC: e1000, or virtio in the virtio boot, both with
// the project's zero-copy driver): host frames at a paced rate, a packet socket
// watching the device throughout (lib/mode-switch.ts), so a frame nobody saw
// is one the switch lost.
import * as fastnet from '../../lib/fastnet';
import { HostTraffic, NIC_DRIVERS, RCTL_HOLD_MS, bootedNic, pinHostAddress, setupGuestLink } from '../../lib/host-traffic';
import { type SwitchGaps, measureSwitchGaps } from '../../lib/mode-switch';
import { DEBUG_KERNEL } from './debug-kernel';

const DEV = 'eth0';
const NIC = bootedNic();
const RATE = 2000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/**
 * The bounds hold on Debian's kernel. The debug kernel (KASAN, kmemleak; beside another guest in
 * npm test) is too slow for them: a ring's setup alone took it 140 ms of frames, and under load the
 * host's socket drops frames all through a run. There the switches' paths run under its checkers
 * (and the guest log's), and every frame is still accounted for.
 */
const timed = !DEBUG_KERNEL;
const onDebug = DEBUG_KERNEL ? ' (the debug kernel: no bound)' : '';

/**
 * Every frame sent was seen by the socket or the session, or lost around one of the two switches;
 * the watching socket lost none (else a gap could be its own).
 */
function expectAccounted(run: SwitchGaps): void {
  expect(run.seen + run.lostAroundBind + run.lostAroundClose).toBe(run.sent);
  expect(run.seen).toBeGreaterThan(0);
  expect(run.watcherDropped).toBe(0);
}

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
  expect(fastnet.deviceDriver(DEV)).toBe(NIC_DRIVERS[NIC]);
});

test(`${NIC}: ring mode's bind and close lose no frame (the NIC is not touched)${onDebug}`, async () => {
  const run = await measureSwitchGaps(traffic, DEV, { mode: 'ring', rate: RATE });
  expectAccounted(run);
  if (timed) expect(run.gaps).toEqual([]);
});

test(`${NIC}: entering and leaving zero-copy keep RX running: each loses at most 20 ms of frames${onDebug}`, async () => {
  // Around close, the frames the kernel had given the session that it had not read yet are lost
  // with it (unreadAtClose, more when the guest is descheduled): the bound is on the others,
  // those the switch itself lost. Measured on Debian's kernel at 2000 frames/s: e1000 0 frames
  // around bind and close (leaving refills the ring with the driver's buffers and sends what
  // lands in the slots the NIC still holds up the stack); virtio-net 0 to 1 around bind, 4 to 13
  // around close (2 to 6.5 ms: the queue's reset).
  const run = await measureSwitchGaps(traffic, DEV, { mode: 'zerocopy', rate: RATE });
  console.log(
    `${NIC} zero-copy at ${RATE}/s: lost ${run.lostAroundBind} around bind (${run.bindMs} ms), ` +
      `${run.lostAroundClose} around close (${run.closeMs} ms; ${run.unreadAtClose} unread in the ring); ` +
      `host dropped ${run.hostDropped}; gaps ${JSON.stringify(run.gaps)}`,
  );
  expectAccounted(run);
  const bound = (RATE * 20) / 1000;
  const switchLost = { bind: run.lostAroundBind, close: run.lostAroundClose - run.unreadAtClose };
  if (timed) expect({ bind: switchLost.bind <= bound, close: switchLost.close <= bound }).toEqual({ bind: true, close: true });
});
