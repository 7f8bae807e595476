// openCapture's argument checks, on the host: every mistake is refused
// with Node's error codes before any socket, ring or program exists.
import { spawnSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import * as path from 'node:path';

import { METHODS, OPTION_METHODS, openCapture, type CaptureMethod } from '../../lib/capture';
import { checkOptions } from '../../lib/capture/options';

function errorOf(fn: () => unknown): NodeJS.ErrnoException {
  try {
    fn();
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  throw new Error('no error thrown');
}

test.each([
  ['an unknown method', () => openCapture('tcpdump' as CaptureMethod, 'lo'), 'ERR_INVALID_ARG_VALUE'],
  ['a method that is not a string', () => openCapture(3 as unknown as CaptureMethod, 'lo'), 'ERR_INVALID_ARG_TYPE'],
  ['an empty device name', () => openCapture('socket', ''), 'ERR_INVALID_ARG_VALUE'],
  ['a device name longer than IFNAMSIZ', () => openCapture('pcap', 'a'.repeat(16)), 'ERR_INVALID_ARG_VALUE'],
  ['a device name with a slash', () => openCapture('af_xdp', '../eth0'), 'ERR_INVALID_ARG_VALUE'],
  ['options that are not an object', () => openCapture('socket', 'lo', 7 as never), 'ERR_INVALID_ARG_TYPE'],
  ['an unknown option', () => openCapture('socket', 'lo', { ring: 4 } as never), 'ERR_INVALID_ARG_VALUE'],
  ['batchSize 0', () => openCapture('socket-mmsg', 'lo', { batchSize: 0 }), 'ERR_OUT_OF_RANGE'],
  ['a fractional batchSize', () => openCapture('socket-mmsg', 'lo', { batchSize: 1.5 }), 'ERR_OUT_OF_RANGE'],
  ['a string snapLength', () => openCapture('pcap', 'lo', { snapLength: '96' as never }), 'ERR_INVALID_ARG_TYPE'],
  ['a snapLength over 262144', () => openCapture('pcap', 'lo', { snapLength: 262145 }), 'ERR_OUT_OF_RANGE'],
  ['a tiny bufferSize', () => openCapture('socket', 'lo', { bufferSize: 100 }), 'ERR_OUT_OF_RANGE'],
  ['an af_xdp ring that is not a power of two', () => openCapture('af_xdp', 'lo', { ringSize: 1000 }), 'ERR_OUT_OF_RANGE'],
  ['an af_xdp frame of 8 KiB', () => openCapture('af_xdp', 'lo', { frameSize: 8192 }), 'ERR_OUT_OF_RANGE'],
  ['a fastnet ring of 3 slots', () => openCapture('fastnet-ring', 'lo', { ringSize: 3 }), 'ERR_OUT_OF_RANGE'],
  ['a fastnet-zc ring of 3 slots', () => openCapture('fastnet-zc', 'lo', { ringSize: 3 }), 'ERR_OUT_OF_RANGE'],
  ['a fastnet-zc slot of 1 KiB', () => openCapture('fastnet-zc', 'lo', { frameSize: 1024 }), 'ERR_OUT_OF_RANGE'],
  ['a bad filter for fastnet-zc', () => openCapture('fastnet-zc', 'lo', { filter: 'udp port zero' }), 'ERR_INVALID_ARG_VALUE'],
  ['bufferSize for fastnet-zc', () => openCapture('fastnet-zc', 'lo', { bufferSize: 1 << 20 }), 'ERR_INVALID_ARG_VALUE'],
  ['a pcap timeout of 0', () => openCapture('pcap', 'lo', { timeoutMs: 0 }), 'ERR_OUT_OF_RANGE'],
  ['ringSize for pcap', () => openCapture('pcap', 'lo', { ringSize: 1024 }), 'ERR_INVALID_ARG_VALUE'],
  ['bufferSize for fastnet-ring', () => openCapture('fastnet-ring', 'lo', { bufferSize: 1 << 20 }), 'ERR_INVALID_ARG_VALUE'],
  ['a bad filter for fastnet-read', () => openCapture('fastnet-read', 'lo', { filter: 'tcp[' }), 'ERR_INVALID_ARG_VALUE'],
  ['an empty program', () => openCapture('fastnet-ring', 'lo', { filter: [] }), 'ERR_OUT_OF_RANGE'],
  ['an instruction without k', () => openCapture('fastnet-drop', 'lo', { filter: [{ code: 6, jt: 0, jf: 0 }] as never }), 'ERR_INVALID_ARG_TYPE'],
  ['a jump of 256', () => openCapture('pcap', 'lo', { filter: [{ code: 0x15, jt: 256, jf: 0, k: 0 }] }), 'ERR_OUT_OF_RANGE'],
  ['an instruction that is not an object', () => openCapture('socket', 'lo', { filter: [6] as never }), 'ERR_INVALID_ARG_TYPE'],
  ['snapLength for fastnet-drop', () => openCapture('fastnet-drop', 'lo', { snapLength: 64 }), 'ERR_INVALID_ARG_VALUE'],
  ['a filter that is not a string', () => openCapture('socket', 'lo', { filter: 1 as never }), 'ERR_INVALID_ARG_TYPE'],
  ['batch that is not a boolean', () => openCapture('fastnet-ring', 'lo', { batch: 1 as never }), 'ERR_INVALID_ARG_TYPE'],
  ['batch for fastnet-read', () => openCapture('fastnet-read', 'lo', { batch: true }), 'ERR_INVALID_ARG_VALUE'],
  ['a timeout for fastnet-read', () => openCapture('fastnet-read', 'lo', { timeoutMs: 10 }), 'ERR_INVALID_ARG_VALUE'],
  ['a timeout for an unbatched ring', () => openCapture('fastnet-ring', 'lo', { batch: false, timeoutMs: 10 }), 'ERR_INVALID_ARG_VALUE'],
  ['a fastnet-zc timeout over a minute', () => openCapture('fastnet-zc', 'lo', { timeoutMs: 60_001 }), 'ERR_OUT_OF_RANGE'],
  ['a signal that is not an AbortSignal', () => openCapture('socket', 'lo', { signal: {} as never }), 'ERR_INVALID_ARG_TYPE'],
])('%s: %s', (_name, fn, code) => {
  const error = errorOf(fn);
  expect(error.code).toBe(code);
  expect(error.message).toMatch(/"?\w+"?/);
  expect(Object.prototype.toString.call(error)).toBe('[object Error]');
});

test('a filter libpcap cannot compile: ERR_INVALID_ARG_VALUE with libpcap\'s reason, for every method', () => {
  for (const method of METHODS) {
    const error = errorOf(() => openCapture(method, 'lo', { filter: 'udp port banana' }));
    expect(error.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(error.message).toBe(
      'The "filter" option is not a valid filter expression: unknown port \'banana\'. Received udp port banana',
    );
  }
});

test('a program is checked field by field, naming the field', () => {
  expect(errorOf(() => openCapture('fastnet-ring', 'lo', { filter: [{ code: 6, jt: 0, jf: 0, k: 2 ** 32 }] })).message).toBe(
    'The value of "filter[0].k" is out of range. It must be an integer >= -2147483648 && <= 4294967295. Received 4294967296',
  );
  expect(errorOf(() => openCapture('fastnet-ring', 'lo', { filter: [] })).message).toBe(
    'The value of "filter.length" is out of range. It must be an integer >= 1 && <= 65535 (a program has at least one instruction; null detaches). Received 0',
  );
  // libpcap checks a program it may run in user space (af_xdp) before anything opens.
  const jumpOut = [{ code: 0x15, jt: 5, jf: 0, k: 0 }, { code: 6, jt: 0, jf: 0, k: 0 }];
  expect(errorOf(() => openCapture('af_xdp', 'nosuchdev0', { filter: jumpOut }))).toMatchObject({
    code: 'ERR_INVALID_ARG_VALUE',
    message: 'The "filter" option is not a valid classic BPF program (libpcap\'s bpf_validate)',
  });
});

test('an aborted signal: nothing opens; Node\'s AbortError, the signal\'s reason as its cause', () => {
  const reason = new Error('stop');
  const error = errorOf(() => openCapture('socket', 'lo', { signal: AbortSignal.abort(reason) }));
  expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', message: 'The operation was aborted' });
  expect(error.cause).toBe(reason);
});

// if_nametoindex fails before any socket exists: no privilege needed.
test('an open that fails leaves no listener on its signal: a later abort() is harmless, and one signal serves many', () => {
  const controller = new AbortController();
  for (let i = 0; i < 11; i++) {
    expect(errorOf(() => openCapture('socket', 'nosuchdev0', { signal: controller.signal }))).toMatchObject({ code: 'ENODEV' });
  }
  // 11 would have been over EventTarget's limit of 10 (MaxListenersExceededWarning).
  expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  expect(() => controller.abort()).not.toThrow();
});

// The same, as a user meets it: the abort after a failed open used to throw
// a TypeError from the listener (closing a capture that never opened), which
// ended the process as an uncaught exception. Run on the built library.
test('abort() after a failed open: the process goes on', () => {
  const script = `
    const { openCapture } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'capture'))});
    const controller = new AbortController();
    try {
      openCapture('socket', 'nosuchdev0', { signal: controller.signal });
    } catch (error) {
      console.log(error.code);
    }
    controller.abort();
    setTimeout(() => console.log('alive'), 50);
  `;
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: 'ENODEV\nalive\n', stderr: '' });
});

test('every option names only methods that exist, and every method takes batchSize', () => {
  for (const methods of Object.values(OPTION_METHODS)) {
    expect(methods.filter((m) => !METHODS.includes(m))).toEqual([]);
  }
  expect(OPTION_METHODS.batchSize).toEqual(METHODS);
});

test('fastnet-zc: a method like fastnet-ring, on the zerocopy mode, with the ring options', async () => {
  const { FASTNET_MODES } = await import('../../lib/capture');
  expect(METHODS).toContain('fastnet-zc');
  expect(FASTNET_MODES['fastnet-zc']).toBe('zerocopy');
  expect(OPTION_METHODS.ringSize).toContain('fastnet-zc');
  expect(OPTION_METHODS.frameSize).toContain('fastnet-zc');
  expect(OPTION_METHODS.filter).toContain('fastnet-zc');
});

test('every method takes a filter, an expression or a program', () => {
  expect(OPTION_METHODS.filter).toEqual(METHODS);
  const program = [{ code: 6, jt: 0, jf: 0, k: 96 }];
  expect(checkOptions('fastnet-zc', { filter: program }).filter).toBe(program);
  expect(checkOptions('fastnet-drop', { filter: 'udp' }).filter).toBe('udp');
});

test('fastnet-ring and fastnet-zc wait for frames a batch at a time unless told batch: false', () => {
  expect(OPTION_METHODS.batch).toEqual(['fastnet-ring', 'fastnet-zc']);
  expect(checkOptions('fastnet-ring', {}).batch).toBe(true);
  expect(checkOptions('fastnet-ring', { batch: false }).batch).toBe(false);
  expect(checkOptions('fastnet-zc', {}).batch).toBe(true);
  expect(checkOptions('fastnet-zc', { batch: false }).batch).toBe(false);
  expect(checkOptions('pcap', {}).batch).toBeUndefined();
  // timeoutMs: pcap's block timeout, the fastnet rings' batch delay (bindRequest packs it in microseconds).
  expect(checkOptions('fastnet-zc', { timeoutMs: 100 })).toMatchObject({ batch: true, timeoutMs: 100 });
  expect(checkOptions('fastnet-ring', {}).timeoutMs).toBeUndefined();
});

test("the messages are Node's own wording, naming the argument and what it must be", () => {
  expect(errorOf(() => openCapture('tcpdump' as CaptureMethod, 'lo')).message).toBe(
    `The argument 'method' must be one of: ${METHODS.map((m) => `'${m}'`).join(', ')}. Received 'tcpdump'`,
  );
  expect(errorOf(() => openCapture('pcap', 'lo', { snapLength: '96' as never })).message).toBe(
    `The "snapLength" argument must be of type number. Received type string ('96')`,
  );
  expect(errorOf(() => openCapture('af_xdp', 'lo', { ringSize: 1000 })).message).toBe(
    'The value of "ringSize" is out of range. It must be a power of two >= 64 && <= 65536. Received 1000',
  );
  expect(errorOf(() => openCapture('socket', 'lo', { bufferSize: 100 })).message).toBe(
    'The value of "bufferSize" is out of range. It must be an integer >= 4096 && <= 1073741824. Received 100',
  );
  expect(errorOf(() => openCapture('fastnet-ring', 'lo', { bufferSize: 1 << 20 })).message).toBe(
    "The argument 'bufferSize' applies to socket, socket-mmsg, pcap, not fastnet-ring. Received 1048576",
  );
  expect(errorOf(() => openCapture('socket', 'lo', { signal: {} as never })).message).toBe(
    'The "signal" argument must be an instance of AbortSignal. Received an instance of Object',
  );
});

test('pass: true for the methods that leave frames to the stack; false refused where it cannot be; af_xdp and fastnet-drop refuse it', () => {
  expect(OPTION_METHODS.pass).toEqual(['socket', 'socket-mmsg', 'pcap', 'fastnet-read', 'fastnet-ring', 'fastnet-zc']);
  expect(checkOptions('fastnet-zc', { pass: true }).pass).toBe(true);
  expect(checkOptions('fastnet-ring', { pass: false }).pass).toBe(false);
  expect(checkOptions('pcap', { pass: true }).pass).toBe(true);
  expect(checkOptions('pcap', {}).pass).toBeUndefined();
  expect(() => checkOptions('socket', { pass: false })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('always go on to the stack') }),
  );
  for (const method of ['af_xdp', 'fastnet-drop'] as const) {
    expect(() => checkOptions(method, { pass: true })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  }
  expect(() => checkOptions('fastnet-zc', { pass: 1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
});
