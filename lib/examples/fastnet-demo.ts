// fastnet at work (inside the VM, as root): pktgen floods a veth device's
// receive path while a fastnet session in ring mode takes the frames, and
// the live counts are printed twice a second. Cleans up after itself.
import * as fastnet from '../fastnet';
import { VethPair, pktgenReset, pktgenRunAsync, pktgenSetup, pktgenSent, pktgenStop } from '../traffic';
import { type CommandSpec, runCommand } from '../cli/args';

const DEVICE = 'fndemo0';
const SECONDS = 6;

function describeFrame(packet: fastnet.Packet): string {
  const d = packet.data;
  const mac = (offset: number) => [...d.subarray(offset, offset + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
  const ip = (offset: number) => [...d.subarray(offset, offset + 4)].join('.');
  return (
    `${mac(6)} > ${mac(0)} type 0x${d.readUInt16BE(12).toString(16).padStart(4, '0')} ` +
    `${ip(26)}:${d.readUInt16BE(34)} > ${ip(30)}:${d.readUInt16BE(36)} ` +
    `${packet.originalLength} bytes, pktgen seq ${d.readUInt32BE(46)}`
  );
}

async function main(): Promise<void> {
  using veth = new VethPair(DEVICE, 'fndemo1', { address: '10.99.0.2/24' });
  using session = fastnet.open().bind(DEVICE, 'ring', { slots: 8192 });
  const { ring } = session;
  console.log(`fastnet: ${DEVICE} bound in ring mode: ${ring.slots} slots of ${ring.slotSize} bytes, zone ${ring.zoneSize >> 10} KiB mapped`);
  const traffic = { device: DEVICE, dstMac: veth.mac, src: '10.99.0.1', dst: '10.99.0.2', size: 64 };

  // A few frames, copied out and decoded.
  pktgenSetup({ ...traffic, count: 3 });
  await pktgenRunAsync();
  const sentFirst = pktgenSent(DEVICE);
  const first = ring.drain();
  for (const packet of first) console.log(`  ${describeFrame(packet)}`);

  // Then a flood, counted in place in the ring: no copy, no JavaScript per frame.
  pktgenSetup({ ...traffic, count: 0 });
  const flood = pktgenRunAsync();
  const total = { packets: first.count, bytes: first.bytes, ipv4: first.countIPv4() };
  const started = Date.now();
  let last = { at: started, packets: 0 };
  const report = setInterval(() => {
    const now = Date.now();
    const pps = ((total.packets - last.packets) * 1000) / (now - last.at);
    const stats = session.stats();
    console.log(
      `  t=${((now - started) / 1000).toFixed(1)}s ring: ${total.packets} frames (${total.ipv4} IPv4), ` +
        `${(pps / 1000).toFixed(1)} kpps, pending ${ring.state().pending}, dropped ${stats.dropped}`,
    );
    last = { at: now, packets: total.packets };
  }, 500);
  while (Date.now() - started < SECONDS * 1000) {
    await session.waitAsync(100);
    const counts = ring.count(ring.slots, { countIPv4: true });
    total.packets += counts.packets;
    total.bytes += counts.bytes;
    total.ipv4 += counts.ipv4;
  }
  pktgenStop();
  await flood;
  clearInterval(report);
  const rest = ring.count(ring.slots, { countIPv4: true });
  total.packets += rest.packets;
  total.ipv4 += rest.ipv4;

  const stats = session.stats();
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `fastnet: pktgen injected ${sentFirst + pktgenSent(DEVICE)} frames; the handler saw ${stats.received}, ` +
      `the ring delivered ${stats.delivered} (${(stats.delivered / seconds / 1000).toFixed(1)} kpps), dropped ${stats.dropped}; ` +
      `user space counted ${total.packets} (${total.ipv4} IPv4)`,
  );
  pktgenReset();
  if (total.packets !== stats.delivered) throw new Error('user space did not get every frame the ring delivered');
}

const spec: CommandSpec = {
  name: 'node dist/examples/fastnet-demo.js',
  synopsis: '',
  description: 'fastnet at work: pktgen floods a veth device while a ring-mode session counts the frames (about 8 s).',
};

runCommand(spec, main);
