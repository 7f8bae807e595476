// `kmodlab bench`: the project's main job, run inside the VM (npm start boots
// it there). Compares the capture methods on the same traffic (pktgen in the
// guest, or paced frames from the host into the e1000) and
// writes the table, the JSON with every raw sample, and the plot to the
// output folder (out/bench by default, shared with the host).
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Soaker, soakerBinary } from './bench-cpu';
import { FIRST_PORT, keptShare } from './bench-filter';
import {
  type ConsumerFactory,
  IGNORES_FILTER,
  MISSING,
  NOT_WITH_SOURCE,
  available,
  defaultMethods,
  referenceMethod,
} from './bench-methods';
import { UsageError, execute, type ParsedCommandLine } from './args';
import { BENCH_SPEC, type BenchOptions, type MethodName, benchOptions } from './bench-options';
import { type Sample, drawPlots, formatFilterCost, formatLossFree, formatTable, summarize } from './bench-report';
import { DEVICE, HOST_DEVICE, type SweepResult, cpuCount, runHostSweep, runOnce, runPktgenSweep } from './bench-run';
import { HostTraffic, NIC_DRIVERS } from '../host-traffic';
import { deviceDriver } from '../fastnet';
import { VethPair, pktgenReset } from '../traffic';

const PROJECT_ROOT = path.join(__dirname, '..', '..');

/** The methods to run: those asked for (all must be available), or every available one. */
export function selectMethods(
  options: BenchOptions,
  all: Map<MethodName, ConsumerFactory>,
): Map<MethodName, ConsumerFactory> {
  if (options.methods === null) return defaultMethods(all, options.source);
  const chosen = new Map<MethodName, ConsumerFactory>();
  for (const method of options.methods) {
    const refused = NOT_WITH_SOURCE[options.source][method];
    if (refused) throw new UsageError(`--methods: '${method}' does not run with source ${options.source}: ${refused}`);
    const factory = all.get(method);
    if (!factory) throw new UsageError(`--methods: '${method}' is not available in this build: ${MISSING[method] ?? 'unknown'}`);
    chosen.set(method, factory);
  }
  return chosen;
}

function progressLine(done: number, total: number, startedMs: number, s: Sample): string {
  const seconds = Math.round((Date.now() - startedMs) / 1000);
  const clock = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
  return (
    `[bench ${done}/${total} ${clock}] ${s.method} ${s.size ? `${s.size} B` : 'pcap'} offered ${s.offered === 'max' ? 'max' : `${s.offered / 1000}k`} ` +
    `#${s.repeat}: ${(s.deliveredPps / 1000).toFixed(1)} kpps, loss ${s.lossPct.toFixed(2)}%` +
    (s.hostDropped === null ? '' : ` (own ${s.captureDropped ?? 0}, NIC ${s.nicMissed ?? 0}, host ${s.hostDropped} of ${s.sent})`) +
    (s.cpuPerFrameNs === null ? '' : `, ${s.cpuPerFrameNs.toFixed(0)} ns CPU/frame`)
  );
}

