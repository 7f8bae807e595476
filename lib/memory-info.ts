// memory_info: memory use per process name and identical pages, through
// /proc/memory_info. One command per write; reading shows its result.
import * as fs from 'node:fs';

import { withReason } from './errors';

export const PROC_PATH = '/proc/memory_info';
/** A process name (comm) is at most 15 bytes (TASK_COMM_LEN - 1). */
export const NAME_MAX_BYTES = 15;
/** Where the module's tunable lives: most KiB one identical-page search may use. */
export const GROUP_MEM_MAX_PARAM = '/sys/module/memory_info/parameters/group_mem_max_kib';

/** One line of ALL or FILTER: what the processes of one name use, in pages. */
export interface MemoryInfoRecord {
  name: string;
  /** Pages of every VMA of every process of this name. */
  total: number;
  /** Pages present in the page tables. */
  valid: number;
  /** total - valid. */
  invalid: number;
  /** Pages in groups of two or more with identical contents. */
  mayBeShared: number;
  /** Groups of two or more pages with identical contents. */
  nbGroup: number;
  pids: number[];
}

/** What the file shows after a command. */
export type MemoryInfoResult =
  | { kind: 'success' }
  | { kind: 'error'; message: string }
  | { kind: 'records'; records: MemoryInfoRecord[] };

/** A failed command: Node's own write error, plus the command and the kernel's message. */
export interface MemoryInfoError extends NodeJS.ErrnoException {
  code: string;
  errno: number;
  syscall: 'write';
  path: typeof PROC_PATH;
  /** The command as written, decoded as UTF-8. */
  command: string;
  /** The module's text, e.g. "No such process" (from "[ERROR]: No such process"). */
  kernelMessage?: string;
  /** Why, where the command itself tells (also at the end of the message), e.g. the name rule. */
  reason?: string;
}

const LINE =
  /^(.*), total: (\d+), valid: (\d+), invalid: (\d+), may_be_shared: (\d+), nb_group: (\d+), pid\((\d+)\): (\d+(?:; \d+)*)$/s;

