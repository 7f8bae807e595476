// fastnet's zero-copy mode at work (inside a VM booted with --traffic): the
// host's framegen sends UDP frames into the guest's e1000, which DMAs them
// straight into the ring's slots; a few frames are decoded, then live counts
// are printed every second.
//
//   npm run vm -- --traffic -- node dist/examples/fastnet-zerocopy.js [MODE] [SECONDS] [RATE] [SIZE]
//
// MODE is zerocopy (default) or ring (the same capture, frames copied from
// skbs), or compare: ring and zerocopy take the same host traffic in turn,
// three times each, and the delivered rates are printed side by side.
import * as fastnet from '../fastnet';
import { HostTraffic, decodeFrame, setupGuestLink, type TrafficResult } from '../host-traffic';
import { type CommandSpec, choiceValue, integerValue, runCommand } from '../cli/args';

const DEVICE = 'eth0';

function describeFrame(packet: fastnet.Packet): string {
  const d = packet.data;
  const mac = (offset: number) => [...d.subarray(offset, offset + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
  const ip = (offset: number) => [...d.subarray(offset, offset + 4)].join('.');
  const frame = decodeFrame(d);
  return (
    `${mac(6)} > ${mac(0)} type 0x${d.readUInt16BE(12).toString(16).padStart(4, '0')} ` +
    `${ip(26)}:${d.readUInt16BE(34)} > ${ip(30)}:${d.readUInt16BE(36)} ${packet.originalLength} bytes` +
    (frame ? `, framegen run ${frame.id} seq ${frame.seq}` : '')
  );
}

interface Run {
  result: TrafficResult;
  stats: fastnet.Stats;
  counted: number;
  seconds: number;
}

/** Captures one request's frames in `mode`, counting in place; prints a line a second if `live`. */
async function captureRun(
  traffic: HostTraffic,
  mode: 'ring' | 'zerocopy',
  request: { size: number; count: number; rate: number },
  live: boolean,
): Promise<Run> {
  using session = fastnet.open().bind(DEVICE, mode, { slots: 4096 });
  const { ring } = session;
  let counted = 0;
  let done = false;
  const started = Date.now();
  let last = { at: started, counted: 0 };
  const report = live
    ? setInterval(() => {
        const now = Date.now();
        const stats = session.stats();
        console.log(
          `  t=${((now - started) / 1000).toFixed(0)}s ${counted} frames, ` +
            `${(((counted - last.counted) * 1000) / (now - last.at) / 1000).toFixed(1)} kpps, ` +
            `pending ${ring.state().pending}, dropped ${stats.dropped}, NIC missed ${stats.nicMissed}`,
        );
        last = { at: now, counted };
      }, 1000)
    : undefined;
  const sending = traffic.send(request).finally(() => {
    done = true;
  });
  let idleSince = 0;
  for (;;) {
    await session.waitAsync(100);
    const got = ring.count(ring.slots).packets;
    counted += got;
    if (!done) continue;
    // Sent: wait for the last frames to come through, then stop.
    if (got) idleSince = Date.now();
    else if (!idleSince) idleSince = Date.now();
    else if (Date.now() - idleSince > 700) break;
  }
  clearInterval(report);
  const result = await sending;
  return { result, stats: session.stats(), counted, seconds: result.seconds };
}

async function show(traffic: HostTraffic, mode: 'ring' | 'zerocopy', seconds: number, rate: number, size: number) {
  using session = fastnet.open().bind(DEVICE, mode, { slots: 4096 });
  const { ring } = session;
  console.log(`fastnet: ${DEVICE} bound in ${mode} mode: ${ring.slots} slots of ${ring.slotSize} bytes`);
  await traffic.send({ size, count: 4, rate: 100 });
  // The frames may still be on their way through QEMU: wait for them (up to 5 s).
  let decoded = 0;
  for (const deadline = Date.now() + 5000; decoded < 4 && Date.now() < deadline; ) {
    await session.waitAsync(200);
    for (const packet of ring.drain()) {
      console.log(`  ${describeFrame(packet)}`);
      decoded++;
    }
  }
  if (decoded === 0) console.log('  (no frame arrived within 5 s)');
  session.close();

  console.log(`host: ${rate} frames/s of ${size} bytes for ${seconds} s`);
  const run = await captureRun(traffic, mode, { size, count: rate * seconds, rate }, true);
  console.log(
    `fastnet ${mode}: host sent ${run.result.sent} in ${run.seconds.toFixed(1)} s; delivered ${run.stats.delivered} ` +
      `(${(run.stats.delivered / run.seconds / 1000).toFixed(1)} kpps), dropped ${run.stats.dropped}, ` +
      `NIC missed ${run.stats.nicMissed}, host dropped (NIC full) ${run.result.hostDropped}; user space counted ${run.counted}`,
  );
  if (run.counted !== run.stats.delivered) throw new Error('user space did not get every frame the ring delivered');
}

async function compare(traffic: HostTraffic, seconds: number, rate: number, size: number) {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const rates: Record<'ring' | 'zerocopy', number[]> = { ring: [], zerocopy: [] };
  console.log(`compare: ${rate} frames/s of ${size} bytes offered for ${seconds} s, ring and zerocopy in turn, 3 rounds`);
  for (let round = 0; round < 3; round++) {
    for (const mode of ['ring', 'zerocopy'] as const) {
      const run = await captureRun(traffic, mode, { size, count: rate * seconds, rate }, false);
      const kpps = run.stats.delivered / run.seconds / 1000;
      rates[mode].push(kpps);
      console.log(
        `  round ${round + 1} ${mode.padEnd(8)}: delivered ${run.stats.delivered} of ${run.result.sent} ` +
          `(${kpps.toFixed(1)} kpps), host dropped ${run.result.hostDropped}`,
      );
    }
  }
  const ring = median(rates.ring);
  const zc = median(rates.zerocopy);
  console.log(`compare: median delivered ring ${ring.toFixed(1)} kpps, zerocopy ${zc.toFixed(1)} kpps: zerocopy/ring ${(zc / ring).toFixed(2)}x`);
}

const spec: CommandSpec = {
  name: 'npm run vm -- --traffic -- node dist/examples/fastnet-zerocopy.js',
  synopsis: '[MODE [SECONDS [RATE [SIZE]]]]',
  description: [
    'Live capture of frames the host sends into the guest e1000 (vm.sh --traffic).',
    'MODE: zerocopy (default; the NIC writes into the ring), ring (the copy ring),',
    'or compare (both, alternating, on the same host traffic: delivered rates side by side).',
    'SECONDS per run (default 5), RATE in frames per second (default 20000), SIZE in bytes (default 128).',
  ].join('\n'),
  positionals: { min: 0, max: 4 },
};

runCommand(spec, async ({ positionals }) => {
  const [modeText = 'zerocopy', seconds = '5', rate = '20000', size = '128'] = positionals;
  const mode = choiceValue('MODE', modeText, ['zerocopy', 'ring', 'compare'] as const);
  const secs = integerValue('SECONDS', seconds, 1, 3600);
  const pps = integerValue('RATE', rate, 1, 10_000_000);
  const bytes = integerValue('SIZE', size, 60, 1514);
  const traffic = new HostTraffic();
  await setupGuestLink(DEVICE);
  if (mode === 'compare') await compare(traffic, secs, pps, bytes);
  else await show(traffic, mode, secs, pps, bytes);
});
