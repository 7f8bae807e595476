// Whether the guest runs the debug kernel (lockdep, KASAN, kmemleak; qemu/debug-kernel.sh names it
// *-kmodlab-debug). There every kernel path a file reaches still runs, but loops that repeat one
// path many times run fewer rounds: each costs about 3x as much, and kmemleak finds a single
// leaked object where Debian's kernel needs hundreds to show in the slab counts.
import * as os from 'node:os';

export const DEBUG_KERNEL = os.release().includes('kmodlab-debug');

/** `debian` rounds on Debian's kernel, `debug` on the debug kernel. */
export function rounds(debian: number, debug: number): number {
  return DEBUG_KERNEL ? debug : debian;
}

/**
 * A test of what only user space does with a path other tests take through the kernel (a CLI's
 * output, a report, a signal handler in the event loop): it runs on Debian's kernel alone.
 */
export const userSpaceTest = DEBUG_KERNEL ? test.skip : test;
