// memory_info benchmark, run in the VM:
//   bash qemu/vm.sh -- node dist/cli/memory-info-bench.js [--sizes 5000,10000,...] [--repeat 5]
// For each N, a pagehold process holds N identical and N distinct read-only
// pages; FILTER of its name (the identical-page search, which runs once per
// RESET) is timed, and the growth per doubling of N is printed beside it.
// The result also goes to out/bench/memory-info.json.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { command, parseLine, reset } from '../memory-info';
import { PageHolder } from '../pagehold';

const NAME = 'mi-bench';
const TARGET_RATIO = 2.3;
const TARGET_SECONDS_AT_40000 = 10;
const OUTPUT = path.join(__dirname, '..', '..', 'out', 'bench', 'memory-info.json');

interface SizeResult {
  n: number;
  pagesHeld: number;
  resetMs: number[];
  filterMs: number[];
  filterMedianMs: number;
  filterMinMs: number;
  /** Median FILTER time over that of the previous size (a doubling), if any. */
  ratio: number | null;
  mayBeShared: number;
  nbGroup: number;
}

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function timeMs(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function measure(n: number, repeat: number): Promise<Omit<SizeResult, 'ratio'>> {
  const holder = await PageHolder.start({ name: NAME, labels: { I: n }, unique: n });
  try {
    const resetMs: number[] = [];
    const filterMs: number[] = [];
    let line = '';
    for (let i = 0; i < repeat; i++) {
      // RESET forgets the groups found, so each FILTER searches again.
      resetMs.push(timeMs(reset));
      filterMs.push(timeMs(() => (line = command(`FILTER|${NAME}`))));
    }
    const record = parseLine(line.trimEnd());
    // The helper's own pages have no twins: exactly the N identical pages, one group.
    if (record.mayBeShared !== n || record.nbGroup !== 1) {
      throw new Error(`N=${n}: expected may_be_shared ${n} and nb_group 1, got ${line.trimEnd()}`);
    }
    return {
      n,
      pagesHeld: holder.heldPages,
      resetMs,
      filterMs,
      filterMedianMs: median(filterMs),
      filterMinMs: Math.min(...filterMs),
      mayBeShared: record.mayBeShared,
      nbGroup: record.nbGroup,
    };
  } finally {
    await holder.stop();
  }
}

async function main(): Promise<void> {
  const sizes = option('--sizes', '5000,10000,20000,40000').split(',').map(Number);
  const repeat = Number(option('--repeat', '5'));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(repeat) || repeat < 1) {
    throw new Error('usage: memory-info-bench [--sizes N,N,...] [--repeat R]');
  }

  // Warm-up: the first search of a run pays for code the others find ready.
  await measure(Math.min(...sizes), 1);

  const results: SizeResult[] = [];
  for (const n of sizes) {
    const measured = await measure(n, repeat);
    const previous = results.at(-1);
    const ratio = previous && n === 2 * previous.n ? measured.filterMedianMs / previous.filterMedianMs : null;
    results.push({ ...measured, ratio });
  }

  const ratios = results.flatMap((r) => (r.ratio === null ? [] : [r.ratio]));
  const maxRatio = ratios.length ? Math.max(...ratios) : null;
  const at40000 = results.find((r) => r.n === 40000);
  const ratioOk = maxRatio === null || maxRatio <= TARGET_RATIO;
  const timeOk = !at40000 || at40000.filterMedianMs <= TARGET_SECONDS_AT_40000 * 1000;

  console.log(`memory_info FILTER, N identical + N distinct read-only pages, median of ${repeat} (${os.release()}, ${os.cpus().length} vCPU)`);
  console.log('       N   pages held   RESET ms   FILTER ms   FILTER min ms   us/page   x per doubling');
  for (const r of results) {
    console.log(
      [
        String(r.n).padStart(8),
        String(r.pagesHeld).padStart(12),
        median(r.resetMs).toFixed(1).padStart(10),
        r.filterMedianMs.toFixed(1).padStart(11),
        r.filterMinMs.toFixed(1).padStart(15),
        ((r.filterMedianMs * 1000) / r.pagesHeld).toFixed(2).padStart(9),
        (r.ratio === null ? '-' : r.ratio.toFixed(2)).padStart(16),
      ].join(' '),
    );
  }
  console.log(
    `target: at most ${TARGET_RATIO}x per doubling (worst ${maxRatio === null ? '-' : maxRatio.toFixed(2)}x: ${ratioOk ? 'met' : 'MISSED'}), ` +
      `N=40000 under ${TARGET_SECONDS_AT_40000} s (${at40000 ? `${(at40000.filterMedianMs / 1000).toFixed(2)} s: ${timeOk ? 'met' : 'MISSED'}` : 'not run'})`,
  );

  fs.mkdirSync(path.dirname(OUTPUT), { recursive: true });
  const report = {
    benchmark: 'memory_info FILTER',
    date: new Date().toISOString(),
    kernel: os.release(),
    vcpus: os.cpus().length,
    repeat,
    targets: { ratioPerDoubling: TARGET_RATIO, secondsAt40000: TARGET_SECONDS_AT_40000 },
    maxRatio,
    targetsMet: ratioOk && timeOk,
    sizes: results,
  };
  fs.writeFileSync(OUTPUT, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`written to ${path.relative(process.cwd(), OUTPUT)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
