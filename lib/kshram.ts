// kshram: eight kernel shared-memory slots, /dev/kshram0../dev/kshram7.
import * as fs from 'node:fs';

import { Mapping } from './mapping';
import { native } from './native';

const ioc = native.kshram;

export const SLOT_COUNT = ioc.SLOTS;
export const DEFAULT_SLOT_SIZE = ioc.DEFAULT_SIZE;
export const MAX_SLOT_SIZE = ioc.MAX_SIZE;
export const PROC_PATH = '/proc/kshram';

export function slotPath(index: number): string {
  return `/dev/kshram${index}`;
}

/** An open slot device. Close it (or `using`) when done; mappings outlive it. */
export class KshramSlot implements Disposable {
  readonly index: number;
  readonly path: string;
  #fd: number;

  constructor(index: number) {
    if (!Number.isInteger(index) || index < 0 || index >= SLOT_COUNT) {
      throw new RangeError(`kshram slot must be an integer from 0 to ${SLOT_COUNT - 1}, got ${index}`);
    }
    this.index = index;
    this.path = slotPath(index);
    this.#fd = fs.openSync(this.path, 'r+');
  }

  get fd(): number {
    if (this.#fd < 0) throw Object.assign(new Error(`kshram slot ${this.index} is closed`), { code: 'ERR_CLOSED' });
    return this.#fd;
  }

  /** KSHRAM_GETSLOTS: how many slots the module has. */
  slotCount(): number {
    return native.ioctl(this.fd, ioc.GETSLOTS, 0, this.path);
  }

  /** KSHRAM_GETSIZE: the slot's size in bytes. */
  get size(): number {
    return native.ioctl(this.fd, ioc.GETSIZE, 0, this.path);
  }

  /** KSHRAM_SETSIZE: keeps the first min(old, new) bytes, zero-fills the rest. EBUSY while mapped. */
  resize(bytes: number): void {
    native.ioctl(this.fd, ioc.SETSIZE, bytes, this.path);
  }

  /** Maps the whole slot (or `length` bytes) shared: writes are seen by every process at once. */
  map(length: number = this.size): Mapping {
    return new Mapping(this.fd, length, { path: this.path });
  }

  /** Reads the slot like a file (pread from `position`). */
  read(length: number = this.size, position = 0): Buffer {
    const buffer = Buffer.alloc(length);
    const n = fs.readSync(this.fd, buffer, 0, length, position);
    return buffer.subarray(0, n);
  }

  /** Writes like a file (pwrite at `position`); ENOSPC past the slot's end. */
  write(data: Uint8Array | string, position = 0): number {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    return fs.writeSync(this.fd, bytes, 0, bytes.length, position);
  }

  close(): void {
    if (this.#fd >= 0) {
      fs.closeSync(this.#fd);
      this.#fd = -1;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export function openSlot(index: number): KshramSlot {
  return new KshramSlot(index);
}

export interface SlotInfo {
  slot: number;
  size: number;
}

/** Parses /proc/kshram: one `NN: size` line per slot. */
export function parseProcTable(text: string): SlotInfo[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const match = /^(\d+): (\d+)$/.exec(line.trim());
      if (!match) throw new Error(`unexpected line in ${PROC_PATH}: ${JSON.stringify(line)}`);
      return { slot: Number(match[1]), size: Number(match[2]) };
    });
}

export function readProcTable(): SlotInfo[] {
  return parseProcTable(fs.readFileSync(PROC_PATH, 'utf8'));
}
