/**
 * `fanout run` with atom selections (--atoms ranges, --select with --topology) on DCD,
 * XTC, .npy and text frames, for several slice counts, against MDAnalysis: the same atoms
 * (its select_atoms), their exact mean structure (math.fsum) and numpy's radius of
 * gyration of the selection in every frame.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatRanges, rangesOfIndices } from '../../lib/core/selection/ranges.ts';
import { fanout, runJson, tempDir } from '../helpers/cli.ts';
import { randomCoords, writeCoordsNpy } from '../helpers/dcd.ts';
import { gmxMissing, mdaMissing, mdaPython, mdaWriteTrajectory, mdDataMissing, mdFile, missing, skipNote } from '../helpers/md.ts';
import { adkOpenPdb, gmxEditconf, solvatedPeptide, writePdb } from '../helpers/topology.ts';

const tmp = tempDir('fanout-cli-select-');
afterAll(() => tmp.cleanup());
const state = () => ['--state-dir', join(tmp.path, 'state')];

interface SelectionOracle {
  indices: number[];
  frames: number;
  mean: number[][];
  rg: number[];
}

/** MDAnalysis: the atoms `expr` selects in `top`, and over the trajectory (in its own unit) their exact mean and rg per frame. */
function mdaSelection(top: string, traj: string, expr: string): SelectionOracle {
  return mdaPython<SelectionOracle>(
    `
import shutil, tempfile
from MDAnalysis.coordinates.XTC import XTCReader
from MDAnalysis.coordinates.DCD import DCDReader
idx = mda.Universe(args['top']).select_atoms(args['expr']).indices
d = tempfile.mkdtemp()
path = shutil.copy(args['traj'], d)
r = XTCReader(path, convert_units=False) if path.endswith('.xtc') else DCDReader(path)
x = np.array([ts.positions[idx].copy() for ts in r]).astype(np.float64)
shutil.rmtree(d)
F = x.shape[0]
c = x - x.mean(axis=1, keepdims=True)
print(json.dumps({'indices': idx.tolist(), 'frames': F, 'mean': [[math.fsum(x[:, i, k]) / F for k in range(3)] for i in range(x.shape[1])], 'rg': np.sqrt((c ** 2).sum(axis=2).mean(axis=1)).tolist()}))`,
    { top, traj, expr },
  );
}

/** Within 1e-12 relative: exact results where the unit is the file's, and still equal after a conversion to Å (x*10). */
function expectClose(got: number[], want: number[], scale = 1): void {
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(Math.abs(v - want[i]! * scale)).toBeLessThanOrEqual(1e-12 * Math.abs(want[i]! * scale)));
}

/** `nm`: the oracle read the file in nm (XTC); the result may say it is in Å. */
function expectMatches(doc: Record<string, unknown> & { result: Record<string, unknown> }, want: SelectionOracle, analysis: 'mean-structure' | 'rg', nm = false): void {
  const unit = (doc.trajectory as { lengthUnit?: string } | undefined)?.lengthUnit;
  const scale = nm && unit === 'Å' ? 10 : 1;
  const selection = doc.result.selection as { atoms: { count: number; ranges: string } };
  expect(selection.atoms).toEqual({ count: want.indices.length, ranges: formatRanges(rangesOfIndices(want.indices)) });
  if (analysis === 'mean-structure') {
    expect(doc.result.atoms).toBe(want.indices.length);
    expect(doc.result.frames).toBe(want.frames);
    expectClose((doc.result.mean as number[][]).flat(), want.mean.flat(), scale);
  } else expectClose(doc.result.rg as number[], want.rg, scale);
}

