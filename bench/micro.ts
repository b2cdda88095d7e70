/**
 * In-process throughput of the core's hot paths on one thread (no start-up, no threads):
 *   npx tsx bench/micro.ts FILE [analysis]
 * Reports MB/s for the reader alone (a sink that ignores the rows) and with the analysis.
 *
 *   npx tsx bench/micro.ts --parsers FILE [rounds]
 * The text reader alone on FILE with its WebAssembly record parser and without it (the
 * JavaScript fast path), in turns: MB per CPU second (process.cpuUsage), median of rounds.
 *
 *   npx tsx bench/micro.ts --parse FILE [rounds] [MB]
 * The WebAssembly record parser alone, on the first MB (default 100) megabytes of a CSV
 * held in memory (no reads, no JavaScript reader): CPU ns per field, median of rounds.
 *
 *   npx tsx bench/micro.ts --kernel
 * The exact sums against a plain `+=` loop over the same Float64Array (in the WebAssembly
 * kernel's memory, where the readers decode): ExactSum.addRange (sum, stats) and row-sums'
 * addRows, each through WebAssembly and through the JavaScript reference. CPU time per
 * value (process.cpuUsage, steadier than the wall clock on a shared machine), median of 7
 * rounds taken in turns, and the ratio to the plain loop.
 */
import { FileSource } from '../lib/local/file-source.ts';
import { builtinAnalyses } from '../lib/core/analyses/index.ts';
import type { Analysis } from '../lib/core/analysis.ts';
import { scanSlice } from '../lib/core/job.ts';
import { planJob } from '../lib/core/plan.ts';
import { ExactSum } from '../lib/core/exact-sum.ts';
import { borrowValues, takeKernelValues, useWasmKernel, wasmKernel } from '../lib/core/exact-sum-wasm.ts';
import { rowSums } from '../lib/core/analyses/row-sums.ts';
import { readFileSync } from 'node:fs';
import { INPUT_BYTES, recordsStop, useWasmRecords, wasmRecords } from '../lib/core/text/wasm-records.ts';

if (process.argv[2] === '--kernel') {
  await kernel();
  process.exit(0);
}
if (process.argv[2] === '--parse') {
  parse(process.argv[3]!, Number(process.argv[4] ?? 9), Number(process.argv[5] ?? 100));
  process.exit(0);
}
if (process.argv[2] === '--parsers') {
  await parsers(process.argv[3]!, Number(process.argv[4] ?? 7));
  process.exit(0);
}

const [file, analysisName = 'sum'] = process.argv.slice(2);
if (!file) throw new Error('usage: bench/micro.ts FILE [analysis]');
const source = await FileSource.open(file);
const frameRows = analysisName === 'row-sums' && !file.endsWith('.npy') ? 50 : undefined;
const spec = await planJob(source, { name: analysisName, options: {} }, { slices: 1, frameRows }, source.identity);
const real = builtinAnalyses[analysisName]! as Analysis;
const noop: Analysis = { ...real, addRows: (s) => s };
for (const [label, analysis] of [['reader only', noop], [analysisName, real]] as const) {
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    await scanSlice(source, spec, 0, analysis);
    const ms = performance.now() - t0;
    console.log(`${label.padEnd(12)} ${(source.size / 1e6 / (ms / 1000)).toFixed(0).padStart(5)} MB/s  (${ms.toFixed(0)} ms)`);
  }
}
await source.close();

function plainSum(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
}

