/**
 * DCD scanning speed against .npy float32 holding the same numbers:
 *   npx tsx bench/dcd.ts [--mb 128] [--atoms 1000] [--workers 2] [--analysis sum] [--rounds 3]
 * Writes both files into bench-cache/ once, then times `fanout run` on each (same
 * analysis, same workers, a fresh state dir so nothing is resumed; best of --rounds runs
 * taking turns) and the readers alone in-process (an analysis that ignores its rows), and
 * prints MB/s and DCD/.npy ratios. CPU time is printed next to the wall clock: on a
 * shared machine it is the number to compare.
 * The target is a ratio of about 1: the per-axis records of DCD cost one transpose.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FileSource } from '../lib/local/file-source.ts';
import { builtinAnalyses } from '../lib/core/analyses/index.ts';
import type { Analysis } from '../lib/core/analysis.ts';
import { scanSlice } from '../lib/core/job.ts';
import { planJob } from '../lib/core/plan.ts';
import { randomCoords, writeCoordsNpy, writeDcd } from '../test/helpers/dcd.ts';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: { mb: { type: 'string', default: '128' }, atoms: { type: 'string', default: '1000' }, workers: { type: 'string', default: '2' }, analysis: { type: 'string', default: 'sum' }, rounds: { type: 'string', default: '3' } },
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

/** CPU seconds (user + system) of this process's waited-for children, from /proc (Linux); NaN elsewhere. */
function childrenCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // cutime and cstime are fields 16 and 17 of stat(5), in clock ticks (100 per second on Linux).
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return NaN;
  }
}

interface Speeds {
  /** MB/s over the job's own elapsedMs */
  job: number;
  /** MB/s over the wall clock, process start-up included */
  wall: number;
  /** MB/s over the CPU time of the whole process (all threads, user + system) */
  cpu: number;
}

/** One `fanout run` on a fresh state dir, so nothing is resumed. */
function cliRun(path: string): Speeds {
  const state = mkdtempSync(join(cache, 'state-'));
  try {
    const cpu0 = childrenCpuSeconds();
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/fanout.mjs'), 'run', path, '--analysis', values.analysis!, '--workers', values.workers!, '--state-dir', state, '--json', '--quiet'], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    });
    const wallMs = performance.now() - t0;
    const cpuSeconds = childrenCpuSeconds() - cpu0;
    if (r.status !== 0) throw new Error(`fanout run ${path} failed: ${r.stderr}`);
    const mb = statSync(path).size / 1e6;
    return { job: mb / ((JSON.parse(r.stdout) as { elapsedMs: number }).elapsedMs / 1000), wall: mb / (wallMs / 1000), cpu: mb / cpuSeconds };
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

/** The best of `rounds` runs of each file, taking turns (the machine may be shared). */
function cliMBps(paths: readonly string[], rounds: number): Speeds[] {
  const best = paths.map(() => ({ job: 0, wall: 0, cpu: 0 }));
  for (let round = 0; round < rounds; round++) {
    paths.forEach((path, k) => {
      const s = cliRun(path);
      const b = best[k]!;
      b.job = Math.max(b.job, s.job);
      b.wall = Math.max(b.wall, s.wall);
      b.cpu = Math.max(b.cpu, s.cpu);
    });
  }
  return best;
}

/** In-process MB/s of one slice over the whole file, wall and CPU: best of 5 rounds taking turns. */
async function scanMBps(paths: readonly string[], withAnalysis: boolean): Promise<{ wall: number; cpu: number }[]> {
  const real = builtinAnalyses[values.analysis!] as Analysis;
  const analysis: Analysis = withAnalysis ? real : { ...real, addRows: (s) => s };
  const sources = await Promise.all(paths.map((p) => FileSource.open(p)));
  try {
    const specs = await Promise.all(
      sources.map((src) => planJob(src, { name: real.name, options: {}, needsFrames: real.needsFrames, wholeFrames: real.wholeFrames }, { slices: 1 }, src.identity)),
    );
    const best = paths.map(() => ({ wall: Infinity, cpu: Infinity }));
    for (let round = 0; round < 5; round++) {
      for (let k = 0; k < paths.length; k++) {
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        await scanSlice(sources[k]!, specs[k]!, 0, analysis);
        const cpu = process.cpuUsage(cpu0);
        best[k]!.wall = Math.min(best[k]!.wall, performance.now() - t0);
        best[k]!.cpu = Math.min(best[k]!.cpu, (cpu.user + cpu.system) / 1000);
      }
    }
    const mbps = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000);
    return best.map((b, k) => ({ wall: mbps(sources[k]!.size, b.wall), cpu: mbps(sources[k]!.size, b.cpu) }));
  } finally {
    await Promise.all(sources.map((src) => src.close()));
  }
}

const row = (label: string, dcd: number, npy: number): string =>
  `${label.padEnd(40)} dcd ${dcd.toFixed(0).padStart(6)} MB/s   npy f4 ${npy.toFixed(0).padStart(6)} MB/s   dcd/npy ${(dcd / npy).toFixed(2)}`;

const reader = await scanMBps([dcdPath, npyPath], false);
const scan = await scanMBps([dcdPath, npyPath], true);
const [cliDcd, cliNpy] = cliMBps([dcdPath, npyPath], Number(values.rounds)) as [Speeds, Speeds];
console.log(`${frames} frames x ${atoms} atoms: dcd ${(statSync(dcdPath).size / 1e6).toFixed(1)} MB, npy ${(statSync(npyPath).size / 1e6).toFixed(1)} MB`);
console.log(row('reader only, 1 thread', reader[0]!.wall, reader[1]!.wall));
console.log(row('  same, over CPU time', reader[0]!.cpu, reader[1]!.cpu));
console.log(row(`reader + ${values.analysis}, 1 thread`, scan[0]!.wall, scan[1]!.wall));
console.log(row('  same, over CPU time', scan[0]!.cpu, scan[1]!.cpu));
console.log(row(`fanout run --analysis ${values.analysis} -w ${values.workers} (job)`, cliDcd.job, cliNpy.job));
console.log(row('  same, wall clock with start-up', cliDcd.wall, cliNpy.wall));
console.log(row('  same, over CPU time of all threads', cliDcd.cpu, cliNpy.cpu));
