// A shared mapping of a device file, released explicitly (close() or `using`)
// rather than whenever the garbage collector gets to it.
import { native } from './native';

export class Mapping implements Disposable {
  /** The mapped bytes; empty (length 0) once the mapping is closed. */
  readonly buffer: Buffer;
  readonly length: number;
  readonly #arrayBuffer: ArrayBuffer;

  /** Maps `length` bytes of `fd` from byte `offset` (default 0), writable unless `writable` is false; `path` labels errors. */
  constructor(fd: number, length: number, options: { offset?: number; writable?: boolean; path?: string } = {}) {
    this.#arrayBuffer = native.mmap(fd, length, options.offset ?? 0, options.writable ?? true, options.path);
    this.buffer = Buffer.from(this.#arrayBuffer);
    this.length = length;
  }

  get closed(): boolean {
    return this.#arrayBuffer.byteLength === 0;
  }

  /** Unmaps now; every view of the mapping becomes empty. Safe to call twice. */
  close(): void {
    native.munmap(this.#arrayBuffer);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
