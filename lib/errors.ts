// Errors the library adds to the system's own: a call made in the wrong
// state (checked before the system call), and the reason behind a kernel
// refusal where the library knows it.
import * as os from 'node:os';
import * as util from 'node:util';

/** ERR_INVALID_STATE, as Node's own (e.g. a closed stream); `message` names the state and what to do. */
export function invalidState(message: string): Error & { code: 'ERR_INVALID_STATE' } {
  return Object.assign(new Error(message), { code: 'ERR_INVALID_STATE' as const });
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
 * ("ENOSPC: no space left on device, write '/dev/kshram3' (reason)"), for a
 * refusal it makes before the system call where the call would have failed or
 * half-succeeded.
 */
export function systemError(code: string, syscall: string, path: string, reason: string): NodeJS.ErrnoException {
  const errno = -(os.constants.errno as Record<string, number>)[code];
  const description = util.getSystemErrorMap().get(errno)?.[1] ?? code;
  return Object.assign(new Error(`${code}: ${description}, ${syscall} '${path}' (${reason})`), {
    code,
    errno,
    syscall,
    path,
    reason,
  });
}
