import { describe, expect, it } from 'vitest';
import { defineAnalysis, traitsOf } from '../../lib/core/analysis.ts';
import { boxVolume, dimensionsFromVectors, triclinicVectors } from '../../lib/core/box.ts';
import { finishResult, mergePartials, scanSlice } from '../../lib/core/job.ts';
import { planJob } from '../../lib/core/plan.ts';
import { FileSource } from '../../lib/local/file-source.ts';
import { describeMd, mdaMissing, mdaPython, mdFile, missing, skipNote } from '../helpers/md.ts';

/** A user analysis (defineAnalysis) that keeps every frame's unit cell, with the row it came for. */
const boxes = defineAnalysis<{ cells: number[][] }, number[][]>({
  name: 'boxes',
  needsFrames: true,
  needsBox: true,
  empty: () => ({ cells: [] }),
  addBox(state, firstRow, dims) {
    state.cells.push([firstRow, ...dims]);
  },
  add() {},
  combine(left, right, leftRows) {
    for (const c of right.cells) left.cells.push([c[0]! + leftRows, ...c.slice(1)]);
    return left;
  },
  finish: (s) => s.cells,
});

async function cellsOf(path: string, slices: number): Promise<{ atoms: number; nm: boolean; cells: number[][] }> {
  const source = await FileSource.open(path);
  try {
    const spec = await planJob(source, { name: 'boxes', options: {}, ...traitsOf(boxes) }, { slices }, 'x');
    const partials = [];
    for (let i = 0; i < spec.sliceCount; i++) partials.push(await scanSlice(source, spec, i, boxes));
    const nm = (spec.trajectory as { lengthUnit?: string } | undefined)?.lengthUnit === 'nm';
    return { atoms: spec.frameRows, nm, cells: (await finishResult(spec, boxes, mergePartials(spec, boxes, partials))) as number[][] };
  } finally {
    await source.close();
  }
}

describe('unit cells', () => {
  it('box vectors to lengths and angles, and back (an orthorhombic and a triclinic box)', () => {
    expect(Array.from(dimensionsFromVectors([10, 0, 0, 0, 20, 0, 0, 0, 30]))).toEqual([10, 20, 30, 90, 90, 90]);
    const dims = dimensionsFromVectors([30, 0, 0, 5, 28, 0, -3, 4, 25]);
    const m = triclinicVectors(dims);
    [30, 0, 0, 5, 28, 0, -3, 4, 25].forEach((v, i) => expect(Math.abs(m[i]! - v)).toBeLessThan(1e-4));
    expect(boxVolume(dims)).toBeCloseTo(30 * 28 * 25, 1);
    expect(Array.from(dimensionsFromVectors([0, 0, 0, 0, 0, 0, 0, 0, 0]))).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describeMd("every frame's unit cell, as MDAnalysis's Timestep.dimensions (in the result's length unit)", () => {
  it.skipIf(missing(mdaMissing))(skipNote('DCD, XTC, TRR and NetCDF, at several slice counts: the same values (float32, times 10 for XTC and TRR in Å), for the first row of their frame', mdaMissing), async () => {
    for (const name of ['tip125_tric_C36.dcd', 'test_5atoms.xtc', 'test_5atoms.trr', 'cobrotoxin.xtc', 'cobrotoxin.trr', 'tz2.truncoct.nc', 'bala.ncdf']) {
      const one = await cellsOf(mdFile(name), 1);
      const want = mdaPython<number[][]>(
        `
import shutil, tempfile
d = tempfile.mkdtemp()
u = mda.Universe.empty(args['atoms'], trajectory=True)
u.load_new(shutil.copy(args['path'], d), convert_units=not args['nm'])
print(json.dumps([ts.dimensions.astype(np.float64).tolist() for ts in u.trajectory]))
shutil.rmtree(d)`,
        { path: mdFile(name), atoms: one.atoms, nm: one.nm },
      );
      for (const slices of [1, 2, 5]) {
        const { atoms, cells } = await cellsOf(mdFile(name), slices);
        expect(cells.map((c) => c[0])).toEqual(want.map((_, f) => f * atoms));
        // In Å, XTC and TRR cells are float32 nm times 10 in float64 (exact), which MDAnalysis rounds to float32 as rdf does.
        expect(cells.map((c) => c.slice(1).map(Math.fround))).toEqual(want);
      }
    }
  }, 120_000);
});
