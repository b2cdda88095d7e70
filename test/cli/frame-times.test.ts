/**
 * Frame times: XTC and TRR frames carry a time each, AMBER NetCDF a `time` variable. The
 * per-frame analyses (rg, rmsd) give them as `timePs`, in frame order, each the time
 * MDAnalysis reads (`ts.time`, ps), however the trajectory is sliced; `fanout report` plots
 * against them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runJson, tempDir } from '../helpers/cli.ts';
import { mdaMissing, mdaPython, mdDataMissing, mdFile, missing, skipNote } from '../helpers/md.ts';

const tmp = tempDir('fanout-cli-times-');
afterAll(() => tmp.cleanup());

/** MDAnalysis's ts.time of every frame (ps), read from a copy (its XTC/TRR offsets file lands there). */
function mdaTimes(path: string): number[] {
  return mdaPython<number[]>(
    `
import shutil, tempfile
d = tempfile.mkdtemp()
u = mda.Universe.empty(1, trajectory=True)
from MDAnalysis.coordinates.core import get_reader_for
r = get_reader_for(args)(shutil.copy(args, d))
print(json.dumps([float(ts.time) for ts in r]))
shutil.rmtree(d)`,
    path,
  );
}

/** The time values a NetCDF stores, as they are (read by scipy: no unit applied). */
function mdaTimesRaw(path: string): number[] {
  return mdaPython<number[]>(
    `
from scipy.io import netcdf_file
f = netcdf_file(args, 'r', mmap=False)
print(json.dumps([float(t) for t in f.variables['time'][:]]))`,
    path,
  );
}

/**
 * Writes `frames` frames of `atoms` atoms with MDAnalysis's writer for the path's extension,
 * each frame's time set to 0.25 f^2 + 3 ps (uneven steps, so that no time step could stand in).
 */
function mdaWriteTimed(path: string, frames: number, atoms: number): void {
  mdaPython(
    `
from MDAnalysis.coordinates.memory import MemoryReader
F, n = args['frames'], args['atoms']
rng = np.random.default_rng(5)
x = (rng.uniform(0, 30, size=(1, n, 3)) + rng.normal(scale=0.3, size=(F, n, 3)).cumsum(axis=0)).astype(np.float32)
u = mda.Universe.empty(n, trajectory=True)
u.load_new(x, format=MemoryReader, dimensions=np.array([[40, 40, 40, 90, 90, 90]] * F, dtype=np.float32))
with mda.Writer(args['path'], n) as W:
    for ts in u.trajectory:
        ts.time = 0.25 * ts.frame ** 2 + 3
        W.write(u)
print('null')`,
    { path, frames, atoms },
  );
}

describe('frame times', () => {
  it.skipIf(missing(mdaMissing)).each(['xtc', 'trr', 'ncdf'])(
    skipNote('a .%s written by MDAnalysis with uneven frame times: rg and rmsd give MDAnalysis ts.time of every frame, at 1 to 60 slices on 1 and 2 workers', mdaMissing),
    (ext) => {
      if (mdaMissing) return;
      const path = join(tmp.path, `timed.${ext}`);
      mdaWriteTimed(path, 60, 11);
      const want = mdaTimes(path);
      expect(want[7]).toBe(0.25 * 49 + 3);
      for (const [slices, workers] of [
        [1, 1],
        [3, 2],
        [60, 2],
      ] as const) {
        for (const analysis of ['rg', 'rmsd']) {
          const doc = runJson([path, '--analysis', analysis, '--slices', String(slices), '--workers', String(workers), '--state-dir', join(tmp.path, 'state')]);
          expect(doc.result.timePs, `${analysis}, ${slices} slices`).toEqual(want);
          expect((doc.result[analysis] as number[]).length).toBe(want.length);
        }
      }
    },
  );

  it.skipIf(missing(mdaMissing)).each(['xtc', 'ncdf'])(skipNote('.%s in two parts, with an atom selection: the parts\' times in frame order', mdaMissing), (ext) => {
    if (mdaMissing) return;
    const parts = [join(tmp.path, `p1.${ext}`), join(tmp.path, `p2.${ext}`)];
    mdaWriteTimed(parts[0]!, 9, 11);
    mdaWriteTimed(parts[1]!, 5, 11);
    const want = [...mdaTimes(parts[0]!), ...mdaTimes(parts[1]!)];
    expect(want).toHaveLength(14);
    for (const slices of ['1', '4', '14']) {
      const doc = runJson([...parts, '--analysis', 'rg', '--atoms', '2-7', '--slices', slices, '--state-dir', join(tmp.path, 'state')]);
      expect(doc.result.timePs, `${slices} slices`).toEqual(want);
    }
    if (ext !== 'ncdf') return;
    // a part whose time is in ns (its units attribute patched, same length): the parts store times differently, so no times
    const bytes = readFileSync(parts[1]!);
    const at = bytes.indexOf('picosecond');
    expect(at).toBeGreaterThan(0);
    bytes.write('nanosecond', at, 'latin1');
    writeFileSync(parts[1]!, bytes);
    const doc = runJson([...parts, '--analysis', 'rg', '--state-dir', join(tmp.path, 'state')]);
    expect(doc.result.timePs).toBeUndefined();
    expect((doc.result.rg as number[]).length).toBe(14);
    // alone, that part's times are in ns: 1000 times MDAnalysis's numbers, which it reads as ps
    expect(runJson([parts[1]!, '--analysis', 'rg', '--state-dir', join(tmp.path, 'state')]).result.timePs).toEqual(mdaTimesRaw(parts[1]!).map((t) => t * 1000));
  });

  it.skipIf(missing(mdaMissing, mdDataMissing)).each(['adk_oplsaa.xtc', 'cobrotoxin.trr', 'bala.ncdf', 'tz2.truncoct.nc'])(
    skipNote('%s (MDAnalysis test suite): timePs is MDAnalysis ts.time of every frame', mdaMissing, mdDataMissing),
    (name) => {
      if (mdaMissing || mdDataMissing) return;
      const want = mdaTimes(mdFile(name));
      const doc = runJson([mdFile(name), '--analysis', 'rg', '--slices', '3', '--state-dir', join(tmp.path, 'state')]);
      expect(doc.result.timePs).toEqual(want);
    },
  );
});
