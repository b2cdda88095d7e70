import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { traitsOf } from '../../../lib/core/analysis.ts';
import { histogramEdges, rdf, rdfSettings } from '../../../lib/core/analyses/rdf.ts';
import { UsageError } from '../../../lib/core/errors.ts';
import { planJob } from '../../../lib/core/plan.ts';
import { FileSource } from '../../../lib/local/file-source.ts';
import { tempDir } from '../../helpers/cli.ts';
import { describeMd, mdaMissing, mdaPython, mdFile, missing, skipNote } from '../../helpers/md.ts';
import { python } from '../../helpers/python.ts';
import { type Groups, mdaRdf, mdaWriteBoxTrajectory, runRdf } from '../../helpers/rdf.ts';

const tmp = tempDir('fanout-rdf-');
afterAll(() => tmp.cleanup());

type Kwargs = Parameters<typeof mdaRdf>[3];

/**
 * fanout's rdf and InterRDF's on one trajectory, for each slice count: the same count in
 * every bin, and rdf within 1e-6. XTC and TRR lengths are compared in the unit the result
 * says (nm: InterRDF reads them with convert_units=False, the range scaled to nm).
 */
async function compare(path: string, atoms: number, groups: Groups, kwargs: NonNullable<Kwargs>, sliceCounts: number[], box?: number[]): Promise<void> {
  const source = await FileSource.open(path);
  const spec = await planJob(source, { name: 'rdf', options: { box: '1,1,1' }, ...traitsOf(rdf) }, {}, 'unit');
  const nm = (spec.trajectory as { lengthUnit?: string } | undefined)?.lengthUnit === 'nm';
  const scale = nm ? 0.1 : 1;
  const range = kwargs.range ?? [0, 15];
  const options: Record<string, string> = { range: range.map((r) => r * scale).join(',') };
  if (kwargs.nbins !== undefined) options.nbins = String(kwargs.nbins);
  if (kwargs.norm !== undefined) options.norm = kwargs.norm;
  if (kwargs.exclusion_block) options.exclusion_block = kwargs.exclusion_block.join(',');
  if (box) options.box = box.join(',');
  const want = mdaRdf(path, atoms, groups, { ...kwargs, range: [range[0] * scale, range[1] * scale] }, nm, box);
  expect(want.count.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  try {
    for (const slices of sliceCounts) {
      const { result } = await runRdf(source, options, groups, { slices });
      expect(result.frames).toBe(want.frames);
      expect(result.count).toEqual(want.count);
      result.rdf.forEach((g, i) => expect(Math.abs(g! - want.rdf[i]!)).toBeLessThanOrEqual(1e-6));
      result.edges.forEach((e, i) => expect(e).toBe(want.edges[i]));
    }
  } finally {
    await source.close();
  }
}

describe('rdf options', () => {
  it("takes InterRDF's names and defaults", () => {
    expect(rdfSettings({})).toEqual({ nbins: 75, range: [0, 15], norm: 'rdf' });
    expect(rdfSettings({ nbins: '10', range: '2,8', norm: 'density', exclusion_block: '1,3' })).toEqual({ nbins: 10, range: [2, 8], norm: 'density', exclusionBlock: [1, 3] });
    for (const bad of <Record<string, string>[]>[{ nbins: '0' }, { nbins: 'x' }, { range: '5,1' }, { range: '1' }, { norm: 'gr' }, { exclusion_block: '0,1' }, { box: '1,2' }, { box: '10,10,10,90,90,190' }, { bins: '3' }]) {
      expect(() => rdfSettings(bad)).toThrow(UsageError);
    }
  });

  it("computes numpy's histogram edges (linspace)", () => {
    const want = python<number[]>('print(json.dumps(np.histogram([-1], bins=75, range=(0.0, 15.0))[1].tolist()))');
    expect(Array.from(histogramEdges(75, 0, 15))).toEqual(want);
    const want2 = python<number[]>('print(json.dumps(np.histogram([-1], bins=7, range=(0.3, 1.1))[1].tolist()))');
    expect(Array.from(histogramEdges(7, 0.3, 1.1))).toEqual(want2);
  });
});

describeMd('rdf against MDAnalysis InterRDF', () => {
  const title = (t: string): string => skipNote(t, mdaMissing);

  it.skipIf(missing(mdaMissing))(title('tip125_tric_C36.dcd (triclinic, CHARMM box matrix): O-O with the PSF oxygens, O-H, every atom; 1 to 10 slices'), async () => {
    const dcd = mdFile('tip125_tric_C36.dcd');
    const oxygens = mdaPython<number[]>("print(json.dumps(mda.Universe(args).select_atoms('name OH2').indices.tolist()))", mdFile('tip125_tric_C36.psf'));
    expect(oxygens).toHaveLength(125);
    const hydrogens = mdaPython<number[]>("print(json.dumps(mda.Universe(args).select_atoms('name H1 H2').indices.tolist()))", mdFile('tip125_tric_C36.psf'));
    await compare(dcd, 375, { measure: oxygens }, {}, [1, 3, 10]);
    await compare(dcd, 375, { measure: oxygens }, { nbins: 50, range: [2, 12], exclusion_block: [1, 1] }, [4]);
    await compare(dcd, 375, { measure: oxygens }, { norm: 'density' }, [2]);
    await compare(dcd, 375, { measure: oxygens }, { norm: 'none' }, [2]);
    await compare(dcd, 375, { measure: oxygens, other: hydrogens }, { exclusion_block: [1, 2] }, [1, 5]);
    await compare(dcd, 375, {}, { range: [0, 10] }, [10]);
  });

  it.skipIf(missing(mdaMissing))(title('XTC and TRR (nm or Å, as the result says): cobrotoxin (grid search, two groups), test_5atoms (triclinic)'), async () => {
    const every = (n: number, k: number): number[] => Array.from({ length: Math.floor(n / k) }, (_, i) => i * k);
    for (const name of ['cobrotoxin.xtc', 'cobrotoxin.trr']) await compare(mdFile(name), 19385, { measure: every(19385, 9), other: every(19385, 13) }, {}, [1, 3]);
    for (const name of ['test_5atoms.xtc', 'test_5atoms.trr']) await compare(mdFile(name), 5, {}, { range: [0, 60], nbins: 40 }, [1, 2, 5]);
  }, 120_000);

  it.skipIf(missing(mdaMissing))(title('AMBER NetCDF: tz2.truncoct.nc (truncated octahedron), bala.ncdf'), async () => {
    const every = (n: number, k: number): number[] => Array.from({ length: Math.floor(n / k) }, (_, i) => i * k);
    await compare(mdFile('tz2.truncoct.nc'), 5827, { measure: every(5827, 5) }, {}, [1, 4, 10]);
    await compare(mdFile('bala.ncdf'), 2661, { measure: every(2661, 3), other: every(2661, 7) }, { range: [1, 9], nbins: 32 }, [7]);
  }, 120_000);

  it.skipIf(missing(mdaMissing))(title('long generated triclinic trajectories (brute force and grid search of InterRDF), NetCDF, DCD with NAMD cells, XTC, TRR, 1 to 200 slices'), async () => {
    const small = join(tmp.path, 'small.ncdf');
    mdaWriteBoxTrajectory(small, 200, 60, [20, 22, 25, 80, 95, 110], 3);
    await compare(small, 60, {}, { range: [0, 12], nbins: 60 }, [1, 13, 200]);
    // NAMD's cell (lengths and angle cosines), thousands of frames to a read block
    const namd = join(tmp.path, 'namd.dcd');
    mdaWriteBoxTrajectory(namd, 3000, 12, [9, 10, 11, 85, 95, 105], 6);
    await compare(namd, 12, {}, { range: [0, 6], nbins: 30 }, [1, 50]);
    const grid = join(tmp.path, 'grid.xtc');
    mdaWriteBoxTrajectory(grid, 40, 900, [60, 64, 70, 70, 80, 100], 4);
    await compare(grid, 900, {}, {}, [1, 7, 40]);
    const ortho = join(tmp.path, 'ortho.trr');
    mdaWriteBoxTrajectory(ortho, 30, 700, [60, 64, 70, 90, 90, 90], 5);
    await compare(ortho, 700, { measure: Array.from({ length: 350 }, (_, i) => 2 * i) }, { exclusion_block: [2, 2] }, [1, 30]);
  }, 300_000);

  it.skipIf(missing(mdaMissing))(title('a .npy without a unit cell: refused, then with --option box'), async () => {
    const path = join(tmp.path, 'x.npy');
    python('np.save(args, (np.random.default_rng(2).uniform(0, 30, (12, 80, 3))).astype(np.float32))\nprint(1)', path);
    const npySource = await FileSource.open(path);
    const e = await runRdf(npySource, {}, {}).catch((x: unknown) => x);
    await npySource.close();
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(/rdf needs the unit cell of every frame, and .*x\.npy \(npy\) has none: give one with --option box=/);
    await compare(path, 80, {}, { range: [0, 12] }, [1, 5], [30, 30, 30, 90, 90, 90]);
    await compare(path, 80, {}, { range: [0, 12] }, [3], [30, 31, 32, 80, 85, 95]);
  });
});

describeMd('rdf unit cells', () => {
  it('refuses a DCD without a unit cell (adk_dims.dcd) unless a box is given', async () => {
    const path = join(tmp.path, 'adk.dcd');
    copyFileSync(mdFile('adk_dims.dcd'), path);
    const source = await FileSource.open(path);
    await expect(runRdf(source, {}, { measure: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] })).rejects.toThrow(/adk\.dcd \(dcd\) has none/);
    const { result } = await runRdf(source, { box: '80,80,80' }, { measure: Array.from({ length: 20 }, (_, i) => 100 * i) }, { slices: 3 });
    await source.close();
    expect(result.frames).toBe(98);
    expect(result.volume).toBe(80 ** 3);
  });
});
