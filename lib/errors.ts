// The library's one module for argument checks and the errors it makes
// itself, all shaped and worded as Node's own: ERR_INVALID_ARG_TYPE,
// ERR_INVALID_ARG_VALUE and ERR_OUT_OF_RANGE for a bad argument (checked
// before any system call), ERR_INVALID_STATE for a call made in the wrong
// state, ABORT_ERR, system errors (code, negative errno, syscall, path) the
// library raises for the kernel, and the reason behind a kernel refusal
// where the library knows it.
import * as os from 'node:os';
import * as util from 'node:util';

export type InvalidArgTypeError = TypeError & { code: 'ERR_INVALID_ARG_TYPE' };
export type InvalidArgValueError = TypeError & { code: 'ERR_INVALID_ARG_VALUE' };
export type OutOfRangeError = RangeError & { code: 'ERR_OUT_OF_RANGE' };

/** "argument", or "property" for a dotted name ("options.signal"), as Node says it. */
function kind(name: string): string {
  return name.includes('.') ? 'property' : 'argument';
}

/** Node's "Received ..." of ERR_INVALID_ARG_TYPE (its determineSpecificType). */
function describeReceived(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'function') return `function ${value.name}`;
  if (typeof value === 'object') {
    const constructorName = (value as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof constructorName === 'string' && constructorName) return `an instance of ${constructorName}`;
    return util.inspect(value, { depth: -1 });
  }
  let inspected = util.inspect(value, { colors: false });
  if (inspected.length > 28) inspected = `${inspected.slice(0, 25)}...`;
  return `type ${typeof value} (${inspected})`;
}

/** "a, b, or c" / "a or b" / "a". */
function listOr(items: readonly string[]): string {
  if (items.length > 2) return `${items.slice(0, -1).join(', ')}, or ${items.at(-1)}`;
  return items.join(' or ');
}

const TYPE_NAMES = new Set(['string', 'function', 'number', 'object', 'boolean', 'bigint', 'symbol']);

/**
 * TypeError ERR_INVALID_ARG_TYPE, worded as Node's: `expected` lists type
 * names (number, string...) and class names (Uint8Array, AbortSignal...).
 * `The "size" argument must be of type number. Received type string ('x')`.
 */
export function invalidArgType(name: string, expected: string | readonly string[], actual: unknown): InvalidArgTypeError {
  const all = typeof expected === 'string' ? [expected] : expected;
  const types = all.filter((e) => TYPE_NAMES.has(e));
  const instances = all.filter((e) => !TYPE_NAMES.has(e));
  const parts: string[] = [];
  if (types.length > 0) parts.push(types.length === 1 ? `of type ${types[0]}` : `one of type ${listOr(types)}`);
  if (instances.length > 0) parts.push(`an instance of ${listOr(instances)}`);
  const message = `The "${name}" ${kind(name)} must be ${parts.join(' or ')}. Received ${describeReceived(actual)}`;
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_TYPE' as const });
}

/**
 * TypeError ERR_INVALID_ARG_VALUE, worded as Node's:
 * `The argument 'method' must be one of: 'socket', 'pcap'. Received 'tcpdump'`.
 */
export function invalidArgValue(name: string, value: unknown, reason = 'is invalid'): InvalidArgValueError {
  let inspected = util.inspect(value);
  if (inspected.length > 128) inspected = `${inspected.slice(0, 128)}...`;
  const message = `The ${kind(name)} '${name}' ${reason}. Received ${inspected}`;
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' as const });
}

/** Node's digit grouping for large integers in "Received": 4_294_967_296. */
function groupDigits(text: string): string {
  let grouped = '';
  let i = text.length;
  const start = text[0] === '-' ? 1 : 0;
  for (; i >= start + 4; i -= 3) grouped = `_${text.slice(i - 3, i)}${grouped}`;
  return `${text.slice(0, i)}${grouped}`;
}

/**
 * RangeError ERR_OUT_OF_RANGE, worded as Node's: `range` is what the value
 * must be ("an integer >= 2 && <= 65536").
 * `The value of "slots" is out of range. It must be an integer >= 2 && <= 65536. Received 70000`.
 */
export function outOfRange(name: string, range: string, received: unknown): OutOfRangeError {
  const shown =
    typeof received === 'number' && Number.isInteger(received) && Math.abs(received) > 2 ** 32
      ? groupDigits(String(received))
      : util.inspect(received);
  const message = `The value of "${name}" is out of range. It must be ${range}. Received ${shown}`;
  return Object.assign(new RangeError(message), { code: 'ERR_OUT_OF_RANGE' as const });
}

/** ">= min && <= max", leaving out a bound that is the safe-integer limit. */
function bounds(min: number, max: number): string {
  const parts: string[] = [];
  if (min > Number.MIN_SAFE_INTEGER) parts.push(`>= ${min}`);
  if (max < Number.MAX_SAFE_INTEGER) parts.push(`<= ${max}`);
  return parts.join(' && ');
}

/**
 * An integer from `min` to `max` (default: any safe integer): else TypeError
 * ERR_INVALID_ARG_TYPE for a non-number, RangeError ERR_OUT_OF_RANGE for
 * anything else outside. Returns it.
 */
