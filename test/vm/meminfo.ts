// Kernel memory figures for leak checks in the guest.
import * as fs from 'node:fs';

import { native } from '../../lib/native';

/**
 * Slab and MemAvailable (/proc/meminfo), in KiB. MemAvailable alone swings
 * by tens of MiB as free pages park on the per-CPU lists, which it does not
 * count: `available` adds them back (/proc/zoneinfo), and this process's own
 * anonymous memory, whose heap comes and goes. What is left moves only when
 * the kernel keeps memory.
 */
export function memorySnapshot(): { slab: number; memAvailable: number; available: number } {
  const meminfo = fs.readFileSync('/proc/meminfo', 'utf8');
  const field = (text: string, name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)![1]);
  const perCpuPages = [...fs.readFileSync('/proc/zoneinfo', 'utf8').matchAll(/^\s+count:\s+(\d+)$/gm)].reduce(
    (sum, match) => sum + Number(match[1]),
    0,
  );
  const ownAnon = field(fs.readFileSync('/proc/self/status', 'utf8'), 'RssAnon');
  const memAvailable = field(meminfo, 'MemAvailable');
  return {
    slab: field(meminfo, 'Slab'),
    memAvailable,
    available: memAvailable + perCpuPages * (native.pageSize / 1024) + ownAnon,
  };
}

/** Lets freed memory settle before measuring: RCU callbacks, deferred frees, caches. */
export async function settleMemory(): Promise<void> {
  await new Promise((r) => setTimeout(r, 500));
  fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
  await new Promise((r) => setTimeout(r, 500));
}

/**
 * Objects in use per slab cache (/proc/slabinfo), after every cache has
 * flushed its per-CPU slabs (/sys/kernel/slab/<cache>/shrink), so that the
 * counts are objects allocated, not objects parked on a CPU.
 */
export function slabObjects(): Map<string, { objects: number; size: number }> {
  for (const cache of fs.readdirSync('/sys/kernel/slab')) {
    try {
      fs.writeFileSync(`/sys/kernel/slab/${cache}/shrink`, '1');
    } catch {
      // An alias of a merged cache, or a cache that went away meanwhile.
    }
  }
  const caches = new Map<string, { objects: number; size: number }>();
  for (const line of fs.readFileSync('/proc/slabinfo', 'utf8').split('\n').slice(2)) {
    const [name, active, , size] = line.split(/\s+/);
    if (name) caches.set(name, { objects: Number(active), size: Number(size) });
  }
  return caches;
}

/** Caches whose objects in use grew by at least `minObjects`, and by how much. */
export function slabGrowth(
  before: Map<string, { objects: number; size: number }>,
  after: Map<string, { objects: number; size: number }>,
  minObjects: number,
): Record<string, number> {
  const grown: Record<string, number> = {};
  for (const [name, { objects }] of after) {
    const delta = objects - (before.get(name)?.objects ?? 0);
    if (delta >= minObjects) grown[name] = delta;
  }
  return grown;
}
