// Frames lost around a fastnet session's bind() and close(), on the NIC the VM
// was booted with (lib/mode-switch.ts): the host sends at a paced rate, the
// session binds after 1 s and closes 1 s later, a packet socket watches.
//
//   npm run vm -- --traffic [--nic virtio] -- node dist/examples/mode-switch.js [MODE [RATE [ROUNDS]]]
import { deviceDriver } from '../fastnet';
import { HostTraffic, RCTL_HOLD_MS, pinHostAddress, setupGuestLink } from '../host-traffic';
import { measureSwitchGaps } from '../mode-switch';
import { type CommandSpec, choiceValue, integerValue, runCommand } from '../cli/args';

const DEVICE = 'eth0';

const spec: CommandSpec = {
  name: 'npm run vm -- --traffic [--nic virtio] -- node dist/examples/mode-switch.js',
  synopsis: '[MODE [RATE [ROUNDS]]]',
  description: [
    "Frames lost around a fastnet session's bind() and close() on eth0, with host frames at RATE",
    'frames a second (default 5000). MODE: ring (default) or zerocopy. ROUNDS: runs (default 3).',
  ].join('\n'),
  positionals: { min: 0, max: 3 },
};

runCommand(spec, async ({ positionals }) => {
  const [modeText = 'ring', rateText = '5000', roundsText = '3'] = positionals;
  const mode = choiceValue('MODE', modeText, ['ring', 'zerocopy'] as const);
  const rate = integerValue('RATE', rateText, 100, 100_000);
  const rounds = integerValue('ROUNDS', roundsText, 1, 100);
  const traffic = new HostTraffic();
  await setupGuestLink(DEVICE);
  pinHostAddress(DEVICE);
  console.log(`${mode} on ${DEVICE} (${deviceDriver(DEVICE)}), ${rate} frames/s:`);
  for (let round = 1; round <= rounds; round++) {
    // The last close may have restarted RX: QEMU's e1000 takes nothing for a second after.
    await new Promise((resolve) => setTimeout(resolve, RCTL_HOLD_MS));
    const run = await measureSwitchGaps(traffic, DEVICE, { mode, rate });
    const ms = (frames: number) => ((frames * 1000) / rate).toFixed(1);
    console.log(
      `  round ${round}: lost around bind ${run.lostAroundBind} (${ms(run.lostAroundBind)} ms), ` +
        `around close ${run.lostAroundClose} (${ms(run.lostAroundClose)} ms, ${run.unreadAtClose} of them unread in the ring); ` +
        `bind ${run.bindMs} ms, close ${run.closeMs} ms; ${run.seen} of ${run.sent} seen, ` +
        `host dropped ${run.hostDropped}, watcher dropped ${run.watcherDropped}`,
    );
  }
});
