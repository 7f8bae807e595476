// lib/errors.ts, the one module for argument checks and the errors the
// library makes itself: each error is compared with the one Node's own API
// throws for the same mistake (message, code, class), so the library speaks
// exactly as Node does.
import * as dns from 'node:dns';
import * as events from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {
  checkAbortSignal,
  checkBoolean,
  checkDeviceName,
  checkInteger,
  checkObject,
  checkOneOf,
  checkPowerOfTwo,
  checkString,
  invalidArgType,
  invalidArgValue,
  invalidState,
  outOfRange,
  systemError,
} from '../../lib/errors';

/** What `fn` throws. */
function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('nothing thrown');
}

/** The parts of an error that say what it is. */
const shape = (error: Error & { code?: string }) => ({ name: error.name, code: error.code, message: error.message });

describe('the same errors as Node throws', () => {
  test.each([
    ['a type', () => invalidArgType('size', 'number', 'x'), () => Buffer.alloc('x' as never)],
    [
      'a type or classes',
      () => invalidArgType('buffer', ['string', 'Buffer', 'TypedArray', 'DataView'], 5),
      () => fs.writeSync(1, 5 as never),
    ],
    ['a class', () => invalidArgType('signal', 'AbortSignal', {}), () => events.addAbortListener({} as never, () => undefined)],
    ['null', () => invalidArgType('prefix', ['string', 'Buffer', 'URL'], null), () => fs.mkdtempSync(null as never)],
    ['a boolean property', () => invalidArgType('options.verbatim', 'boolean', 'x'), () => dns.lookup('localhost', { verbatim: 'x' as never }, () => undefined)],
    ['a range', () => outOfRange('start', '>= 0 && <= 9007199254740991', -1), () => fs.createReadStream('/nonexistent', { start: -1 })],
    ['a large number, grouped', () => outOfRange('offset', '>= 0 and <= 0', 2 ** 33), () => Buffer.alloc(1).readUInt8(2 ** 33)],
    ['a value', () => invalidArgValue('mode', 'abc', 'must be a 32-bit unsigned integer or an octal string'), () => fs.openSync('/nonexistent', 'r', 'abc')],
    ['one of a list', () => thrown(() => checkOneOf('options.order', 'x', ['verbatim', 'ipv4first', 'ipv6first'])), () => dns.lookup('localhost', { order: 'x' as never }, () => undefined)],
  ] as const)('%s', (_what, ours, nodes) => {
    expect(shape(ours())).toEqual(shape(thrown(nodes)));
  });

  test('a state: "Invalid state: ..." with code ERR_INVALID_STATE', () => {
    const stream = new ReadableStream();
    stream.getReader();
    const node = thrown(() => stream.getReader());
    const ours = invalidState('ReadableStream is locked');
    expect({ code: ours.code, message: ours.message }).toEqual({ code: node.code, message: node.message });
  });

  test('a system error: code, negative errno, syscall, path and message as fs makes them; the reason after', () => {
    const file = path.join(os.tmpdir(), `kmodlab-errors-${process.pid}`);
    fs.writeFileSync(file, '');
    try {
      const node = thrown(() => fs.openSync(file, 'wx')) as NodeJS.ErrnoException;
      const ours = systemError('EEXIST', 'open', file);
      expect({ ...ours, message: ours.message }).toEqual({
        code: node.code,
        errno: node.errno,
        syscall: node.syscall,
        path: node.path,
        message: node.message,
      });
      const why = systemError('EEXIST', 'open', file, 'use -f to overwrite it');
      expect(why).toMatchObject({ code: 'EEXIST', errno: -17, reason: 'use -f to overwrite it', message: `${node.message} (use -f to overwrite it)` });
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});

describe('checks', () => {
  test('checkInteger: a number, an integer, in range; the range named as Node does', () => {
    expect(checkInteger('slots', 64, 2, 65536)).toBe(64);
    expect(shape(thrown(() => checkInteger('slots', 'x', 2, 65536)))).toEqual({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
      message: `The "slots" argument must be of type number. Received type string ('x')`,
    });
    expect(shape(thrown(() => checkInteger('slots', 70000, 2, 65536)))).toEqual({
      name: 'RangeError',
      code: 'ERR_OUT_OF_RANGE',
      message: 'The value of "slots" is out of range. It must be an integer >= 2 && <= 65536. Received 70000',
    });
    expect(thrown(() => checkInteger('slots', 2.5, 2, 65536)).message).toMatch(/Received 2\.5$/);
    expect(thrown(() => checkInteger('slots', NaN, 2, 65536)).message).toMatch(/Received NaN$/);
    // No bound given: any safe integer, and the message says only that.
    expect(checkInteger('bytes', -5)).toBe(-5);
    expect(thrown(() => checkInteger('bytes', 1.5)).message).toBe('The value of "bytes" is out of range. It must be an integer. Received 1.5');
    expect(thrown(() => checkInteger('position', -1, 0)).message).toBe(
      'The value of "position" is out of range. It must be an integer >= 0. Received -1',
    );
  });

  test('checkPowerOfTwo', () => {
    expect(checkPowerOfTwo('slots', 1024, 2, 65536)).toBe(1024);
    expect(shape(thrown(() => checkPowerOfTwo('slots', 3, 2, 65536)))).toEqual({
      name: 'RangeError',
      code: 'ERR_OUT_OF_RANGE',
      message: 'The value of "slots" is out of range. It must be a power of two >= 2 && <= 65536. Received 3',
    });
    expect(thrown(() => checkPowerOfTwo('slots', 1 << 17, 2, 65536)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => checkPowerOfTwo('slots', '64', 2, 65536)).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  test('checkBoolean, checkString, checkObject, checkAbortSignal', () => {
    expect(checkBoolean('batch', false)).toBe(false);
    expect(thrown(() => checkBoolean('batch', 1)).message).toBe('The "batch" argument must be of type boolean. Received type number (1)');
    expect(checkString('filter', 'udp')).toBe('udp');
    expect(thrown(() => checkString('filter', undefined)).message).toBe('The "filter" argument must be of type string. Received undefined');
    expect(checkObject('options', {})).toEqual({});
    expect(thrown(() => checkObject('options', null)).message).toBe('The "options" argument must be of type object. Received null');
    const signal = new AbortController().signal;
    expect(checkAbortSignal('signal', signal)).toBe(signal);
    expect(thrown(() => checkAbortSignal('signal', {})).message).toBe(
      'The "signal" argument must be an instance of AbortSignal. Received an instance of Object',
    );
  });

  test('checkOneOf: strings quoted, numbers bare', () => {
    expect(checkOneOf('mode', 2, ['read', 2])).toBe(2);
    expect(shape(thrown(() => checkOneOf('mode', 'sniff', ['read', 'ring', 2])))).toEqual({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
      message: "The argument 'mode' must be one of: 'read', 'ring', 2. Received 'sniff'",
    });
  });

  test('checkDeviceName: the kernel\'s rule (dev_valid_name), in bytes', () => {
    expect(checkDeviceName('device', 'a23456789012345')).toBe('a23456789012345');
    for (const bad of ['', 'a234567890123456', 'ééééééééé', 'bad\0name', '../eth0', 'eth0:1', 'eth 0', '.', '..']) {
      expect(shape(thrown(() => checkDeviceName('device', bad)))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    }
    expect(thrown(() => checkDeviceName('device', 'a234567890123456')).message).toBe(
      `The argument 'device' must be a device name of 1 to 15 bytes, without "/", ":" or white space. Received 'a234567890123456'`,
    );
    expect(thrown(() => checkDeviceName('device', 7)).code).toBe('ERR_INVALID_ARG_TYPE');
  });
});
