// Guest CPU per frame, two ways side by side. The soaker (test/helpers/
// soaker.c, out/bin/soaker) counts busy-loop iterations at SCHED_IDLE on each
// CPU, as netperf does: the share of its idle rate a run takes away is the
// CPU that run used, whatever used it (softirq, the consumer, wakeups).
// /proc/stat's per-CPU busy jiffies are the kernel's own account.
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { systemError } from '../errors';

/** Counters of every CPU at one moment. */
export interface SoakSample {
  atNs: bigint;
  iterations: bigint[];
}

/** Iterations per second of each CPU between two samples. */
export function soakRates(from: SoakSample, to: SoakSample): number[] {
  const seconds = Number(to.atNs - from.atNs) / 1e9;
  if (seconds <= 0) throw new RangeError('soaker samples are not in time order');
  return to.iterations.map((n, cpu) => Number(n - from.iterations[cpu]) / seconds);
}

/** The idle rate of each CPU: the median of the idle measurements, per CPU. */
export function calibrate(idleRuns: number[][]): number[] {
  if (idleRuns.length === 0) throw new RangeError('no idle measurement to calibrate on');
  return idleRuns[0].map((_, cpu) => median(idleRuns.map((run) => run[cpu])));
}

/**
 * Each CPU's busy share during a run: 1 - loaded / idle, within [0, 1]
 * (a run that soaks faster than the idle median is noise, not negative CPU).
 */
export function busyShares(idle: number[], loaded: number[]): number[] {
  return loaded.map((rate, cpu) => (idle[cpu] > 0 ? Math.min(1, Math.max(0, 1 - rate / idle[cpu])) : 0));
}

/** Nanoseconds of CPU per frame: the CPUs' busy shares added up, over the frame rate. */
export function cpuPerFrameNs(busy: number[], framesPerSec: number): number | null {
  if (framesPerSec <= 0) return null;
  return (busy.reduce((a, b) => a + b, 0) * 1e9) / framesPerSec;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The running soaker: one SCHED_IDLE child per CPU, sampled through a shared file. */
export class Soaker implements Disposable {
  readonly #child: ChildProcess;
  readonly #file: string;
  readonly cpus: number;

  private constructor(child: ChildProcess, file: string, cpus: number) {
    this.#child = child;
    this.#file = file;
    this.cpus = cpus;
  }

  /** Starts out/bin/soaker and waits until every CPU's counter moves. */
  static async start(binary: string, cpus: number, file = `/dev/shm/kmodlab-soaker-${process.pid}`): Promise<Soaker> {
    if (!fs.existsSync(binary)) {
      throw systemError('ENOENT', 'spawn', binary, 'the soaker is not built: make helpers');
    }
    const child = spawn(binary, [file], { stdio: ['ignore', 'ignore', 'inherit'] });
    const soaker = new Soaker(child, file, cpus);
    const deadline = Date.now() + 10_000;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (child.exitCode !== null) throw new Error(`soaker exited with status ${child.exitCode}`);
      try {
        if (soaker.sample().iterations.every((n) => n > 0n)) return soaker;
      } catch {
        // the file is not there yet
      }
      if (Date.now() > deadline) {
        soaker.close();
        throw new Error('soaker: not every CPU counted within 10 s');
      }
    }
  }

  sample(): SoakSample {
    const data = fs.readFileSync(this.#file);
    const iterations: bigint[] = [];
    for (let cpu = 0; cpu < this.cpus; cpu++) iterations.push(data.readBigUInt64LE(cpu * 64));
    return { atNs: process.hrtime.bigint(), iterations };
  }

  close(): void {
    if (this.#child.exitCode === null) this.#child.kill('SIGKILL');
    fs.rmSync(this.#file, { force: true });
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** /proc/stat per CPU, in jiffies (USER_HZ). */
export interface CpuTimes {
  user: number;
  system: number;
  softirq: number;
  irq: number;
  idle: number;
  total: number;
}

export function parseProcStat(text: string): CpuTimes[] {
  const cpus: CpuTimes[] = [];
  for (const line of text.split('\n')) {
    const match = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!match) continue;
    // user nice system idle iowait irq softirq steal guest guest_nice
    const f = match[2].trim().split(/\s+/).map(Number);
    cpus[Number(match[1])] = {
      user: f[0] + f[1],
      system: f[2],
      idle: f[3] + f[4],
      irq: f[5],
      softirq: f[6],
      total: f.slice(0, 8).reduce((a, b) => a + b, 0),
    };
  }
  return cpus;
}

export function readProcStat(): CpuTimes[] {
  return parseProcStat(fs.readFileSync('/proc/stat', 'utf8'));
}

/** Shares of the elapsed time per kind, summed over CPUs (2 = two CPUs fully busy). */
export function procStatShares(from: CpuTimes[], to: CpuTimes[]): { user: number; system: number; softirq: number; busy: number } {
  let user = 0;
  let system = 0;
  let softirq = 0;
  let busy = 0;
  to.forEach((t, cpu) => {
    const f = from[cpu];
    const total = t.total - f.total;
    if (total <= 0) return;
    user += (t.user - f.user) / total;
    system += (t.system - f.system) / total;
    softirq += (t.softirq + t.irq - f.softirq - f.irq) / total;
    busy += 1 - (t.idle - f.idle) / total;
  });
  return { user, system, softirq, busy };
}

/** The soaker's place in the build: out/bin, next to the other helpers. */
export function soakerBinary(projectRoot: string): string {
  return path.join(projectRoot, 'out', 'bin', 'soaker');
}
