// kshram: eight kernel shared-memory slots, /dev/kshram0../dev/kshram7.
import * as fs from 'node:fs';

import { checkInteger, errorCode, invalidArgType, invalidState, systemError, withReason } from './errors';
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

  /** Opens /dev/kshram<index>; `index` from 0 to SLOT_COUNT - 1, else RangeError ERR_OUT_OF_RANGE (TypeError ERR_INVALID_ARG_TYPE for a non-number). */
  constructor(index: number) {
    this.index = checkInteger('index', index, 0, SLOT_COUNT - 1);
    this.path = slotPath(index);
    this.#fd = fs.openSync(this.path, 'r+');
  }

  /** The open file; ERR_INVALID_STATE once closed. */
  get fd(): number {
    if (this.#fd < 0) {
      throw invalidState(`kshram slot ${this.index} is closed: open it again with kshram.openSlot(${this.index})`);
    }
    return this.#fd;
  }

  /** KSHRAM_GETSLOTS: how many slots the module has. */
  slotCount(): number {
    return native.ioctlValue(this.fd, ioc.GETSLOTS, 0, this.path);
  }

  /** KSHRAM_GETSIZE: the slot's size in bytes. */
  get size(): number {
    return native.ioctlValue(this.fd, ioc.GETSIZE, 0, this.path);
  }

  /**
   * KSHRAM_SETSIZE: the slot becomes `bytes` long (1 to MAX_SLOT_SIZE), keeping
   * the first min(old, new) bytes and zero-filling the rest. The kernel refuses
   * EINVAL out of that range and EBUSY while any process maps the slot; the
   * error's message (and `reason`) says which.
   */
  resize(bytes: number): void {
    checkInteger('bytes', bytes);
    try {
      native.ioctlValue(this.fd, ioc.SETSIZE, bytes, this.path);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'EINVAL') throw withReason(error, `a slot is 1 to ${MAX_SLOT_SIZE} bytes; asked for ${bytes}`);
      if (code === 'EBUSY') {
        throw withReason(error, `slot ${this.index} is mapped, by this or another process: close every mapping of it first`);
      }
      throw error;
    }
  }

  /** Maps the whole slot (or `length` bytes, default the slot's size) shared: writes are seen by every process at once. */
  map(length: number = this.size): Mapping {
    return new Mapping(this.fd, length, { path: this.path });
  }

  /** Reads up to `length` bytes (default: the slot's size) from byte `position` (default 0), like pread. */
  read(length: number = this.size, position = 0): Buffer {
    const buffer = Buffer.alloc(length);
    const n = fs.readSync(this.fd, buffer, 0, length, position);
    return buffer.subarray(0, n);
  }

  /**
   * Writes all of `data` at byte `position` (default 0) and returns its length
   * in bytes. Data that would not fit before the slot's end is refused whole,
   * before anything is written: ENOSPC, with the slot's size in the message.
   */
  write(data: Uint8Array | string, position = 0): number {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (!(bytes instanceof Uint8Array)) {
      throw invalidArgType('data', ['string', 'Uint8Array'], data);
    }
    checkInteger('position', position, 0, Number.MAX_SAFE_INTEGER);
    const size = this.size;
    if (position + bytes.length > size) {
      const reason = `${bytes.length} bytes at ${position} go past the end of slot ${this.index}, which is ${size} bytes`;
      throw systemError('ENOSPC', 'write', this.path, reason);
    }
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

/** Opens /dev/kshram<index> (0 to 7): see KshramSlot. */
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
