// What `kmodlab bench` shows and keeps: the per-point summaries (median and
// spread over repeats), the table per source, the JSON with every raw sample,
// and the gnuplot script: delivered against offered frames per second, or a bar per method at one rate.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

import { median } from './bench-cpu';
import { LOSS_FREE_PCT, type MethodName, type Rate, type SourceName } from './bench-options';

/** One run of one method at one point. */
export interface Sample {
  source: SourceName;
  method: MethodName;
  size: number;
  offered: Rate;
  repeat: number;
  /** Place of the method in its round (methods rotate from round to round). */
  order: number;
  /** Frames the source injected, and over how long (the source's own clock where it has one). */
  sent: number;
  elapsedSec: number;
  /** What the source sustained: sent / elapsed (pktgen slows down with its consumer). */
  sourcePps: number;
  /** Frames of those sent the method should deliver: all of them, or those --filter keeps. */
  kept: number;
  /** Frames user space counted. */
  delivered: number;
  deliveredPps: number;
  ipv4: number;
  /** kept - delivered, and as a share of kept. */
  lost: number;
  lossPct: number;
  /** What the capture itself reported lost, if it says. */
  captureDropped: number | null;
  /** host: frames the e1000 missed for lack of a receive buffer (its missed-packets counter); null for pktgen. */
  nicMissed: number | null;
  /** host: frames the host kernel dropped at QEMU's socket while the e1000 was full (framegen's count); null for pktgen. */
  hostDropped: number | null;
  /** Soaker: each CPU's busy share; null without the soaker. */
  busy: number[] | null;
  /** /proc/stat shares summed over CPUs (the soaker's own time is user time). */
  procStat: { user: number; system: number; softirq: number; busy: number };
  /** Guest CPU nanoseconds per delivered frame (soaker, or /proc/stat busy without it). */
  cpuPerFrameNs: number | null;
}

export interface Summary {
  source: SourceName;
  method: MethodName;
  size: number;
  offered: Rate;
  runs: number;
  deliveredPps: number;
  deliveredPpsMin: number;
  deliveredPpsMax: number;
  sourcePps: number;
  lossPct: number;
  cpuPerFrameNs: number | null;
  /** delivered pps over the reference method's, median of the per-round ratios. */
  ratio: number | null;
  /** host: medians of the loss's parts: the method's own drops, NIC missed, host socket drops (null for pktgen). */
  lostParts: { capture: number; nic: number; host: number; other: number } | null;
}

const pointKey = (s: { source: string; size: number; offered: Rate }) => `${s.source}/${s.size}/${s.offered}`;

/**
 * Medians per (source, size, offered, method), in the order the points were first seen; within a
 * point, the methods in `methodOrder` (the order of -m) when given, else as first seen (the
 * rounds rotate the order the methods run in).
 */
