// Loading and unloading the project's kernel modules (inside the VM), with
// the kernel's own errno on failure: EEXIST (already loaded), EAGAIN (in use),
// ENOENT (not loaded).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { native } from './native';

/** Where the .ko files are: the VM sets KMOD_DIR; on a host, out/kmod. */
export function moduleDir(): string {
  return process.env.KMOD_DIR ?? path.join(__dirname, '..', 'out', 'kmod');
}

export function isModuleLoaded(name: string): boolean {
  return fs.existsSync(`/sys/module/${name}/initstate`);
}

/** insmod `<moduleDir>/<name>.ko` with `key=value` parameters. */
export function loadModule(name: string, params: Record<string, string | number> = {}): void {
  const file = path.join(moduleDir(), `${name}.ko`);
  const fd = fs.openSync(file, 'r');
  try {
    const args = Object.entries(params).map(([key, value]) => `${key}=${value}`);
    native.finitModule(fd, args.join(' '), file);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * rmmod without waiting. While anything holds the module (an open device, a
 * mapping) the kernel refuses with EAGAIN (EWOULDBLOCK), which rmmod reports
 * as "Module is in use".
 */
export function unloadModule(name: string): void {
  native.deleteModule(name);
}

/** Makes sure the module is loaded, fresh: unloads it first if it was. */
export function reloadModule(name: string, params: Record<string, string | number> = {}): void {
  if (isModuleLoaded(name)) unloadModule(name);
  loadModule(name, params);
}