/** The module shows a newline or backslash in a name as an octal escape (\012, \134). */
function unescapeName(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * Parses one line of ALL/FILTER, exactly
 * `<name>, total: <n>, valid: <n>, invalid: <n>, may_be_shared: <n>, nb_group: <n>, pid(<count>): <pid1>; ...`.
 * The name may itself hold ", total: ": everything before the last such field list is the name.
 */
export function parseLine(line: string): MemoryInfoRecord {
  const match = LINE.exec(line);
  if (!match) throw new Error(`unexpected line in ${PROC_PATH}: ${JSON.stringify(line)}`);
  const pids = match[8].split('; ').map(Number);
  if (pids.length !== Number(match[7])) {
    throw new Error(`${PROC_PATH}: pid(${match[7]}) lists ${pids.length} pids: ${JSON.stringify(line)}`);
  }
  return {
    name: unescapeName(match[1]),
    total: Number(match[2]),
    valid: Number(match[3]),
    invalid: Number(match[4]),
    mayBeShared: Number(match[5]),
    nbGroup: Number(match[6]),
    pids,
  };
}

/** Parses the output of ALL or FILTER: one record a line. */
export function parseTable(text: string): MemoryInfoRecord[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map(parseLine);
}

/**
 * Parses whatever the file shows: `[SUCCESS]`, `[ERROR]: <message>`, or table
 * lines; the final newline may be there or not (the file has one).
 */
export function parseResult(text: string): MemoryInfoResult {
  if (text === '[SUCCESS]\n' || text === '[SUCCESS]') return { kind: 'success' };
  const error = /^\[ERROR\]: (.*?)\n?$/.exec(text);
  if (error) return { kind: 'error', message: error[1] };
  return { kind: 'records', records: parseTable(text) };
}

/** What the file shows now: the result of the last command, whoever wrote it. */
export function readResult(): string {
  return fs.readFileSync(PROC_PATH, 'utf8');
}

/**
 * Writes one command (a string, or raw bytes) and returns what the file shows
 * afterwards. Throws a MemoryInfoError if the module refuses it. Another
 * writer between the write and the read would show its own result: the
 * module keeps one result for everyone.
 */
export function command(cmd: string | Uint8Array): string {
  const bytes = typeof cmd === 'string' ? Buffer.from(cmd) : cmd;
  const fd = fs.openSync(PROC_PATH, 'r+');
  try {
    let written: number;
    try {
      written = fs.writeSync(fd, bytes);
    } catch (err) {
      throw commandError(err as NodeJS.ErrnoException, fd, bytes);
    }
    if (written !== bytes.length) {
      throw new Error(`${PROC_PATH}: wrote ${written} of ${bytes.length} bytes`);
    }
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

function commandError(err: NodeJS.ErrnoException, fd: number, bytes: Uint8Array): Error {
  if (typeof err.code !== 'string' || typeof err.errno !== 'number') return err;
  let kernelMessage: string | undefined;
  try {
    const shown = parseResult(fs.readFileSync(fd, 'utf8'));
    if (shown.kind === 'error') kernelMessage = shown.message;
  } catch {
    // The write's own error is what matters; the message is a bonus.
  }
  const error = err as MemoryInfoError;
  error.message = `${err.message} '${PROC_PATH}'`;
  error.path = PROC_PATH;
  error.command = Buffer.from(bytes).toString('utf8');
  if (kernelMessage !== undefined) error.kernelMessage = kernelMessage;
  const why = refusalReason(error.code, error.command);
  return why ? withReason(error, why) : error;
}

/** What the library can tell of a refused command, from the command itself. */
function refusalReason(code: string, cmd: string): string | undefined {
  const named = /^(FILTER|DEL)\|(.*?)\n?$/s.exec(cmd);
  if (code === 'EINVAL' && named) {
    const length = Buffer.byteLength(named[2]);
    if (length < 1 || length > NAME_MAX_BYTES || named[2].includes('\0')) {
      return `a process name is 1 to ${NAME_MAX_BYTES} bytes with no NUL; got ${length} bytes`;
    }
  }
  if (code === 'EINVAL' && !named && !/^(RESET|ALL)\n?$/.test(cmd)) {
    return "the commands are 'RESET', 'ALL', 'FILTER|<name>' and 'DEL|<name>'";
  }
  if (code === 'ESRCH' && named) return `no process named ${JSON.stringify(named[2])} in the table (taken at load or RESET)`;
  if (code === 'ENOENT' && /^ALL\n?$/.test(cmd)) return 'the table is empty (every name deleted): RESET takes it again';
  return undefined;
}

function expectSuccess(text: string, cmd: string): void {
  if (text !== '[SUCCESS]\n') throw new Error(`${cmd}: expected [SUCCESS] from ${PROC_PATH}, got ${JSON.stringify(text)}`);
}

/** RESET: snapshots every user process again (pids, total and valid pages). */
export function reset(): void {
  expectSuccess(command('RESET'), 'RESET');
}

/** ALL: every name of the table. ENOENT if the table is empty (every name deleted). */
export function all(): MemoryInfoRecord[] {
  return parseTable(command('ALL'));
}

/** FILTER|name: the one record of that exact name (1 to 15 bytes). ESRCH if the table has none, EINVAL for a bad name. */
export function filter(name: string): MemoryInfoRecord {
  const records = parseTable(command(`FILTER|${name}`));
  if (records.length !== 1) throw new Error(`FILTER|${name}: expected one line, got ${records.length}`);
  return records[0];
}

/** DEL|name: removes that name (1 to 15 bytes) from the table. ESRCH if the table has none, EINVAL for a bad name. */
export function del(name: string): void {
  expectSuccess(command(`DEL|${name}`), 'DEL');
}

/** The module's limit on one identical-page search, in KiB (about 44 bytes a page). */
export function groupMemMaxKib(): number {
  return Number(fs.readFileSync(GROUP_MEM_MAX_PARAM, 'utf8'));
}

/** Sets group_mem_max_kib, in KiB (default at load 262144). */
export function setGroupMemMaxKib(kib: number): void {
  fs.writeFileSync(GROUP_MEM_MAX_PARAM, `${kib}\n`);
}