describe.skipIf(missing(mdDataMissing, mdaMissing))(skipNote('selections on the CHARMM DCD with its PSF (tip125_tric_C36)', mdDataMissing, mdaMissing), () => {
  const expr = 'name OH2 and resid 1:60 or (resid 100 to 110 and not name OH2)';
  it.each([1, 3, 7])('--select with --topology: mean-structure and rg of the selection equal MDAnalysis, --slices %i', (slices) => {
    const want = mdaSelection(mdFile('tip125_tric_C36.psf'), mdFile('tip125_tric_C36.dcd'), expr);
    expect(want.indices.length).toBe(60 + 22);
    for (const analysis of ['mean-structure', 'rg'] as const) {
      const doc = runJson([mdFile('tip125_tric_C36.dcd'), '--analysis', analysis, '--topology', mdFile('tip125_tric_C36.psf'), '--select', expr, '--slices', String(slices), '--workers', '2', ...state()]);
      expect(doc.slices).toBe(slices);
      expectMatches(doc, want, analysis);
    }
  });

  it('--atoms with the same ranges is the same job', () => {
    const want = mdaSelection(mdFile('tip125_tric_C36.psf'), mdFile('tip125_tric_C36.dcd'), 'resid 10:20');
    const ranges = formatRanges(rangesOfIndices(want.indices));
    const a = runJson([mdFile('tip125_tric_C36.dcd'), '--analysis', 'mean-structure', '--atoms', ranges, '--slices', '4', ...state()]);
    const b = runJson([mdFile('tip125_tric_C36.dcd'), '--analysis', 'mean-structure', '--topology', mdFile('tip125_tric_C36.psf'), '--select', 'resid 10:20', '--slices', '4', ...state()]);
    expect(b.job).toBe(a.job);
    expect(b.resumedSlices).toBe(4);
    expectMatches(a, want, 'mean-structure');
  });
});

describe.skipIf(missing(mdDataMissing, mdaMissing))(skipNote('selections on the CHARMM AdK trajectory (adk_dims.dcd) with the AdK PDB', mdDataMissing, mdaMissing), () => {
  it.each([
    ['backbone', 1],
    ['backbone', 5],
    ['name CA and resid 122:159', 3],
    ['protein and not name H*', 8],
  ])('--select %j: mean-structure and rg equal MDAnalysis, --slices %i', (expr, slices) => {
    const pdb = adkOpenPdb(tmp.path);
    const want = mdaSelection(pdb, mdFile('adk_dims.dcd'), expr);
    for (const analysis of ['mean-structure', 'rg'] as const) {
      const doc = runJson([mdFile('adk_dims.dcd'), '--analysis', analysis, '--topology', pdb, '--select', expr, '--slices', String(slices), ...state()]);
      expect(doc.slices).toBe(slices);
      expectMatches(doc, want, analysis);
    }
  });
});

describe.skipIf(missing(mdaMissing, gmxMissing))(skipNote('selections on an XTC of a solvated peptide, the topology as GROMACS writes it', mdaMissing, gmxMissing), () => {
  it.each([
    ['protein', 1],
    ['backbone', 4],
    ['backbone', 13],
    ['resname SOL and name OW or resid 3:6', 5],
  ])('--select %j: mean-structure and rg equal MDAnalysis, --slices %i', (expr, slices) => {
    const atoms = solvatedPeptide();
    const pdb = join(tmp.path, 'peptide.pdb');
    writePdb(pdb, atoms);
    const gro = join(tmp.path, 'peptide.gro');
    gmxEditconf(pdb, gro);
    const xtc = join(tmp.path, 'peptide.xtc');
    mdaWriteTrajectory(xtc, 240, atoms.length, { seed: 5 });
    const want = mdaSelection(gro, xtc, expr);
    for (const analysis of ['mean-structure', 'rg'] as const) {
      const doc = runJson([xtc, '--analysis', analysis, '--topology', gro, '--select', expr, '--slices', String(slices), ...state()]);
      expect(doc.slices).toBe(slices);
      expectMatches(doc, want, analysis, true);
    }
  });
});

