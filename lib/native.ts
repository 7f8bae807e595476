// Typed view of the C++ addon (native/), built by node-gyp into build/Release.
import * as path from 'node:path';

export interface KshramConstants {
  readonly SLOTS: number;
  readonly DEFAULT_SIZE: number;
  readonly MAX_SIZE: number;
  readonly GETSLOTS: number;
  readonly GETSIZE: number;
  readonly SETSIZE: number;
}

export interface NativeAddon {
  /** ioctl(2); `arg` is passed by value (number, bigint) or by pointer (Buffer). */
  ioctl(fd: number, request: number, arg?: number | bigint | ArrayBufferView, path?: string): number;
  /** mmap(2) with MAP_SHARED; the ArrayBuffer is backed by the mapping itself. */
  mmap(fd: number, length: number, offset: number, writable: boolean, path?: string): ArrayBuffer;
  /** munmap(2) after detaching the ArrayBuffer; false if it was already released. */
  munmap(buffer: ArrayBuffer): boolean;
  /** finit_module(2): loads the module file open at `fd` with `params`. */
  finitModule(fd: number, params: string, path?: string): void;
  /** delete_module(2) with O_NONBLOCK: EBUSY at once while the module is in use. */
  deleteModule(name: string): void;
  readonly pageSize: number;
  readonly kshram: KshramConstants;
}

// dist/native.js and lib/native.ts both sit one level below the package root.
export const native: NativeAddon = require(path.join(__dirname, '..', 'build', 'Release', 'kmodlab.node'));
