// The sweep, inside the VM: for each frame size and offered rate, `repeats`
// rounds in which every method takes one run of the same pktgen traffic, the
// methods' order rotating from round to round so that drift of the host hits
// them alike. pktgen injects synchronously (xmit_mode netif_receive), so the
// consumer's cost slows the source: each run reports what the source
// sustained, what user space counted and the difference as loss.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';

import { type Soaker, busyShares, calibrate, cpuPerFrameNs, procStatShares, readProcStat, soakRates } from './bench-cpu';
import { keptShare } from './bench-filter';
import { type ConsumerFactory, IGNORES_FILTER } from './bench-methods';
import type { BenchOptions, MethodName, Rate, SourceName } from './bench-options';
import type { Sample } from './bench-report';
import { HostTraffic, RCTL_HOLD_MS, pinHostAddress, setupGuestLink, waitForCarrier } from '../host-traffic';
import { VethPair, pktgenElapsedUs, pktgenReset, pktgenRunAsync, pktgenRunning, pktgenSent, pktgenSetup, pktgenStop } from '../traffic';

export const DEVICE = 'kbench0';
const PEER = 'kbench1';
const IDLE_CALIBRATION_MS = 500;

export interface Progress {
  done: number;
  total: number;
  sample: Sample;
}

export interface SweepResult {
  samples: Sample[];
  /** Soaker iterations per second of each CPU, every idle measurement, and their per-CPU median. */
  idleRuns: number[][];
  idle: number[] | null;
  /** The CPUs the consumers ran on (pktgen has SOURCE_CPU). */
  consumerCpus: number[];
}

/** `list` turned by `by` places: round r of a point starts with another method. */
export function rotate<T>(list: T[], by: number): T[] {
  const n = list.length;
  if (n === 0) return [];
  const k = ((by % n) + n) % n;
  return [...list.slice(k), ...list.slice(0, k)];
}

/** The points of a sweep in the order they run: sizes, then rates, then rounds. */
export function schedule(methods: MethodName[], options: Pick<BenchOptions, 'sizes' | 'rates' | 'repeats'>) {
  const runs: { size: number; offered: Rate; repeat: number; order: number; method: MethodName }[] = [];
  let round = 0;
  for (const size of options.sizes) {
    for (const offered of options.rates) {
      for (let repeat = 1; repeat <= options.repeats; repeat++, round++) {
        rotate(methods, round).forEach((method, order) => runs.push({ size, offered, repeat, order, method }));
      }
    }
  }
  return runs;
}

/** pktgen's thread, kpktgend_0, is bound to CPU 0. */
export const SOURCE_CPU = 0;

/**
 * Keeps this process (every thread: the consumer, libuv's and V8's) and its
 * children off the source's CPU: injection is synchronous, so a consumer the
 * scheduler put there would slow the source by sharing its CPU, not by the
 * work its method costs. The consumer gets the other CPUs, as an application
 * gets other cores than the NIC's interrupt. Returns the CPUs it runs on.
 */
export function keepOffSourceCpu(cpus: number): number[] {
  if (cpus < 2) return [0];
  const others = Array.from({ length: cpus }, (_, cpu) => cpu).filter((cpu) => cpu !== SOURCE_CPU);
  execFileSync('taskset', ['-a', '-p', '-c', others.join(','), String(process.pid)], { stdio: 'ignore' });
  return others;
}

async function idleRates(soaker: Soaker, ms: number): Promise<number[]> {
  const from = soaker.sample();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return soakRates(from, soaker.sample());
}

/** Runs the whole sweep for the pktgen source. */
export async function runPktgenSweep(
  methods: Map<MethodName, ConsumerFactory>,
  options: BenchOptions,
  soaker: Soaker | null,
  onProgress: (progress: Progress) => void,
): Promise<SweepResult> {
  using veth = new VethPair(DEVICE, PEER, { address: '10.98.0.2/24' });
  const consumerCpus = keepOffSourceCpu(cpuCount());
  const runs = schedule([...methods.keys()], options);
  const samples: Sample[] = [];
  const idleRuns: number[][] = [];
  if (soaker) idleRuns.push(await idleRates(soaker, 4 * IDLE_CALIBRATION_MS));
  try {
    for (const [i, run] of runs.entries()) {
      // Each round starts with a fresh idle measurement: the baseline drifts with the host.
      if (soaker && run.order === 0) idleRuns.push(await idleRates(soaker, IDLE_CALIBRATION_MS));
      const idle = soaker ? calibrate(idleRuns) : null;
      const sample = await runOnce(methods.get(run.method)!, veth.mac, run, options, soaker, idle);
      samples.push(sample);
      onProgress({ done: i + 1, total: runs.length, sample });
    }
  } finally {
    pktgenReset();
  }
  return { samples, idleRuns, idle: soaker ? calibrate(idleRuns) : null, consumerCpus };
}