export function checkInteger(
  name: string,
  value: unknown,
  min = Number.MIN_SAFE_INTEGER,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'number', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw outOfRange(name, ['an integer', bounds(min, max)].filter(Boolean).join(' '), value);
  }
  return value;
}

/** A power of two from `min` to `max`, as checkInteger() checks it otherwise. Returns it. */
export function checkPowerOfTwo(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'number', value);
  if (!Number.isInteger(value) || value < min || value > max || (value & (value - 1)) !== 0) {
    throw outOfRange(name, `a power of two ${bounds(min, max)}`, value);
  }
  return value;
}

/** A boolean, else TypeError ERR_INVALID_ARG_TYPE. Returns it. */
export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'boolean', value);
  return value;
}

/** A string, else TypeError ERR_INVALID_ARG_TYPE. Returns it. */
export function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'string', value);
  return value;
}

/** An object (not null), else TypeError ERR_INVALID_ARG_TYPE. Returns it. */
export function checkObject(name: string, value: unknown): object {
  if (typeof value !== 'object' || value === null) throw invalidArgType(name, 'object', value);
  return value;
}

/** An AbortSignal, else TypeError ERR_INVALID_ARG_TYPE. Returns it. */
export function checkAbortSignal(name: string, value: unknown): AbortSignal {
  if (!(value instanceof AbortSignal)) throw invalidArgType(name, 'AbortSignal', value);
  return value;
}

/**
 * One of `allowed`, else TypeError ERR_INVALID_ARG_VALUE listing them, as
 * Node's validateOneOf: `The argument 'mode' must be one of: 'read', 'ring'. Received 'x'`.
 */
export function checkOneOf<T extends string | number>(name: string, value: unknown, allowed: readonly T[]): T {
  if (!(allowed as readonly unknown[]).includes(value)) {
    const list = allowed.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(', ');
    throw invalidArgValue(name, value, `must be one of: ${list}`);
  }
  return value as T;
}

/**
 * A network device name as the kernel takes it (dev_valid_name): 1 to 15
 * bytes (IFNAMSIZ - 1), not "." or "..", no NUL, slash, colon or white space.
 * Else ERR_INVALID_ARG_TYPE or ERR_INVALID_ARG_VALUE. Returns it.
 */
export function checkDeviceName(name: string, value: unknown): string {
  const device = checkString(name, value);
  const bytes = Buffer.byteLength(device);
  if (bytes === 0 || bytes > 15 || device === '.' || device === '..' || /[\0/:\s]/.test(device)) {
    throw invalidArgValue(name, device, 'must be a device name of 1 to 15 bytes, without "/", ":" or white space');
  }
  return device;
}

/** Error ERR_INVALID_STATE, worded as Node's ("Invalid state: ..."); `message` names the state and what to do. */
export function invalidState(message: string): Error & { code: 'ERR_INVALID_STATE' } {
  return Object.assign(new Error(`Invalid state: ${message}`), { code: 'ERR_INVALID_STATE' as const });
}

/**
 * Node's AbortError, as its own APIs throw it for a signal that had aborted
 * before the call (name AbortError, code ABORT_ERR); `cause` is the signal's reason.
 */
export function abortError(reason: unknown): Error & { code: 'ABORT_ERR' } {
  const error = new Error('The operation was aborted', { cause: reason });
  error.name = 'AbortError';
  return Object.assign(error, { code: 'ABORT_ERR' as const });
}

/**
 * Appends why to a system error's message ("EBUSY: resource busy or locked,
 * ioctl '/dev/kshram5' (slot 5 is mapped: ...)"), keeping its code, errno,
 * syscall and path; `reason` also holds it alone. Returns the same error.
 */
export function withReason<E>(error: E, reason: string): E {
  // isNativeError, not instanceof: errors from the addon or fs may come from another realm (jest's sandbox).
  if (util.types.isNativeError(error)) {
    error.message += ` (${reason})`;
    Object.assign(error, { reason });
  }
  return error;
}

/** The errno code of a system error (EBUSY...), or undefined for anything else. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && typeof (error as NodeJS.ErrnoException).errno === 'number' ? code : undefined;
}

/**
 * A system error the library raises itself, shaped as Node's own
 * ("ENOSPC: no space left on device, write '/dev/kshram3' (reason)", with
 * code, negative errno, syscall, path and reason): for a refusal it makes
 * before the system call where the call would have failed or
 * half-succeeded, or for an error the kernel reported without a call that
 * returns it (poll()'s POLLERR).
 */
export function systemError(code: string, syscall: string, path: string, reason?: string): NodeJS.ErrnoException {
  const errno = -(os.constants.errno as Record<string, number>)[code];
  const description = util.getSystemErrorMap().get(errno)?.[1] ?? code;
  const message = `${code}: ${description}, ${syscall} '${path}'${reason === undefined ? '' : ` (${reason})`}`;
  return Object.assign(new Error(message), { code, errno, syscall, path, ...(reason === undefined ? {} : { reason }) });
}