export function summarize(samples: Sample[], reference: MethodName | null, methodOrder?: readonly MethodName[]): Summary[] {
  const groups = new Map<string, Sample[]>();
  for (const s of samples) {
    const key = `${pointKey(s)}/${s.method}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  const summaries: Summary[] = [];
  for (const group of groups.values()) {
    const first = group[0];
    const pps = group.map((s) => s.deliveredPps);
    const cpu = group.flatMap((s) => (s.cpuPerFrameNs === null ? [] : [s.cpuPerFrameNs]));
    // Ratios within a round: a slow moment of the host weighs on both sides.
    const ratios = reference
      ? group.flatMap((s) => {
          const ref = samples.find((r) => r.method === reference && pointKey(r) === pointKey(s) && r.repeat === s.repeat);
          return ref && ref.deliveredPps > 0 ? [s.deliveredPps / ref.deliveredPps] : [];
        })
      : [];
    summaries.push({
      source: first.source,
      method: first.method,
      size: first.size,
      offered: first.offered,
      runs: group.length,
      deliveredPps: median(pps),
      deliveredPpsMin: Math.min(...pps),
      deliveredPpsMax: Math.max(...pps),
      sourcePps: median(group.map((s) => s.sourcePps)),
      lossPct: median(group.map((s) => s.lossPct)),
      cpuPerFrameNs: cpu.length ? median(cpu) : null,
      ratio: ratios.length ? median(ratios) : null,
      lostParts:
        first.hostDropped === null
          ? null
          : {
              capture: median(group.map((s) => s.captureDropped ?? 0)),
              nic: median(group.map((s) => s.nicMissed ?? 0)),
              host: median(group.map((s) => s.hostDropped ?? 0)),
              other: median(group.map((s) => lostOther(s))),
            },
    });
  }
  if (!methodOrder) return summaries;
  const points = [...new Set(summaries.map(pointKey))];
  const rank = (m: MethodName) => (methodOrder.includes(m) ? methodOrder.indexOf(m) : methodOrder.length);
  return summaries
    .map((summary, i) => ({ summary, i }))
    .sort((a, b) => points.indexOf(pointKey(a.summary)) - points.indexOf(pointKey(b.summary)) || rank(a.summary.method) - rank(b.summary.method) || a.i - b.i)
    .map(({ summary }) => summary);
}

/**
 * The part of a host run's loss no counter names: kept - delivered - own drops - NIC missed - host drops
 * (may be < 0 when counters overlap, or with a filter, whose share of the NIC's and host's drops is unknown).
 */
export function lostOther(s: Sample): number {
  return s.kept - s.delivered - (s.captureDropped ?? 0) - (s.nicMissed ?? 0) - (s.hostDropped ?? 0);
}

/**
 * Each method's loss-free rate: the highest offered rate (a number, not
 * 'max') whose median loss is under LOSS_FREE_PCT, for one source and size;
 * null where no rate was loss-free.
 */
export function lossFreeRates(summaries: Summary[], source: SourceName, size: number): Map<MethodName, number | null> {
  const result = new Map<MethodName, number | null>();
  for (const s of summaries) {
    if (s.source !== source || s.size !== size) continue;
    const best = result.get(s.method) ?? null;
    if (!result.has(s.method)) result.set(s.method, null);
    if (s.offered !== 'max' && s.lossPct < LOSS_FREE_PCT && (best === null || s.offered > best)) result.set(s.method, s.offered);
  }
  return result;
}

/** The loss-free rates of every size as text lines, with the ratio to the reference's and to zc-ceiling's. */
export function formatLossFree(summaries: Summary[], source: SourceName, reference: MethodName | null): string {
  const sizes = [...new Set(summaries.filter((s) => s.source === source).map((s) => s.size))];
  const lines = [`loss-free rate (highest offered rate with < ${LOSS_FREE_PCT}% loss, median of the rounds):`];
  for (const size of sizes) {
    const rates = lossFreeRates(summaries, source, size);
    const ref = reference ? rates.get(reference) ?? null : null;
    const ceiling = rates.get('zc-ceiling') ?? null;
    for (const [method, rate] of rates) {
      const notes: string[] = [];
      if (rate !== null && ref && method !== reference) notes.push(`${(rate / ref).toFixed(2)}x ${reference}`);
      if (rate !== null && ceiling && method !== 'zc-ceiling') notes.push(`${((100 * rate) / ceiling).toFixed(0)}% of zc-ceiling`);
      const text = rate === null ? 'none of the rates offered' : `${kpps(rate)} kpps`;
      lines.push(`  ${size ? `${String(size).padStart(4)} B` : '  pcap'}  ${method.padEnd(13)} ${text}${notes.length ? ` (${notes.join(', ')})` : ''}`);
    }
  }
  return lines.join('\n');
}

/**
 * With a filter and the pktgen source, whose rate is what the consumer lets it sustain: each
 * method's source rate over fastnet-drop-unfiltered's in the same round (median), i.e. what
 * capturing through the filter costs against taking every frame and keeping none.
 */
export function formatFilterCost(samples: Sample[]): string | null {
  const reference: MethodName = 'fastnet-drop-unfiltered';
  const pktgen = samples.filter((s) => s.source === 'pktgen');
  if (!pktgen.some((s) => s.method === reference)) return null;
  const lines = [`source rate against ${reference}'s in the same round (median):`];
  const groups = new Map<string, Sample[]>();
  for (const s of pktgen) {
    if (s.method === reference) continue;
    const key = `${s.size}/${s.offered}/${s.method}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const group of groups.values()) {
    const ratios = group.flatMap((s) => {
      const ref = pktgen.find((r) => r.method === reference && pointKey(r) === pointKey(s) && r.repeat === s.repeat);
      return ref && ref.sourcePps > 0 ? [s.sourcePps / ref.sourcePps] : [];
    });
    if (ratios.length === 0) continue;
    const { size, offered, method } = group[0];
    lines.push(`  ${String(size).padStart(4)} B  ${rateText(offered).padStart(5)}  ${method.padEnd(13)} ${median(ratios).toFixed(2)}x`);
  }
  return lines.length > 1 ? lines.join('\n') : null;
}

const kpps = (pps: number) => (pps / 1000).toFixed(1);
/** A point's frame size; 0: a replayed file's frames. */
export const sizeText = (size: number) => (size === 0 ? 'pcap' : String(size));
const rateText = (rate: Rate) => (rate === 'max' ? 'max' : kpps(rate));

/** The table of one source (and the device it fed, when named): a row per point and method. */
export function formatTable(summaries: Summary[], source: SourceName, reference: MethodName | null, device: string | null = null): string {
  const rows = summaries.filter((s) => s.source === source);
  const parts = rows.some((s) => s.lostParts !== null);
  const header = ['method', 'bytes', 'offered kpps', 'source kpps', 'delivered kpps', '(min-max)', 'loss %', 'CPU ns/frame', `x ${reference ?? '-'}`];
  if (parts) header.push('lost: own/NIC/host/other');
  const cells = rows.map((s) => [
    s.method,
    sizeText(s.size),
    rateText(s.offered),
    kpps(s.sourcePps),
    kpps(s.deliveredPps),
    `${kpps(s.deliveredPpsMin)}-${kpps(s.deliveredPpsMax)}`,
    s.lossPct.toFixed(2),
    s.cpuPerFrameNs === null ? '-' : s.cpuPerFrameNs.toFixed(0),
    s.ratio === null ? '-' : s.ratio.toFixed(2),
    ...(parts ? [s.lostParts ? `${s.lostParts.capture}/${s.lostParts.nic}/${s.lostParts.host}/${s.lostParts.other}` : '-'] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [`source ${source}${device ? `, ${device}` : ''}`, line(header), ...cells.map(line)].join('\n');
}

/** What one plot shows: a source and frame size, the rates offered, the methods drawn. */
export interface PlotSpec {
  source: SourceName;
  size: number;
  rates: Rate[];
  methods: MethodName[];
}

/** One offered rate: a bar per method; several: a line per method against the offered rate. */
export const plotsBars = (rates: Rate[]) => rates.length === 1;

/**
 * gnuplot's data. Several rates: one block per method (blocks apart by two
 * blank lines), x = offered rate's index, xtic = the rate. One rate: one
 * block, a row per method, x = the method's index, xtic = its name.
 * Columns: x, label, delivered pps median, min, max.
 */
export function plotData(summaries: Summary[], source: SourceName, size: number, rates: Rate[]): { data: string; methods: MethodName[] } {
  const rows = summaries.filter((s) => s.source === source && s.size === size);
  const methods = [...new Set(rows.map((s) => s.method))];
  const line = (x: number, label: string, s: Summary) => `${x} "${label}" ${s.deliveredPps} ${s.deliveredPpsMin} ${s.deliveredPpsMax}`;
  if (plotsBars(rates)) {
    const drawn = methods.filter((method) => rows.some((r) => r.method === method && r.offered === rates[0]));
    const lines = drawn.map((method, i) => line(i, method, rows.find((r) => r.method === method && r.offered === rates[0])!));
    return { data: `${lines.join('\n')}\n`, methods: drawn };
  }
  const blocks = methods.map((method) =>
    rates
      .map((rate, i) => {
        const s = rows.find((r) => r.method === method && r.offered === rate);
        return s ? line(i, rateText(rate), s) : null;
      })
      .filter((line): line is string => line !== null)
      .join('\n'),
  );
  return { data: `${blocks.join('\n\n\n')}\n`, methods };
}

/** The plot's title. */
export function plotTitle(spec: PlotSpec): string {
  return plotsBars(spec.rates)
    ? `${spec.source}, ${spec.size ? `${spec.size}-byte frames` : 'a replayed file'}: delivered per method`
    : `${spec.source}, ${spec.size ? `${spec.size}-byte frames` : 'a replayed file'}: delivered against offered`;
}

/** The bar chart's x label: what the one offered rate is, in the source's own terms. */
function barsXlabel(source: SourceName, rate: Rate): string {
  if (rate === 'max') return 'method (offered: max, as fast as pktgen goes)';
  return `method (dashed: offered ${kpps(rate)} kpps${source === 'host' ? ', paced by the host' : ''})`;
}

/**
 * A gnuplot script drawing the data file (plotData's) to `output` with
 * `terminal`. Enhanced text is off: method names print as written (af_xdp
 * is no subscript).
 */
export function plotScript(dataFile: string, spec: PlotSpec, terminal: string, output: string): string {
  const quote = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
  const head = [
    `set terminal ${terminal}`,
    'set termoption noenhanced',
    `set output ${quote(output)}`,
    `set title ${quote(plotTitle(spec))}`,
    'set ylabel "delivered kpps (median, min-max)"',
    'set grid ytics',
    'set yrange [0:*]',
  ];
  if (plotsBars(spec.rates)) {
    const rate = spec.rates[0];
    const file = quote(dataFile);
    const plots = [
      // The offered rate as a dashed line behind the bars (pktgen's max has no number to draw).
      ...(rate === 'max' ? [] : [`${rate / 1000} with lines dt 2 lw 2 lc rgb "gray30" notitle`]),
      `${file} using 1:($3/1000):($1+1):xtic(2) with boxes lc variable notitle`,
      // min-max as whiskers (yerrorbars leave a gap at the median).
      `${file} using 1:($3/1000):($4/1000):($5/1000):($3/1000):(0.12) with candlesticks whiskerbars lc rgb "black" fill empty notitle`,
      `${file} using 1:($5/1000):(sprintf("%.1f", $3/1000)) with labels offset 0,0.8 notitle`,
    ];
    return [
      ...head,
      `set xlabel ${quote(barsXlabel(spec.source, rate))}`,
      'set style fill solid 0.7 border -1',
      'set boxwidth 0.6',
      `set xrange [-0.6:${spec.methods.length - 0.4}]`,
      // Names slanted where they would run into each other side by side (about 80 characters across).
      spec.methods.length * Math.max(...spec.methods.map((m) => m.length)) > 80 ? 'set xtics scale 0 rotate by 30 right' : 'set xtics scale 0',
      'unset key',
      'set offsets 0, 0, graph 0.08, 0',
      `plot ${plots.join(', \\\n  ')}`,
      '',
    ].join('\n');
  }
  const plots = spec.methods.map(
    (method, i) => `${quote(dataFile)} index ${i} using 1:($3/1000):($4/1000):($5/1000):xtic(2) with yerrorlines title ${quote(method)}`,
  );
  const xlabel = spec.source === 'host' ? 'offered kpps (paced by the host)' : 'offered kpps (max: as fast as pktgen goes)';
  return [
    ...head,
    `set xlabel ${quote(xlabel)}`,
    'set grid xtics',
    'set key outside right',
    'set offsets 0.3, 0.3, 0, 0',
    `plot ${plots.join(', \\\n  ')}`,
    '',
  ].join('\n');
}

/**
 * Draws every size's plot of one source to `${base}-${source}-${size}B`: the
 * data (.dat, which the plots are drawn from), SVG and PNG (a script gnuplot
 * refused is kept beside, .gp). Returns every file it leaves: the data and
 * the pictures, each size's in turn, and the scripts kept.
 */
export function drawPlots(summaries: Summary[], source: SourceName, sizes: number[], rates: Rate[], base: string): string[] {
  const written: string[] = [];
  for (const size of sizes) {
    const { data, methods } = plotData(summaries, source, size, rates);
    if (methods.length === 0) continue;
    const stem = `${base}-${source}-${size}B`;
    fs.writeFileSync(`${stem}.dat`, data);
    written.push(`${stem}.dat`);
    const outputs: [string, string][] = [
      ['svg size 900,540 dynamic', `${stem}.svg`],
      ['pngcairo size 900,540', `${stem}.png`],
    ];
    for (const [terminal, output] of outputs) {
      const script = plotScript(`${stem}.dat`, { source, size, rates, methods }, terminal, output);
      fs.writeFileSync(`${output}.gp`, script);
      try {
        execFileSync('gnuplot', [`${output}.gp`], { stdio: ['ignore', 'ignore', 'pipe'] });
        fs.rmSync(`${output}.gp`);
        written.push(output);
      } catch (error) {
        console.error(`[bench] gnuplot could not draw ${output} (${(error as Error).message.split('\n')[0]}); script kept: ${output}.gp`);
        written.push(`${output}.gp`);
      }
    }
  }
  return written;
}
