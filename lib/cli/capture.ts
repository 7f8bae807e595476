// kmodlab capture -i DEV -m METHOD -c COUNT -w FILE [options] [FILTER...]:
// captures frames from a device by any method that hands frames over and
// saves them as a pcap file (nanosecond timestamps) that tcpdump -r and
// tshark -r read. Stops after COUNT frames, after --timeout seconds, or on
// SIGINT/SIGTERM; prints what it wrote and what the method counted lost.
import * as fs from 'node:fs';

import { systemError } from '../errors';
import { METHODS, openCapture, type CaptureMethod, type CaptureOptions } from '../capture';
import { PcapWriter } from '../pcap-file';
import { UsageError, integerOption, parseCommandLine } from './usage';

export const summary = 'capture frames into a pcap file';

const FRAME_METHODS = METHODS.filter((m) => m !== 'fastnet-drop');

export const USAGE = `usage: kmodlab capture -i DEV -w FILE [-m METHOD] [-c COUNT] [options] [FILTER...]
Captures frames received on DEV into FILE (pcap, nanosecond timestamps).
  -i, --interface DEV   the device (in this network namespace)
  -w, --write FILE      the pcap file to write; an existing one only with -f
  -m, --method METHOD   ${FRAME_METHODS.join(', ')} (default pcap)
  -c, --count COUNT     stop after COUNT frames (default: until --timeout or Ctrl-C)
  -s, --snaplen BYTES   bytes kept of each frame (default 65535)
  -B, --buffer-size KIB socket, socket-mmsg, pcap: kernel buffer in KiB (default 2048)
  -t, --timeout SEC     stop after SEC seconds
  -f, --force           overwrite FILE if it exists
  -q, --quiet           no summary line
  -h, --help            this text
FILTER is a tcpdump expression (socket, socket-mmsg, pcap, af_xdp), e.g. udp port 9000.
Exit status: 0 done, 1 capture or file error, 2 usage error.
`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(
    {
      args,
      strict: true,
      allowPositionals: true,
      options: {
        interface: { type: 'string', short: 'i' },
        write: { type: 'string', short: 'w' },
        method: { type: 'string', short: 'm', default: 'pcap' },
        count: { type: 'string', short: 'c' },
        snaplen: { type: 'string', short: 's' },
        'buffer-size': { type: 'string', short: 'B' },
        timeout: { type: 'string', short: 't' },
        force: { type: 'boolean', short: 'f', default: false },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    },
    USAGE,
  );
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const usage = (message: string) => new UsageError(message, USAGE);
  if (!values.interface) throw usage('-i DEV is required');
  if (!values.write) throw usage('-w FILE is required');
  const method = values.method as CaptureMethod;
  if (!(FRAME_METHODS as readonly string[]).includes(method)) {
    throw usage(`-m must be one of ${FRAME_METHODS.join(', ')}, not ${JSON.stringify(values.method)}`);
  }
  const count = values.count === undefined ? Infinity : integerOption('-c', values.count, 1, 2 ** 40, USAGE);
  const timeoutS = values.timeout === undefined ? undefined : integerOption('-t', values.timeout, 1, 86400, USAGE);
  const options: CaptureOptions = {};
  if (values.snaplen !== undefined) options.snapLength = integerOption('-s', values.snaplen, 1, 262144, USAGE);
  if (values['buffer-size'] !== undefined) {
    if (!['socket', 'socket-mmsg', 'pcap'].includes(method)) throw usage(`-B applies to socket, socket-mmsg and pcap, not ${method}`);
    options.bufferSize = integerOption('-B', values['buffer-size'], 4, 1 << 20, USAGE) * 1024;
  }
  if (positionals.length > 0) {
    if (method.startsWith('fastnet-')) throw usage(`a filter applies to socket, socket-mmsg, pcap and af_xdp, not ${method}`);
    options.filter = positionals.join(' ');
  }
  const file = values.write;
  // Checked before the capture opens: an existing file is not touched.
  if (!values.force && fs.existsSync(file)) {
    throw systemError('EEXIST', 'open', file, 'use -f to overwrite it');
  }

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const timer = timeoutS === undefined ? undefined : setTimeout(onSignal, timeoutS * 1000);
  try {
    using capture = openCapture(method, values.interface, options);
    using writer = PcapWriter.open(file, { snapLength: options.snapLength ?? 65535, overwrite: values.force });
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
    return 0;
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
