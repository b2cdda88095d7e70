/**
 * MDAnalysis as the oracle of the fitting analyses: rms.RMSD, and the RMSF recipe of its
 * documentation (AverageStructure, AlignTraj, RMSF), on a copy of a trajectory with no
 * topology (selections by index). Lengths in Å, as MDAnalysis gives them.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { mdaPython } from './md.ts';

export interface FitOptions {
  refFrame?: number;
  /** 0-based atom indices to fit on / to measure (default: all) */
  fit?: number[];
  measure?: number[];
}

const OPEN = `
import shutil, tempfile
from MDAnalysis.coordinates.core import reader
fmt = {'nc': 'NCDF', 'ncdf': 'NCDF'}.get(args['path'].rsplit('.', 1)[-1], None)
r = reader(args['path'], format=fmt) if fmt else reader(args['path'])
n = r.n_atoms
r.close()
u = mda.Universe.empty(n, trajectory=True)
u.load_new(args['path'], format=fmt) if fmt else u.load_new(args['path'])
u.add_TopologyAttr('masses', np.ones(n))
for attr, values in (('resids', [1]), ('resnames', ['X']), ('names', ['A'] * n)):
    u.add_TopologyAttr(attr, values)
sel = lambda ix: 'all' if ix is None else 'index ' + ' '.join(str(i) for i in ix)
`;

function inCopy<T>(path: string, run: (copy: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'fanout-mda-fit-'));
  try {
    const copy = join(dir, basename(path));
    copyFileSync(path, copy);
    return run(copy);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** MDAnalysis.analysis.rms.RMSD of every frame (Å): fitted on `fit`, measured on `measure` (a group selection when it differs). */
export function mdaRmsd(path: string, o: FitOptions = {}): number[] {
  return inCopy(path, (copy) =>
    mdaPython<number[]>(
      `${OPEN}
from MDAnalysis.analysis import rms
fit, measure = sel(args['fit']), sel(args['measure'])
groups = [measure] if measure != fit else []
R = rms.RMSD(u, u, select=fit, groupselections=groups, ref_frame=args['ref']).run()
print(json.dumps(R.results.rmsd[:, 3 if groups else 2].tolist()))`,
      { path: copy, ref: o.refFrame ?? 0, fit: o.fit ?? null, measure: o.measure ?? null },
    ),
  );
}

/**
 * The RMSF recipe of MDAnalysis's documentation (Å): the average structure of the fit
 * atoms after fitting every frame to frame ref_frame on them (align.AverageStructure),
 * every frame fitted to that average (align.AlignTraj, in memory), then rms.RMSF of the
 * measured atoms.
 */
export function mdaRmsf(path: string, o: FitOptions = {}): number[] {
  return inCopy(path, (copy) =>
    mdaPython<number[]>(
      `${OPEN}
from MDAnalysis.analysis import align, rms
fit, measure = sel(args['fit']), sel(args['measure'])
average = align.AverageStructure(u, u, select=fit, ref_frame=args['ref']).run()
ref = average.results.universe
# the average universe holds the fit atoms alone
align.AlignTraj(u, ref, select={'mobile': fit, 'reference': 'all'}, in_memory=True).run()
print(json.dumps(rms.RMSF(u.select_atoms(measure)).run().results.rmsf.tolist()))`,
      { path: copy, ref: o.refFrame ?? 0, fit: o.fit ?? null, measure: o.measure ?? null },
    ),
  );
}
