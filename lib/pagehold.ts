// Runs out/bin/pagehold (test/helpers/pagehold.c): a process holding
// read-only pages of chosen contents, for memory_info's tests, demo and
// benchmark.
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/** dist/pagehold.js and lib/pagehold.ts both sit one level below the project root. */
export const PAGEHOLD_PATH = path.join(__dirname, '..', 'out', 'bin', 'pagehold');

export interface PageHoldOptions {
  /** Process name (comm), at most 15 bytes. */
  name?: string;
  /** Pages per label: the same label and seed give the same contents, in any process. */
  labels?: Record<string, number>;
  /** Pages whose contents no other page has (they derive from the pid). */
  unique?: number;
  /** One more unique page, mapped read-only this many times: one physical page, several addresses. */
  aliases?: number;
  /** Read-only anonymous pages read but never written: the kernel's zero page, this many times. */
  zeroPages?: number;
  /** Mixed into every label's contents. */
  seed?: number;
  /** Writable pages mapped but not touched until touch() or SIGUSR1. */
  lazy?: number;
  /** Pages touched per SIGUSR1. */
  chunk?: number;
  /** Let labelled and lazy pages be transparent huge pages (2 MiB aligned). */
  huge?: boolean;
  /** Serve from a second thread and end the main one: a process whose leader is a zombie. */
  leaderExits?: boolean;
}

export class PageHolder implements AsyncDisposable {
  readonly pid: number;
  /** Labelled plus unique pages, all read-only. */
  readonly heldPages: number;
  readonly lazyPages: number;
  readonly #child: ChildProcessByStdio<Writable, Readable, null>;
  readonly #lines: AsyncIterator<string>;
  readonly #exited: Promise<number | null>;

  private constructor(child: ChildProcessByStdio<Writable, Readable, null>, lines: AsyncIterator<string>, ready: string) {
    const [, pid, held, lazy] = ready.split(' ');
    this.pid = Number(pid);
    this.heldPages = Number(held);
    this.lazyPages = Number(lazy);
    this.#child = child;
    this.#lines = lines;
    this.#exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });
  }

  /** Starts a holder and waits until its pages are written and read-only. */
  static async start(options: PageHoldOptions = {}): Promise<PageHolder> {
    const args: string[] = [];
    if (options.name !== undefined) args.push('-n', options.name);
    if (options.seed !== undefined) args.push('-s', String(options.seed));
    if (options.unique !== undefined) args.push('-u', String(options.unique));
    if (options.aliases !== undefined) args.push('-m', String(options.aliases));
    if (options.zeroPages !== undefined) args.push('-z', String(options.zeroPages));
    if (options.lazy !== undefined) args.push('-l', String(options.lazy));
    if (options.chunk !== undefined) args.push('-k', String(options.chunk));
    if (options.huge) args.push('-H');
    if (options.leaderExits) args.push('-T');
    for (const [label, count] of Object.entries(options.labels ?? {})) args.push(`${label}:${count}`);

    const child = spawn(PAGEHOLD_PATH, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    await spawned;
    const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done || !first.value.startsWith('ready ')) {
      child.kill('SIGKILL');
      throw new Error(`pagehold ${args.join(' ')} did not start (${first.done ? 'exited' : first.value})`);
    }
    return new PageHolder(child, lines, first.value);
  }

  async #answer(): Promise<number> {
    const line = await this.#lines.next();
    if (line.done) throw new Error(`pagehold ${this.pid} exited`);
    const match = /^touched (\d+)$/.exec(line.value);
    if (!match) throw new Error(`pagehold ${this.pid}: ${line.value}`);
    return Number(match[1]);
  }

  /** Writes `pages` more lazy pages; resolves to the total touched so far. */
  async touch(pages: number): Promise<number> {
    this.#child.stdin.write(`touch ${pages}\n`);
    return this.#answer();
  }

  /** Sends SIGUSR1 (touches `chunk` pages); resolves to the total touched so far. */
  async touchBySignal(): Promise<number> {
    process.kill(this.pid, 'SIGUSR1');
    return this.#answer();
  }

  /** Closes its stdin, which ends it, and waits for it to exit. */
  async stop(): Promise<void> {
    this.#child.stdin.end();
    await this.#exited;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
