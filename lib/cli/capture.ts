// kmodlab capture -i DEV -m METHOD -c COUNT -w FILE [options] [FILTER...]:
// captures frames from a device by any method that hands frames over and
// saves them as a pcap file (nanosecond timestamps) that tcpdump -r and
// tshark -r read. Stops after COUNT frames, after --timeout seconds, or on
// SIGINT/SIGTERM; prints what it wrote and what the method counted lost.
import * as fs from 'node:fs';

import { systemError } from '../errors';
import { DEFAULTS, METHODS, OPTION_METHODS, openCapture, type CaptureOptions } from '../capture';
import { PcapWriter } from '../pcap-file';
import { type CommandSpec, type ParsedCommandLine, UsageError, execute } from './args';

const FRAME_METHODS = METHODS.filter((m) => m !== 'fastnet-drop');

export const spec = {
  name: 'kmodlab capture',
  synopsis: '-i DEV -w FILE [-m METHOD] [-c COUNT] [-p] [options] [FILTER...]',
  description: 'Captures frames received on DEV into FILE (pcap, nanosecond timestamps).',
  options: {
    interface: { type: 'string', short: 'i', value: 'DEV', required: true, help: 'the device (in this network namespace)' },
    write: { type: 'string', short: 'w', value: 'FILE', required: true, help: 'the pcap file to write; an existing one only with -f' },
    method: { type: 'string', short: 'm', value: 'METHOD', choices: FRAME_METHODS, default: 'pcap', help: FRAME_METHODS.join(', ') },
    count: { type: 'integer', short: 'c', value: 'COUNT', min: 1, max: 2 ** 40, help: 'stop after COUNT frames (default: until --timeout or Ctrl-C)' },
    snaplen: { type: 'integer', short: 's', value: 'BYTES', min: 1, max: 262144, default: DEFAULTS.snapLength, help: 'bytes kept of each frame' },
    'buffer-size': {
      type: 'integer',
      short: 'B',
      value: 'KIB',
      min: 4,
      max: 1 << 20,
      help: `${OPTION_METHODS.bufferSize.join(', ')}: kernel buffer in KiB (default ${DEFAULTS.bufferSize >> 10})`,
    },
    timeout: { type: 'integer', short: 't', value: 'SEC', min: 1, max: 86400, help: 'stop after SEC seconds' },
    force: { type: 'boolean', short: 'f', help: 'overwrite FILE if it exists' },
    pass: {
      type: 'boolean',
      short: 'p',
      help: `leave the frames to DEV's own stack too (${OPTION_METHODS.pass.join(', ')});
fastnet-zc: those FILTER rejects, so ARP and ping keep working`,
    },
    quiet: { type: 'boolean', short: 'q', help: 'no summary line' },
  },
  positionals: { min: 0, max: Infinity },
  epilog: [
    'FILTER is a tcpdump expression, e.g. udp port 9000: every method filters in the kernel (af_xdp in user space).',
    "af_xdp, fastnet-read, fastnet-ring and fastnet-zc take every frame from DEV's stack, filtered or not:",
    "the guest's ARP and ping fail meanwhile (zero-copy also restarts the NIC, which empties its ARP cache).",
    '--pass keeps them working: fastnet-read and -ring copy every frame on to the stack, fastnet-zc the ones',
    "FILTER rejects (e.g. -m fastnet-zc --pass 'udp port 9'); socket, socket-mmsg and pcap never take any.",
    'Exit status: 0 done, 1 capture or file error, 2 usage error.',
  ].join('\n'),
} satisfies CommandSpec;

/** `kmodlab capture ARGS`: resolves with the exit status. */
export function run(argv: string[]): Promise<number> {
  return execute(spec, main, argv);
}

async function main({ values, positionals }: ParsedCommandLine<typeof spec>): Promise<void> {
  const { method } = values;
  const options: CaptureOptions = { snapLength: values.snaplen };
  if (values['buffer-size'] !== undefined) {
    if (!OPTION_METHODS.bufferSize.includes(method)) {
      throw new UsageError(`--buffer-size applies to ${OPTION_METHODS.bufferSize.join(', ')} only, not ${method}`);
    }
    options.bufferSize = values['buffer-size'] * 1024;
  }
  // Every frame method takes one (OPTION_METHODS.filter); a bad expression is libpcap's error.
  if (positionals.length > 0) options.filter = positionals.join(' ');
  if (values.pass) {
    if (!OPTION_METHODS.pass.includes(method)) {
      throw new UsageError(`--pass applies to ${OPTION_METHODS.pass.join(', ')}, not ${method}: it takes every frame from the stack`);
    }
    options.pass = true;
  }
  const count = values.count ?? Infinity;
  const file = values.write;
  // Checked before the capture opens: an existing file is not touched.
  if (!values.force && fs.existsSync(file)) {
    throw systemError('EEXIST', 'open', file, 'use -f to overwrite it');
  }

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const timer = values.timeout === undefined ? undefined : setTimeout(onSignal, values.timeout * 1000);
  try {
    using capture = openCapture(method, values.interface, options);
    using writer = PcapWriter.open(file, { snapLength: values.snaplen, overwrite: values.force });
    // tcpdump says this too; scripts wait for it before they send.
    process.stderr.write(`kmodlab capture: listening on ${values.interface} (${method}), writing ${file}\n`);
    for await (const batch of capture.batches({ signal: stop.signal })) {
      for (const packet of batch) {
        writer.write(packet);
        if (writer.frames >= count) break;
      }
      if (writer.frames >= count) break;
    }
    writer.flush();
    const { dropped } = capture.stats();
    if (!values.quiet) {
      process.stderr.write(`${writer.frames} frames written to ${file}; ${dropped} dropped (counted by ${method})\n`);
    }
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