/** perf record of one run of `method` at the first point: where the guest's cycles go. */
async function profile(method: MethodName, factory: ConsumerFactory, options: BenchOptions, outDir: string, stamp: string): Promise<string> {
  const data = `/tmp/kmodlab-perf-${process.pid}.data`;
  using veth = new VethPair(DEVICE, 'kbench1', { address: '10.98.0.2/24' });
  // Under TCG a sample takes long enough for the kernel to throttle sampling to a trickle.
  fs.writeFileSync('/proc/sys/kernel/perf_cpu_time_max_percent', '0');
  // cpu-clock: TCG has no hardware PMU; -a: softirq and the source count too. perf starts
  // with its events off (-D -1) and is switched on through its control FIFO once it is
  // ready: under TCG it spends seconds reading every process's maps first.
  const ctl = `/tmp/kmodlab-perf-${process.pid}.ctl`;
  const ack = `/tmp/kmodlab-perf-${process.pid}.ack`;
  execFileSync('mkfifo', [ctl, ack]);
  const perf = spawn('perf', ['record', '-a', '-g', '-e', 'cpu-clock', '-F', '997', '-D', '-1', '--control', `fifo:${ctl},${ack}`, '-o', data], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let perfErr = '';
  perf.stderr!.on('data', (chunk: Buffer) => (perfErr += chunk.toString()));
  const perfDone = new Promise<void>((resolve) => perf.on('exit', () => resolve()));
  try {
    let ctlFd = -1;
    for (let i = 0; ctlFd < 0; i++) {
      if (perf.exitCode !== null || i > 1200) throw new Error(`perf record did not start: ${perfErr.trim()}`);
      try {
        // ENXIO until perf has the FIFO open.
        ctlFd = fs.openSync(ctl, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const ackFd = fs.openSync(ack, 'r');
    fs.writeSync(ctlFd, 'enable\n');
    fs.readSync(ackFd, Buffer.alloc(16));
    fs.closeSync(ctlFd);
    fs.closeSync(ackFd);
  } finally {
    fs.rmSync(ctl, { force: true });
    fs.rmSync(ack, { force: true });
  }
  let sample: Sample;
  try {
    sample = await runOnce(factory, veth.mac, { size: options.sizes[0], offered: options.rates[0], repeat: 1, order: 0, method }, options, null, null);
  } finally {
    perf.kill('SIGINT');
    await perfDone;
    pktgenReset();
  }
  // Over all CPUs, then per CPU: pktgen's CPU (0) is the source, whose time per frame sets the rate.
  const perfReport = (sort: string) =>
    execFileSync('perf', ['report', '-i', data, '--stdio', '--no-children', '--sort', sort, '--percent-limit', '0.5', '-g', 'none'], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  const report = `${perfReport('sym')}\n# per CPU (CPU 0 runs pktgen, the source)\n${perfReport('cpu,sym')}`;
  fs.rmSync(data, { force: true });
  const file = path.join(outDir, `profile-${stamp}-${method}.txt`);
  const head = `# perf record -a -g -e cpu-clock, ${method}, ${sample.size} B, offered ${sample.offered}: ${(sample.deliveredPps / 1000).toFixed(1)} kpps\n`;
  fs.writeFileSync(file, head + report + (perfErr ? `\n# perf said:\n${perfErr}` : ''));
  return file;
}

/** `kmodlab bench ARGS`: resolves with the exit status. */
export function run(argv: string[]): Promise<number> {
  return execute(BENCH_SPEC, main, argv);
}

/**
 * The options and the methods to run, with every check that needs neither root nor the VM
 * (UsageError): what `--check-only` runs on the host, and the first thing a run does.
 */
export function checkedOptions(values: ParsedCommandLine<typeof BENCH_SPEC>['values']): {
  options: BenchOptions;
  methods: Map<MethodName, ConsumerFactory>;
} {
  const options = benchOptions(values);
  const methods = selectMethods(options, available());
  if (options.profile && !available().has(options.profile)) {
    throw new UsageError(`--profile: '${options.profile}' is not available in this build: ${MISSING[options.profile] ?? 'unknown'}`);
  }
  if (options.pcap !== null && !fs.statSync(options.pcap, { throwIfNoEntry: false })?.isFile()) {
    throw new UsageError(`--pcap: ${options.pcap}: no such file (it must be under the project's folder, which the guest shares)`);
  }
  return { options, methods };
}

async function main({ values }: ParsedCommandLine<typeof BENCH_SPEC>): Promise<number> {
  const { options, methods } = checkedOptions(values);
  if (values['check-only']) return 0;
  if (process.getuid?.() !== 0 || !fs.existsSync('/proc/net') || !process.env.KMODLAB_VM) {
    console.error('kmodlab bench: runs inside the VM as root: npm start, or npm run vm -- node dist/cli/kmodlab.js bench');
    return 1;
  }
  if (options.source === 'host' && !HostTraffic.available()) {
    console.error('kmodlab bench: --source host needs the host traffic generator: boot the VM with --traffic (npm start -- --source host does)');
    return 1;
  }

  // The host source's NIC is the one the VM was booted with: it must be the one --nic names.
  const nicDriver = options.source === 'host' ? deviceDriver(HOST_DEVICE) : null;
  if (options.source === 'host' && nicDriver !== NIC_DRIVERS[options.nic]) {
    console.error(
      `kmodlab bench: --nic ${options.nic} takes ${HOST_DEVICE} to be ${NIC_DRIVERS[options.nic]}, and its driver is ${nicDriver ?? 'unknown'}: ` +
        `boot the VM with qemu/vm.sh --nic ${options.nic} (npm start -- --source host --nic ${options.nic} does)`,
    );
    return 1;
  }

  const outDir = path.resolve(options.outDir);
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d+Z$/, 'Z');
  const started = Date.now();
  const reference = referenceMethod([...methods.keys()]);
  console.log(
    `[bench] ${[...methods.keys()].join(', ')}; source ${options.source}; rates ${options.rates.join(',')}; ${options.pcap ? `replaying ${options.pcap}` : `sizes ${options.sizes.join(',')} B${options.ports > 1 ? `, ports 9-${8 + options.ports}` : ''}`}; ` +
      `${options.durationSec} s a run, ${options.repeats} rounds; ${cpuCount()} vCPU, ${process.env.KMODLAB_ACCEL ?? 'unknown accelerator'}` +
      (nicDriver ? `; ${HOST_DEVICE} ${nicDriver}` : ''),
  );
  if (options.filter !== null || options.ports > 1) {
    const share = keptShare(options.filter, options.source, options.sizes[0], options.ports);
    console.log(
      `[bench] destination ports ${FIRST_PORT}-${FIRST_PORT + options.ports - 1}, one a frame; ` +
        (options.filter === null ? 'no filter' : `filter '${options.filter}' keeps ${(100 * share).toFixed(1)}% of the frames`) +
        ` (loss counts against those; ${IGNORES_FILTER.join(' and ')} take all)`,
    );
  }
  const soaker = options.soaker ? await Soaker.start(soakerBinary(PROJECT_ROOT), cpuCount()) : null;
  let sweep: SweepResult;
  try {
    const sweepOf = options.source === 'host' ? runHostSweep : runPktgenSweep;
    sweep = await sweepOf(methods, options, soaker, ({ done, total, sample }) => console.log(progressLine(done, total, started, sample)));
  } finally {
    soaker?.close();
  }
  const summaries = summarize(sweep.samples, reference, [...methods.keys()]);

  let table = formatTable(summaries, options.source, reference, nicDriver ? `${HOST_DEVICE} ${nicDriver}` : null);
  if (options.source === 'host') table += `\n\n${formatLossFree(summaries, options.source, reference)}`;
  const filterCost = formatFilterCost(sweep.samples);
  if (filterCost) table += `\n\n${filterCost}`;
  console.log(`\n${table}`);
  const jsonFile = path.join(outDir, `bench-${stamp}.json`);
  const result = {
    benchmark: 'kmodlab bench',
    date: new Date().toISOString(),
    kernel: os.release(),
    accelerator: process.env.KMODLAB_ACCEL ?? 'unknown',
    vcpus: cpuCount(),
    // The device the frames came in on (pktgen: a veth pair the bench makes).
    device: options.source === 'host' ? { name: HOST_DEVICE, driver: nicDriver } : { name: DEVICE, driver: 'veth' },
    memoryMiB: Math.round(os.totalmem() / 2 ** 20),
    options,
    methods: [...methods.keys()],
    missing: MISSING,
    reference,
    cpuMeter: soaker ? 'soaker' : 'procstat',
    sourceCpu: options.source === 'pktgen' ? 0 : null,
    consumerCpus: sweep.consumerCpus,
    idleIterationsPerSec: { runs: sweep.idleRuns, median: sweep.idle },
    summaries,
    samples: sweep.samples,
    seconds: (Date.now() - started) / 1000,
  };
  fs.writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
  fs.writeFileSync(path.join(outDir, `bench-${stamp}.txt`), `${table}\n`);
  const plots = drawPlots(summaries, options.source, options.sizes, options.rates, path.join(outDir, `bench-${stamp}`));
  let profileFile: string | null = null;
  if (options.profile) {
    console.log(`[bench] profiling ${options.profile} (perf record -a)`);
    profileFile = await profile(options.profile, available().get(options.profile)!, options, outDir, stamp);
  }
  console.log(`\nresults (${Math.round((Date.now() - started) / 1000)} s):`);
  for (const file of [jsonFile, path.join(outDir, `bench-${stamp}.txt`), ...plots, ...(profileFile ? [profileFile] : [])]) {
    console.log(`  ${path.relative(process.cwd(), file)}`);
  }
  return 0;
}
