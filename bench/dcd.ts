/**
 * DCD scanning speed against .npy float32 holding the same numbers:
 *   npx tsx bench/dcd.ts [--mb 128] [--atoms 1000] [--workers 2] [--analysis sum]
 * Writes both files into bench-cache/ once, then times `fanout run` on each (same
 * analysis, same workers, a fresh state dir so nothing is resumed) and the readers alone
 * in-process (an analysis that ignores its rows), and prints MB/s and DCD/.npy ratios.
 * The target is a ratio of about 1: the per-axis records of DCD cost one transpose.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FileSource } from '../lib/adapters/file-source.ts';
import { builtinAnalyses } from '../lib/core/analyses/index.ts';
import type { Analysis } from '../lib/core/analysis.ts';
import { scanSlice } from '../lib/core/job.ts';
import { planJob } from '../lib/core/plan.ts';
import { randomCoords, writeCoordsNpy, writeDcd } from '../test/helpers/dcd.ts';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: { mb: { type: 'string', default: '128' }, atoms: { type: 'string', default: '1000' }, workers: { type: 'string', default: '2' }, analysis: { type: 'string', default: 'sum' } },
});
const atoms = Number(values.atoms);
const frames = Math.max(1, Math.round((Number(values.mb) * 1e6) / (atoms * 12)));
const cache = join(ROOT, 'bench-cache');
mkdirSync(cache, { recursive: true });
const dcdPath = join(cache, `dcd-${frames}x${atoms}.dcd`);
const npyPath = join(cache, `dcd-${frames}x${atoms}.npy`);
if (!existsSync(dcdPath) || !existsSync(npyPath)) {
  console.error(`writing ${frames} frames of ${atoms} atoms to ${dcdPath} and ${npyPath}`);
  const d = { atoms, coords: randomCoords(frames, atoms, 3), cells: Array.from({ length: frames }, () => [50, 0, 50, 0, 0, 50]) };
  writeDcd(dcdPath, d);
  writeCoordsNpy(npyPath, d);
}

/** MB/s of one `fanout run`: over the job's own elapsedMs, and over the wall clock (process start-up included). */
function cliMBps(path: string): { job: number; wall: number } {
  const state = mkdtempSync(join(cache, 'state-'));
  try {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/fanout.mjs'), 'run', path, '--analysis', values.analysis!, '--workers', values.workers!, '--state-dir', state, '--json', '--quiet'], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    });
    const wallMs = performance.now() - t0;
    if (r.status !== 0) throw new Error(`fanout run ${path} failed: ${r.stderr}`);
    const mb = statSync(path).size / 1e6;
    return { job: mb / ((JSON.parse(r.stdout) as { elapsedMs: number }).elapsedMs / 1000), wall: mb / (wallMs / 1000) };
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

/** In-process MB/s of one slice over the whole file, best of 5 rounds alternating the two files (the machine is shared). */
async function scanMBps(paths: readonly string[], withAnalysis: boolean): Promise<number[]> {
  const real = builtinAnalyses[values.analysis!] as Analysis;
  const analysis: Analysis = withAnalysis ? real : { ...real, addRows: (s) => s };
  const sources = await Promise.all(paths.map((p) => FileSource.open(p)));
  try {
    const specs = await Promise.all(
      sources.map((src) => planJob(src, { name: real.name, options: {}, needsFrames: real.needsFrames, wholeFrames: real.wholeFrames }, { slices: 1 }, src.identity)),
    );
    const best = paths.map(() => Infinity);
    for (let round = 0; round < 5; round++) {
      for (let k = 0; k < paths.length; k++) {
        const t0 = performance.now();
        await scanSlice(sources[k]!, specs[k]!, 0, analysis);
        best[k] = Math.min(best[k]!, performance.now() - t0);
      }
    }
    return best.map((ms, k) => sources[k]!.size / 1e6 / (ms / 1000));
  } finally {
    await Promise.all(sources.map((src) => src.close()));
  }
}

const row = (label: string, dcd: number, npy: number): string =>
  `${label.padEnd(40)} dcd ${dcd.toFixed(0).padStart(6)} MB/s   npy f4 ${npy.toFixed(0).padStart(6)} MB/s   dcd/npy ${(dcd / npy).toFixed(2)}`;

const [readerDcd, readerNpy] = await scanMBps([dcdPath, npyPath], false);
const [scanDcd, scanNpy] = await scanMBps([dcdPath, npyPath], true);
const cli = [cliMBps(dcdPath), cliMBps(npyPath)] as const;
console.log(`${frames} frames x ${atoms} atoms: dcd ${(statSync(dcdPath).size / 1e6).toFixed(1)} MB, npy ${(statSync(npyPath).size / 1e6).toFixed(1)} MB`);
console.log(row('reader only, 1 thread', readerDcd!, readerNpy!));
console.log(row(`reader + ${values.analysis}, 1 thread`, scanDcd!, scanNpy!));
console.log(row(`fanout run --analysis ${values.analysis} -w ${values.workers} (job)`, cli[0].job, cli[1].job));
console.log(row('  same, wall clock with start-up', cli[0].wall, cli[1].wall));