describe('--atoms on arrays and text frames', () => {
  const F = 30;
  const n = 12;
  const coords = randomCoords(F, n, 4);
  const npy = join(tmp.path, 'frames.npy');
  writeCoordsNpy(npy, { atoms: n, coords });
  const pick = [1, 2, 3, 7, 11];
  /** the selected rows of every frame, by hand */
  const selected = (f: number, i: number, k: number) => coords[(f * n + pick[i]!) * 3 + k]!;

  it.each([1, 2, 5, 30])('mean-structure, row-sums and sum see only the selected rows (.npy, --slices %i)', (slices) => {
    const mean = runJson([npy, '--analysis', 'mean-structure', '--atoms', '7,1-3,11', '--slices', String(slices), ...state()]);
    expect(mean.result.atoms).toBe(5);
    expect(mean.result.selection).toEqual({ atoms: { count: 5, ranges: '1-3,7,11' } });
    const whole = runJson([npy, '--analysis', 'mean-structure', '--slices', String(slices), ...state()]);
    // The mean of a selected atom is the same number as in the whole frame's result.
    expect(mean.result.mean).toEqual(pick.map((a) => (whole.result.mean as number[][])[a]));
    const sums = runJson([npy, '--analysis', 'row-sums', '--atoms', '7,1-3,11', '--slices', String(slices), ...state()]);
    expect(sums.result.rowsPerFrame).toBe(5);
    const sum = runJson([npy, '--analysis', 'sum', '--atoms', '7,1-3,11', '--slices', String(slices), ...state()]);
    expect((sum.result as { count: number }).count).toBe(F * 5 * 3);
    let direct = 0;
    for (let f = 0; f < F; f++) for (let i = 0; i < 5; i++) for (let k = 0; k < 3; k++) direct += selected(f, i, k);
    expect(Math.abs((sum.result as { sum: number }).sum - direct)).toBeLessThan(1e-9);
  });

  it('the summary names the selection and numbers rows by atom', () => {
    const r = fanout(['run', npy, '--analysis', 'mean-structure', '--atoms', '11,1-3,7', ...state()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('selected: atoms 5 (1-3,7,11)');
    expect(r.stdout).toMatch(/mean structure of 30 frames, 5 atoms:\n {5}1: .*\n {5}2: .*\n {5}3: .*\n {5}7: .*\n {4}11: /);
  });

  it('text frames (--frame-rows) give what the .npy gives, read in one slice', () => {
    const csv = join(tmp.path, 'frames.csv');
    const lines: string[] = [];
    for (let r = 0; r < F * n; r++) lines.push(`${coords[r * 3]},${coords[r * 3 + 1]},${coords[r * 3 + 2]}`);
    writeFileSync(csv, `${lines.join('\n')}\n`);
    const text = runJson([csv, '--analysis', 'mean-structure', '--frame-rows', String(n), '--atoms', '1-3,7,11', '--slices', '4', ...state()]);
    const array = runJson([npy, '--analysis', 'mean-structure', '--atoms', '1-3,7,11', '--slices', '4', ...state()]);
    expect(text.slices).toBe(1);
    expect(text.result.mean).toEqual(array.result.mean);
  });

  it('a truncated last frame is still reported when its selected rows are all there', () => {
    const csv = join(tmp.path, 'short.csv');
    const lines: string[] = [];
    for (let r = 0; r < 2 * n + 4; r++) lines.push(`${r},${r},${r}`);
    writeFileSync(csv, `${lines.join('\n')}\n`);
    const r = fanout(['run', csv, '--analysis', 'mean-structure', '--frame-rows', String(n), '--atoms', '0-2', '--quiet', ...state()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/short\.csv.*the last frame is incomplete: 4 rows, a frame is 12 rows/);
  });

  it.each([
    [['--atoms', '0-12'], /--atoms \(fanout-atoms\) 0-12: atom index 12 is not in a frame of 12 atoms/],
    [['--atoms', '5-2'], /--atoms takes 0-based atom index ranges such as 0-213,500-599: 5-2: a range runs from its smaller index to its larger one/],
    [['--atoms', 'CA'], /--atoms takes 0-based atom index ranges/],
    [['--fit-atoms', '0-3'], /--fit-atoms \(fanout-fit-atoms\): mean-structure takes no atoms to fit on/],
    [['--atoms2', '0-3'], /--atoms2 \(fanout-atoms2\): mean-structure takes no second group of atoms/],
    [['--select', 'name CA'], /--select needs --topology FILE/],
    [['--topology', 'x.pdb'], /--topology is read for --select/],
  ])('refuses %j in one line, exit 2', (args, message) => {
    const r = fanout(['run', npy, '--analysis', 'mean-structure', ...args, '--quiet', ...state()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuses a topology of another atom count, an expression that selects nothing, and a bad expression', () => {
    const pdb = join(tmp.path, 'other.pdb');
    writePdb(pdb, solvatedPeptide(3, 2));
    const sizes = fanout(['run', npy, '--analysis', 'mean-structure', '--topology', pdb, '--select', 'protein', '--quiet', ...state()]);
    expect(sizes.code).toBe(2);
    expect(sizes.stderr).toMatch(/--topology .*other\.pdb has \d+ atoms, and a frame of .*frames\.npy has 12 rows/);
    const none = fanout(['run', npy, '--analysis', 'mean-structure', '--topology', pdb, '--select', 'resname XYZ', '--quiet', ...state()]);
    expect(none.stderr).toMatch(/--select "resname XYZ" selects no atom of .*other\.pdb/);
    const bad = fanout(['run', npy, '--analysis', 'mean-structure', '--topology', pdb, '--select', 'name CA and (resid 1', '--quiet', ...state()]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--select: a \( is not closed in "name CA and \(resid 1"/);
    const both = fanout(['run', npy, '--analysis', 'mean-structure', '--topology', pdb, '--select', 'protein', '--atoms', '1', '--quiet', ...state()]);
    expect(both.stderr).toMatch(/give --select or --atoms, not both/);
    const psfLess = join(tmp.path, 'water.top');
    copyFileSync(pdb, psfLess);
    const ext = fanout(['run', npy, '--analysis', 'mean-structure', '--topology', psfLess, '--select', 'all', '--quiet', ...state()]);
    expect(ext.stderr).toMatch(/fanout reads PSF, GRO and PDB topologies/);
    const gro = join(tmp.path, 'bad.gro');
    writeFileSync(gro, 'x\n2\n    1SOL     OW    1   0.1 0.2 0.3\n  abcSOL    HW1    2   0.1 0.2 0.3\n 1 1 1\n');
    const broken = fanout(['run', npy, '--analysis', 'mean-structure', '--topology', gro, '--select', 'all', '--quiet', ...state()]);
    expect(broken.code).toBe(2);
    expect(broken.stderr.trim()).toBe(`fanout: ${gro}: at byte 39: atom 2 does not parse: "  abcSOL    HW1    2   0.1 0.2 0.3"`);
  });
});

describe.skipIf(missing(mdDataMissing))(skipNote('--atoms on every trajectory format of the shared data', mdDataMissing), () => {
  it.each(['adk_oplsaa.xtc', 'cobrotoxin.trr', 'bala.ncdf', 'tz2.truncoct.nc', 'adk_dims.dcd'])('%s: the mean structure of a selection is those rows of the whole one, for 1 and 6 slices', (name) => {
    const whole = runJson([mdFile(name), '--analysis', 'mean-structure', ...state()]);
    const n = whole.result.atoms as number;
    const pick = [0, 1, 2, Math.floor(n / 2), n - 2, n - 1];
    const ranges = formatRanges(rangesOfIndices(pick));
    for (const slices of [1, 6]) {
      const doc = runJson([mdFile(name), '--analysis', 'mean-structure', '--atoms', ranges, '--slices', String(slices), ...state()]);
      expect(doc.result.mean).toEqual(pick.map((a) => (whole.result.mean as number[][])[a]));
      expect(doc.result.frames).toBe(whole.result.frames);
    }
  });
});
