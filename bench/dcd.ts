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

function cliMBps(path: string): number {
  const state = mkdtempSync(join(cache, 'state-'));
  try {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/fanout.mjs'), 'run', path, '--analysis', values.analysis!, '--workers', values.workers!, '--state-dir', state, '--json', '--quiet'], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`fanout run ${path} failed: ${r.stderr}`);
    return statSync(path).size / 1e6 / (ms / 1000);
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

async function readerMBps(path: string): Promise<number> {
  const source = await FileSource.open(path);
  try {
    const spec = await planJob(source, { name: 'sum', options: {} }, { slices: 1 }, source.identity);
    const noop: Analysis = { ...(builtinAnalyses.sum as Analysis), addRows: (s) => s };
    let best = Infinity;
    for (let rep = 0; rep < 3; rep++) {
      const t0 = performance.now();
      await scanSlice(source, spec, 0, noop);
      best = Math.min(best, performance.now() - t0);
    }
    return source.size / 1e6 / (best / 1000);
  } finally {
    await source.close();
  }
}

const row = (label: string, dcd: number, npy: number): string =>
  `${label.padEnd(34)} dcd ${dcd.toFixed(0).padStart(6)} MB/s   npy f4 ${npy.toFixed(0).padStart(6)} MB/s   dcd/npy ${(dcd / npy).toFixed(2)}`;

const readers = [await readerMBps(dcdPath), await readerMBps(npyPath)] as const;
const cli = [cliMBps(dcdPath), cliMBps(npyPath)] as const;
console.log(`${frames} frames x ${atoms} atoms: dcd ${(statSync(dcdPath).size / 1e6).toFixed(1)} MB, npy ${(statSync(npyPath).size / 1e6).toFixed(1)} MB`);
console.log(row('reader only, 1 thread', ...readers));
console.log(row(`fanout run --analysis ${values.analysis} -w ${values.workers}`, ...cli));
