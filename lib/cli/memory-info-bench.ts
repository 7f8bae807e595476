// memory_info benchmark, run in the VM:
//   npm run vm -- node dist/cli/memory-info-bench.js [--sizes 5000,10000,...] [--rounds 7] [--force]
// For each N, a pagehold process holds N identical and N distinct read-only
// pages, all sizes at once under their own names. Each round RESETs (which
// forgets the groups found) and times FILTER of every size, in a rotating
// order, so that a slow moment of the host weighs on all sizes alike; the
// median per size and its growth per doubling of N (the median of the
// ratios within each round) are printed side by side.
// The result also goes to out/bench/memory-info.json (--output), which an
// earlier result there is not replaced unless --force says so.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { command, parseLine, reset } from '../memory-info';
import { PageHolder } from '../pagehold';
import { type CommandSpec, type ParsedCommandLine, badValue, integerValue, outputPath, runCommand } from './args';

const TARGET_RATIO = 2.3;
const TARGET_SECONDS_AT_40000 = 10;
const DEFAULT_OUTPUT = path.join(__dirname, '..', '..', 'out', 'bench', 'memory-info.json');

const spec = {
  name: 'node dist/cli/memory-info-bench.js',
  synopsis: '[--sizes N,N,...] [--rounds R] [--output FILE] [--force]',
  description:
    'Times memory_info FILTER on N identical + N distinct read-only pages held by pagehold processes,\n' +
    'for each N, in interleaved rounds; prints the median per N and the growth per doubling of N.\n' +
    'Run it in the VM: npm run vm -- node dist/cli/memory-info-bench.js',
  options: {
    sizes: { type: 'string', value: 'N,N,...', default: '5000,10000,20000,40000', help: 'pages of each kind per size' },
    rounds: { type: 'integer', value: 'R', min: 1, max: 1000, default: 7, help: 'timed rounds, after one warm-up round' },
    output: { type: 'string', value: 'FILE', help: 'where the JSON result goes (default out/bench/memory-info.json)' },
    force: { type: 'boolean', help: 'replace FILE if it exists (default: refuse, before measuring)' },
  },
} satisfies CommandSpec;

interface SizeResult {
  n: number;
  name: string;
  pagesHeld: number;
  filterMs: number[];
  filterMedianMs: number;
  filterMinMs: number;
  /** Over the time of N / 2 in the same round, median over rounds, if N / 2 was measured. */
  ratio: number | null;
  /** The same from the fastest rounds. */
  ratioOfMin: number | null;
  mayBeShared: number;
  nbGroup: number;
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

async function main({ values }: ParsedCommandLine<typeof spec>): Promise<void> {
  const sizes = values.sizes.split(',').map((text) => integerValue('--sizes', text, 1, 10_000_000));
  if (new Set(sizes).size !== sizes.length) throw badValue('--sizes', 'distinct sizes', values.sizes);
  const { rounds } = values;
  const output = outputPath(values.output ?? DEFAULT_OUTPUT, values.force);

  const holders: PageHolder[] = [];
  try {
    for (const n of sizes) holders.push(await PageHolder.start({ name: `mi-bench-${n}`, labels: { I: n }, unique: n }));
    const filterMs = sizes.map((): number[] => []);
    const resetMs: number[] = [];
    const lines = sizes.map(() => '');
    // Round 0 warms up: the first search of a run pays for code the others find ready.
    for (let round = 0; round <= rounds; round++) {
      const took = timeMs(reset);
      if (round > 0) resetMs.push(took);
      for (let k = 0; k < sizes.length; k++) {
        const i = (k + round) % sizes.length;
        const ms = timeMs(() => (lines[i] = command(`FILTER|mi-bench-${sizes[i]}`)));
        if (round > 0) filterMs[i].push(ms);
      }
    }

    const results: SizeResult[] = [];
    sizes.forEach((n, i) => {
      const record = parseLine(lines[i].trimEnd());
      // The helper's own pages have no twins: exactly the N identical pages, one group.
      if (record.mayBeShared !== n || record.nbGroup !== 1) {
        throw new Error(`N=${n}: expected may_be_shared ${n} and nb_group 1, got ${lines[i].trimEnd()}`);
      }
      const half = results.find((r) => r.n * 2 === n);
      const filterMedianMs = median(filterMs[i]);
      const filterMinMs = Math.min(...filterMs[i]);
      // Both sizes of a ratio come from one round: a slow moment of the host slows both.
      const ratios = half ? filterMs[i].map((ms, round) => ms / half.filterMs[round]) : [];
      results.push({
        n,
        name: record.name,
        pagesHeld: holders[i].heldPages,
        filterMs: filterMs[i],
        filterMedianMs,
        filterMinMs,
        ratio: half ? median(ratios) : null,
        ratioOfMin: half ? filterMinMs / half.filterMinMs : null,
        mayBeShared: record.mayBeShared,
        nbGroup: record.nbGroup,
      });
    });
    report(results, resetMs, rounds, output);
  } finally {
    await Promise.all(holders.map((h) => h.stop()));
  }
}

function report(results: SizeResult[], resetMs: number[], rounds: number, output: string): void {
  const ratios = results.flatMap((r) => (r.ratio === null ? [] : [r.ratio]));
  const maxRatio = ratios.length ? Math.max(...ratios) : null;
  const at40000 = results.find((r) => r.n === 40000);
  const ratioOk = maxRatio === null || maxRatio <= TARGET_RATIO;
  const timeOk = !at40000 || at40000.filterMedianMs <= TARGET_SECONDS_AT_40000 * 1000;

  console.log(
    `memory_info FILTER, N identical + N distinct read-only pages, ${rounds} interleaved rounds (${os.release()}, ${os.cpus().length} vCPU)`,
  );
  console.log('       N   pages held   FILTER median ms   x per doubling   FILTER min ms   x (min)   us/page');
  for (const r of results) {
    console.log(
      [
        String(r.n).padStart(8),
        String(r.pagesHeld).padStart(12),
        r.filterMedianMs.toFixed(1).padStart(18),
        (r.ratio === null ? '-' : r.ratio.toFixed(2)).padStart(16),
        r.filterMinMs.toFixed(1).padStart(15),
        (r.ratioOfMin === null ? '-' : r.ratioOfMin.toFixed(2)).padStart(9),
        ((r.filterMedianMs * 1000) / r.pagesHeld).toFixed(2).padStart(9),
      ].join(' '),
    );
  }
  console.log(`RESET (every process, all sizes held): median ${median(resetMs).toFixed(1)} ms`);
  console.log(
    `target: at most ${TARGET_RATIO}x per doubling (worst ${maxRatio === null ? '-' : maxRatio.toFixed(2)}x: ${ratioOk ? 'met' : 'MISSED'}), ` +
      `N=40000 under ${TARGET_SECONDS_AT_40000} s (${at40000 ? `${(at40000.filterMedianMs / 1000).toFixed(2)} s: ${timeOk ? 'met' : 'MISSED'}` : 'not run'})`,
  );

  fs.mkdirSync(path.dirname(output), { recursive: true });
  const summary = {
    benchmark: 'memory_info FILTER',
    date: new Date().toISOString(),
    kernel: os.release(),
    vcpus: os.cpus().length,
    rounds,
    resetMs,
    targets: { ratioPerDoubling: TARGET_RATIO, secondsAt40000: TARGET_SECONDS_AT_40000 },
    maxRatio,
    targetsMet: ratioOk && timeOk,
    sizes: results,
  };
  fs.writeFileSync(output, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`written to ${path.relative(process.cwd(), output)}`);
}

runCommand(spec, main);