export async function runOnce(
  factory: ConsumerFactory,
  dstMac: string,
  run: { size: number; offered: Rate; repeat: number; order: number; method: MethodName },
  options: BenchOptions,
  soaker: Soaker | null,
  idle: number[] | null,
): Promise<Sample> {
  const consumer = await factory(DEVICE, options);
  pktgenSetup({
    device: DEVICE,
    count: 0,
    size: run.size,
    dstMac,
    src: '10.98.0.1',
    dst: '10.98.0.2',
    thread: SOURCE_CPU,
    rate: run.offered === 'max' ? undefined : run.offered,
    udpDstPorts: options.ports,
  });
  const source = pktgenRunAsync();
  // The clock starts when pktgen runs: starting it takes a process, which on a
  // loaded guest can outlast a short run (and a stop sent before the start would be lost).
  let started = false;
  source.finally(() => (started = true)).catch(() => undefined);
  for (let i = 0; !started && !pktgenRunning(DEVICE); i++) {
    if (i > 6000) throw new Error(`pktgen did not start on ${DEVICE} within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const soakFrom = soaker?.sample();
  const statFrom = readProcStat();
  const startNs = process.hrtime.bigint();
  await consumer.consumeUntil(startNs + BigInt(Math.round(options.durationSec * 1e9)));
  const soakTo = soaker?.sample();
  const statTo = readProcStat();
  pktgenStop();
  await source;
  const ownSec = Number(process.hrtime.bigint() - startNs) / 1e9;
  const sent = pktgenSent(DEVICE);
  const counts = await consumer.finish(sent);

  const elapsedUs = pktgenElapsedUs(DEVICE);
  const elapsedSec = elapsedUs && elapsedUs > 0 ? elapsedUs / 1e6 : ownSec;
  const deliveredPps = counts.frames / elapsedSec;
  const kept = keptFrames(sent, 'pktgen', run, options);
  const lost = Math.max(0, kept - counts.frames);
  const procStat = procStatShares(statFrom, statTo);
  const busy = soaker && idle && soakFrom && soakTo ? busyShares(idle, soakRates(soakFrom, soakTo)) : null;
  // Without the soaker, /proc/stat's busy share stands in for it.
  const cpu = busy ? cpuPerFrameNs(busy, deliveredPps) : cpuPerFrameNs([procStat.busy], deliveredPps);
  return {
    source: 'pktgen',
    method: run.method,
    size: run.size,
    offered: run.offered,
    repeat: run.repeat,
    order: run.order,
    sent,
    elapsedSec,
    sourcePps: sent / elapsedSec,
    kept,
    delivered: counts.frames,
    deliveredPps,
    ipv4: counts.ipv4,
    lost,
    lossPct: kept > 0 ? (100 * lost) / kept : 0,
    captureDropped: counts.captureDropped,
    nicMissed: null,
    hostDropped: null,
    busy,
    procStat,
    cpuPerFrameNs: cpu,
  };
}

/** The host source's device: the NIC (e1000 or virtio-net) whose other end is the host's framegen. */
export const HOST_DEVICE = 'eth0';
/** After the host's last frame, how long nothing more must come before a run ends. */
const HOST_QUIET_MS = 300;
/**
 * A run starts RCTL_HOLD_MS after the previous run's consumer closed (closing a zero-copy session
 * resets the e1000), or its first frames are lost at the host whatever the method.
 */
let lastClosedMs = 0;
/** How long a consumer waits for frames at a time, so the request's answer is read meanwhile. */
const HOST_SLICE_MS = 50;

/** The e1000's missed-packets counter (MPC, folded in by the driver at least every 2 s). */
function rxMissed(device: string): number {
  try {
    return Number(fs.readFileSync(`/sys/class/net/${device}/statistics/rx_missed_errors`, 'utf8'));
  } catch {
    return 0;
  }
}

/**
 * Runs the whole sweep for the host source: the same schedule as pktgen's
 * (methods rotating from round to round), each run one framegen request of
 * rate x duration frames, paced by the host. The host does not slow down
 * with its consumer: what a method cannot take is lost, and the loss is
 * split into what counters name (the method's own drops, the NIC's missed
 * frames, the host socket's drops).
 */
export async function runHostSweep(
  methods: Map<MethodName, ConsumerFactory>,
  options: BenchOptions,
  soaker: Soaker | null,
  onProgress: (progress: Progress) => void,
): Promise<SweepResult> {
  const traffic = new HostTraffic();
  await setupGuestLink(HOST_DEVICE);
  lastClosedMs = Date.now(); // the link-up's RCTL write
  // framegen's frames go to a closed UDP port: the wire keeps to them.
  pinHostAddress(HOST_DEVICE);
  const runs = schedule([...methods.keys()], options);
  const samples: Sample[] = [];
  const idleRuns: number[][] = [];
  if (soaker) idleRuns.push(await idleRates(soaker, 4 * IDLE_CALIBRATION_MS));
  for (const [i, run] of runs.entries()) {
    if (soaker && run.order === 0) idleRuns.push(await idleRates(soaker, IDLE_CALIBRATION_MS));
    const idle = soaker ? calibrate(idleRuns) : null;
    const sample = await runHostOnce(traffic, methods.get(run.method)!, run, options, soaker, idle);
    samples.push(sample);
    onProgress({ done: i + 1, total: runs.length, sample });
  }
  const consumerCpus = Array.from({ length: cpuCount() }, (_, cpu) => cpu);
  return { samples, idleRuns, idle: soaker ? calibrate(idleRuns) : null, consumerCpus };
}

export async function runHostOnce(
  traffic: HostTraffic,
  factory: ConsumerFactory,
  run: { size: number; offered: Rate; repeat: number; order: number; method: MethodName },
  options: BenchOptions,
  soaker: Soaker | null,
  idle: number[] | null,
): Promise<Sample> {
  if (run.offered === 'max') throw new Error('the host source is paced: no max rate');
  const rate = run.offered;
  const consumer = await factory(HOST_DEVICE, options);
  let finished = false;
  try {
    // Zero-copy restarts the e1000 on leaving (and a device reset on entering): its link comes back within seconds.
    await waitForCarrier(HOST_DEVICE);
    const settle = lastClosedMs + RCTL_HOLD_MS - Date.now();
    if (settle > 0 && options.nic === 'e1000') await new Promise((resolve) => setTimeout(resolve, settle));
    const missedFrom = rxMissed(HOST_DEVICE);
    const soakFrom = soaker?.sample();
    const statFrom = readProcStat();
    let answered = false;
    const count = Math.max(1, Math.round(rate * options.durationSec));
    // A replay loops the file as often as the run's count needs (each loop is a frame at least).
    const sending = options.pcap
      ? traffic.replay({ file: options.pcap, pps: rate, loops: count, count })
      : traffic.send({ size: run.size, count, rate, ports: options.ports });
    sending.then(
      () => (answered = true),
      () => (answered = true),
    );
    while (!answered) {
      await consumer.consumeUntil(process.hrtime.bigint() + BigInt(HOST_SLICE_MS * 1e6));
      // Lets the request's answer (a file framegen writes) be read.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const soakTo = soaker?.sample();
    const statTo = readProcStat();
    const result = await sending;
    // Frames still in QEMU's queue and the NIC's ring: take them until nothing comes for a while.
    await consumer.consumeUntil(process.hrtime.bigint() + BigInt(HOST_QUIET_MS * 1e6));
    finished = true;
    const counts = await consumer.finish(result.sent);
    lastClosedMs = Date.now();
    // The driver folds MPC into its counters from its 2 s watchdog; zero-copy reads it at once.
    const missed = Math.max(rxMissed(HOST_DEVICE) - missedFrom, counts.nicMissed ?? 0);

    const elapsedSec = result.seconds > 0 ? result.seconds : options.durationSec;
    const deliveredPps = counts.frames / elapsedSec;
    const kept = keptFrames(result.sent, 'host', run, options);
    const lost = Math.max(0, kept - counts.frames);
    const procStat = procStatShares(statFrom, statTo);
    const busy = soaker && idle && soakFrom && soakTo ? busyShares(idle, soakRates(soakFrom, soakTo)) : null;
    const cpu = busy ? cpuPerFrameNs(busy, deliveredPps) : cpuPerFrameNs([procStat.busy], deliveredPps);
    return {
      source: 'host',
      method: run.method,
      size: run.size,
      offered: run.offered,
      repeat: run.repeat,
      order: run.order,
      sent: result.sent,
      elapsedSec,
      sourcePps: result.sent / elapsedSec,
      kept,
      delivered: counts.frames,
      deliveredPps,
      ipv4: counts.ipv4,
      lost,
      lossPct: kept > 0 ? (100 * lost) / kept : 0,
      captureDropped: counts.captureDropped,
      nicMissed: missed,
      hostDropped: result.hostDropped,
      busy,
      procStat,
      cpuPerFrameNs: cpu,
    };
  } finally {
    if (!finished) await consumer.finish(0).catch(() => undefined);
    lastClosedMs = Date.now();
  }
}

/** Of `sent` frames, those the run's method should deliver: those --filter keeps, unless the method ignores it. */
export function keptFrames(sent: number, source: SourceName, run: { size: number; method: MethodName }, options: BenchOptions): number {
  if (IGNORES_FILTER.includes(run.method)) return sent;
  return Math.round(sent * keptShare(options.filter, source, run.size, options.ports));
}

export function cpuCount(): number {
  return os.cpus().length;
}
