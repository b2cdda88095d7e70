import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fanout, runJson, tempDir } from '../helpers/cli.ts';
import { mdaMissing, mdaPython, mdaWriteTrajectory, mdDataMissing, mdFile, missing, skipNote } from '../helpers/md.ts';
import { mdaRmsd, mdaRmsf } from '../helpers/md-fit.ts';

const tmp = tempDir('fanout-cli-rmsd-');
afterAll(() => tmp.cleanup());

/** Å per unit of the document's coordinates: the tests hold whether lengths are converted to Å or not. */
const toAngstrom = (doc: Record<string, unknown>): number => ({ nm: 10, Å: 1 })[(doc.trajectory as { lengthUnit: string }).lengthUnit] ?? NaN;

function expectClose(got: unknown, want: number[], scale: number, tolerance: number): void {
  const series = got as number[];
  expect(series.length).toBe(want.length);
  series.forEach((v, i) => expect(Math.abs(v * scale - want[i]!), `${i}: ${v * scale} against ${want[i]}`).toBeLessThan(tolerance));
}

describe('fanout run --analysis rmsd and rmsf', () => {
  const lacking = [mdDataMissing, mdaMissing];
  it.skipIf(missing(...lacking))(skipNote('adk_dims.dcd --ref-frame 10 on 2 workers: rmsd within 1e-5 Å and rmsf within 1e-4 Å of MDAnalysis', ...lacking), () => {
    if (missing(...lacking)) return;
    const path = mdFile('adk_dims.dcd');
    const args = [path, '--ref-frame', '10', '--slices', '7', '--workers', '2', '--state-dir', join(tmp.path, 'state')];
    const doc = runJson([...args, '--analysis', 'rmsd']);
    expect(doc.analysis).toBe('rmsd');
    expectClose(doc.result.rmsd, mdaRmsd(path, { refFrame: 10 }), 1, 1e-5);
    const f = runJson([...args, '--analysis', 'rmsf']);
    expect(f.analysis).toBe('rmsf');
    expect(f.result).toMatchObject({ frames: 98, atoms: 3341 });
    expectClose(f.result.rmsf, mdaRmsf(path, { refFrame: 10 }), 1, 1e-4);
  });

  it.skipIf(missing(mdaMissing))(skipNote('a 3000-frame XTC written by MDAnalysis: the same rmsd and rmsf for 1, 7 and 2999 slices on 2 workers, as MDAnalysis', mdaMissing), () => {
    if (mdaMissing) return;
    const path = join(tmp.path, 'long.xtc');
    mdaWriteTrajectory(path, 3000, 30, { seed: 9, spread: 20 });
    const wantRmsd = mdaRmsd(path, { refFrame: 17 });
    const wantRmsf = mdaRmsf(path, { refFrame: 17 });
    let first: unknown;
    for (const slices of [1, 7, 2999]) {
      const args = [path, '--ref-frame', '17', '--slices', String(slices), '--workers', '2', '--state-dir', join(tmp.path, 'state')];
      const doc = runJson([...args, '--analysis', 'rmsd']);
      expectClose(doc.result.rmsd, wantRmsd, toAngstrom(doc), 1e-5);
      const f = runJson([...args, '--analysis', 'rmsf']);
      expectClose(f.result.rmsf, wantRmsf, toAngstrom(f), 1e-4);
      first ??= f.result.rmsf;
      expect(f.result.rmsf).toEqual(first);
    }
  });

  it.skipIf(missing(...lacking))(skipNote('--reference a PDB (Å) or a GRO (nm) written by MDAnalysis: as rms.RMSD against that file', ...lacking), () => {
    if (missing(...lacking)) return;
    const path = mdFile('cobrotoxin.xtc');
    for (const ext of ['pdb', 'gro']) {
      const ref = join(tmp.path, `ref.${ext}`);
      const want = mdaPython<number[]>(
        `
import shutil, tempfile
from MDAnalysis.analysis import rms
from MDAnalysis.coordinates.core import reader
d = tempfile.mkdtemp()
p = shutil.copy(args['path'], d)
r = reader(p); n = r.n_atoms; r.close()
u = mda.Universe.empty(n, n_residues=1, atom_resindex=[0] * n, trajectory=True)
u.load_new(p)
for attr, values in (('masses', np.full(n, 12.011)), ('resids', [1]), ('resnames', ['X']), ('names', ['C'] * n)):
    u.add_TopologyAttr(attr, values)
u.trajectory[1]
u.atoms.write(args['ref'])
print(json.dumps(rms.RMSD(u, mda.Universe(args['ref']), select='all').run().results.rmsd[:, 2].tolist()))`,
        { path, ref },
      );
      const doc = runJson([path, '--analysis', 'rmsd', '--reference', ref, '--state-dir', join(tmp.path, 'state')]);
      expectClose(doc.result.rmsd, want, toAngstrom(doc), 1e-5);
    }
  });

  it.skipIf(missing(...lacking))(skipNote('adk_dims.dcd with --fit-atoms and --atoms: rmsd and rmsf as MDAnalysis with those selections, and a PDB reference of every atom gives its selected rows', ...lacking), () => {
    if (missing(...lacking)) return;
    const path = mdFile('adk_dims.dcd');
    const fit = Array.from({ length: 214 }, (_, i) => i * 5);
    const measure = Array.from({ length: 300 }, (_, i) => 2000 + i);
    const sel = [path, '--fit-atoms', fit.join(','), '--atoms', '2000-2299', '--slices', '9', '--workers', '2', '--state-dir', join(tmp.path, 'state')];
    const doc = runJson([...sel, '--ref-frame', '3', '--analysis', 'rmsd']);
    const want = mdaRmsd(path, { refFrame: 3, fit, measure });
    expectClose(doc.result.rmsd, want, 1, 1e-5);
    const f = runJson([...sel, '--ref-frame', '3', '--analysis', 'rmsf']);
    expect(f.result.atoms).toBe(300);
    expectClose(f.result.rmsf, mdaRmsf(path, { refFrame: 3, fit, measure }), 1, 1e-4);
    // frame 3 of every atom as a PDB (3 decimals): its selected rows are the reference
    const pdb = join(tmp.path, 'adk3.pdb');
    mdaPython(
      `
from MDAnalysis.coordinates.core import reader
r = reader(args['path']); n = r.n_atoms; r.close()
u = mda.Universe.empty(n, n_residues=1, atom_resindex=[0] * n, trajectory=True)
u.load_new(args['path'])
u.add_TopologyAttr('names', ['C'] * n)
u.trajectory[3]
u.atoms.write(args['pdb'])
print('null')`,
      { path, pdb },
    );
    expectClose(runJson([...sel, '--reference', pdb, '--analysis', 'rmsd']).result.rmsd, want, 1, 2e-3);
  });

  it('exits 2 with one line for a reference file that cannot be read, and for a reference frame past the end', () => {
    if (mdDataMissing) return;
    const path = mdFile('tip125_tric_C36.dcd');
    const noFile = fanout(['run', path, '--analysis', 'rmsd', '--reference', join(tmp.path, 'nothing.pdb'), '--state-dir', join(tmp.path, 'state')]);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toMatch(/--reference .*nothing\.pdb: cannot read it \(ENOENT\)/);
    const far = fanout(['run', path, '--analysis', 'rmsf', '--ref-frame', '10', '--state-dir', join(tmp.path, 'state')]);
    expect(far.code).toBe(2);
    expect(far.stderr.trim().split('\n')).toHaveLength(1);
    expect(far.stderr).toMatch(/ref-frame 10 is past the last frame of .*tip125_tric_C36\.dcd \(10 frames/);
  });
});