async function kernel(): Promise<void> {
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const N = 1 << 18; // 2 MiB of doubles: one slot of the kernel's memory, in cache
  const REPS = 100;
  let seed = 12345;
  const uniform = () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return (seed + 0.5) / 4294967296;
  };
  const data: Record<string, () => number> = {
    'standard normal': () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()),
    '%.6f uniform(-1000, 1000)': () => Math.round((uniform() * 2000 - 1000) * 1e6) / 1e6,
  };
  console.log(`WebAssembly kernel: ${wasmKernel ? 'yes' : 'no (JavaScript only)'}; ${N} values, ${REPS} passes a round; ns a value (CPU), median of 7`);
  await borrowValues(N, async (values) => {
    for (const [name, gen] of Object.entries(data)) {
      for (let i = 0; i < N; i++) values[i] = gen();
      const ctx = { columns: 100, frameRows: 50, options: {} };
      const rows = N / 100;
      const runs: Record<string, () => void> = {
        'plain += loop': () => {
          let x = 0;
          for (let k = 0; k < REPS; k++) x += plainSum(values);
          if (x === 0.5) console.log('');
        },
        'sum: ExactSum.addRange, WebAssembly': () => {
          const s = new ExactSum();
          for (let k = 0; k < REPS; k++) s.addRange(values, 0, N);
        },
        'sum: ExactSum.addRange, JavaScript': () => {
          useWasmKernel(false);
          const s = new ExactSum();
          for (let k = 0; k < REPS; k++) s.addRange(values, 0, N);
          useWasmKernel(true);
        },
        'row-sums (rows of 100), WebAssembly': () => {
          const st = rowSums.empty(ctx);
          for (let k = 0; k < REPS; k++) rowSums.addRows(st, values, Math.floor(rows), 100, k * Math.floor(rows), ctx);
        },
        'row-sums (rows of 100), JavaScript': () => {
          useWasmKernel(false);
          const st = rowSums.empty(ctx);
          for (let k = 0; k < REPS; k++) rowSums.addRows(st, values, Math.floor(rows), 100, k * Math.floor(rows), ctx);
          useWasmKernel(true);
        },
      };
      const times: Record<string, number[]> = {};
      for (let round = 0; round < 8; round++) {
        for (const [label, run] of Object.entries(runs)) {
          const t0 = cpuMs();
          run();
          // The first round warms up (compilation, tiering): not counted.
          if (round > 0) (times[label] ??= []).push(((cpuMs() - t0) * 1e6) / (REPS * N));
        }
      }
      const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;
      const plain = median(times['plain += loop']!);
      console.log(`\n${name}`);
      for (const [label, ts] of Object.entries(times)) console.log(`  ${label.padEnd(38)} ${median(ts).toFixed(2).padStart(5)} ns  ${(median(ts) / plain).toFixed(2)}x`);
    }
  });
}

async function parsers(file: string, rounds: number): Promise<void> {
  const source = await FileSource.open(file);
  const spec = await planJob(source, { name: 'sum', options: {} }, { slices: 1 }, source.identity);
  const noop: Analysis = { ...(builtinAnalyses.sum as Analysis), addRows: (s) => s };
  const cpuS = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const times: Record<string, number[]> = { WebAssembly: [], JavaScript: [] };
  for (let round = 0; round <= rounds; round++) {
    for (const label of Object.keys(times)) {
      useWasmRecords(label === 'WebAssembly');
      const t0 = cpuS();
      await scanSlice(source, spec, 0, noop);
      if (round > 0) times[label]!.push(cpuS() - t0); // round 0 warms up
    }
  }
  useWasmRecords(true);
  await source.close();
  const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;
  console.log(`${file}: ${(source.size / 1e6).toFixed(0)} MB, reader only, median of ${rounds} rounds in turns`);
  for (const [label, ts] of Object.entries(times)) console.log(`  ${label.padEnd(12)} ${median(ts).toFixed(3)} CPU s  ${(source.size / 1e6 / median(ts)).toFixed(0).padStart(5)} MB per CPU s`);
}

function parse(file: string, rounds: number, megabytes: number): void {
  const all = readFileSync(file).subarray(0, megabytes * 1e6);
  const columns = all.subarray(0, all.indexOf(10)).toString().split(',').length;
  const values = takeKernelValues(65536 - (65536 % columns))!;
  const cap = values.length / columns;
  // whole lines, at most the parser's input at a time (copied there by each call, as a source that cannot read into it)
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < all.length; ) {
    const to = all.lastIndexOf(10, Math.min(all.length, at + INPUT_BYTES) - 1) + 1;
    if (to <= at) break;
    chunks.push(all.subarray(at, to));
    at = to;
  }
  let fields = 0;
  const pass = (): void => {
    fields = 0;
    for (const c of chunks) {
      for (let i = 0; i < c.length; ) {
        fields += wasmRecords(c, i, c.length, c.length, values, 0, columns, 44, cap) * columns;
        if (recordsStop[1] === 1) throw new Error(`${file}: a record the WebAssembly parser does not take, at ${recordsStop[0]} of a chunk`);
        i = recordsStop[0]!;
      }
    }
  };
  const times: number[] = [];
  for (let round = 0; round <= rounds; round++) {
    const t0 = process.cpuUsage();
    pass();
    const u = process.cpuUsage(t0);
    if (round > 0) times.push((u.user + u.system) / 1e6); // round 0 warms up
  }
  times.sort((a, b) => a - b);
  const median = times[times.length >> 1]!;
  const bytes = chunks.reduce((n, c) => n + c.length, 0);
  console.log(`${file}: the first ${(bytes / 1e6).toFixed(0)} MB, ${fields} fields, WebAssembly parser alone, median of ${rounds}: ${((median * 1e9) / fields).toFixed(2)} ns a field, ${(bytes / 1e6 / median).toFixed(0)} MB per CPU s`);
}
