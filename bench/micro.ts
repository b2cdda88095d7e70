/**
 * In-process throughput of the core's hot paths on one thread (no start-up, no threads):
 *   npx tsx bench/micro.ts FILE [analysis]
 * Reports MB/s for the reader alone (a sink that ignores the rows) and with the analysis.
 */
import { FileSource } from '../lib/local/file-source.ts';
import { builtinAnalyses } from '../lib/core/analyses/index.ts';
import type { Analysis } from '../lib/core/analysis.ts';
import { scanSlice } from '../lib/core/job.ts';
import { planJob } from '../lib/core/plan.ts';

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
