/**
 * A trajectory in parts (`fanout run part1.xtc part2.xtc ...`): one job whose frames run in
 * argument order, with exactly the answer of the same frames in one file, for any slicing.
 * Parts are written by MDAnalysis (each a file of its own, with its own first frame; DCD
 * and NetCDF parts each with their own header), and the answer checked against
 * MDAnalysis's ChainReader over the same parts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fanout, runJson, tempDir } from '../helpers/cli.ts';
import { mdaMissing, mdaPython, mdaWriteParts, mdaWriteTrajectory, mdDataMissing, mdFile, missing, skipNote } from '../helpers/md.ts';

const tmp = tempDir('fanout-parts-');
afterAll(() => tmp.cleanup());

describe('a trajectory in parts', () => {
  for (const ext of ['xtc', 'trr'] as const) {
    it.skipIf(missing(mdaMissing))(skipNote(`${ext.toUpperCase()}: the parts give exactly the answer of the joined file, for any slicing, and resume as one job`, mdaMissing), () => {
      const parts = [1, 2, 3].map((k) => join(tmp.path, `run.part000${k}.${ext}`));
      parts.forEach((p, k) => mdaWriteTrajectory(p, [40, 7, 25][k]!, 50, { seed: 10 + k }));
      const whole = join(tmp.path, `whole.${ext}`);
      writeFileSync(whole, Buffer.concat(parts.map((p) => readFileSync(p))));
      for (const analysis of ['rg', 'mean-structure', 'stats']) {
        const want = runJson([whole, '--analysis', analysis, '--slices', '1', '--workers', '1', '--state-dir', join(tmp.path, 'whole-state')]);
        for (const [slices, workers] of [
          [1, 1],
          [5, 2],
          [200, 2],
        ] as const) {
          const got = runJson([...parts, '--analysis', analysis, '--slices', String(slices), '--workers', String(workers), '--state-dir', join(tmp.path, `parts-state-${ext}`)]);
          expect(got.result).toEqual(want.result);
          expect(got.records).toBe(72);
          expect((got.input as { parts: { path: string }[] }).parts.map((p) => p.path)).toEqual(parts);
        }
      }
      // The same command again is the same job: every slice is resumed.
      const again = runJson([...parts, '--analysis', 'rg', '--slices', '5', '--workers', '2', '--state-dir', join(tmp.path, `parts-state-${ext}`)]);
      expect(again.resumedSlices).toBe(5);
    });
  }

  function expectRg(got: number[], want: number[]): void {
    expect(got.length).toBe(want.length);
    got.forEach((v, f) => expect(Math.abs(v - want[f]!)).toBeLessThan(1e-12 * want[f]!));
  }

  // Parts with their own headers, cut from a shared trajectory or a long one MDAnalysis writes: slices
  // of one frame (less than a frame asked for), across part boundaries, over a part of one frame.
  const headerParts = [
    { name: 'tip125_tric_C36.dcd (CHARMM, triclinic cell) cut by DCDWriter', ext: 'dcd', sizes: [4, 1, 5], from: () => mdFile('tip125_tric_C36.dcd'), topology: () => mdFile('tip125_tric_C36.psf'), lacking: [mdaMissing, mdDataMissing] },
    { name: 'bala.ncdf (AMBER) cut by NCDFWriter', ext: 'ncdf', sizes: [13, 1, 16], from: () => mdFile('bala.ncdf'), lacking: [mdaMissing, mdDataMissing] },
    { name: 'a 3000-frame DCD written by MDAnalysis, cut by DCDWriter', ext: 'dcd', sizes: [1200, 1, 1799], from: () => long('dcd'), lacking: [mdaMissing] },
    // NCDFWriter (scipy's netcdf_file here) takes about 10 s for 1000 frames.
    { name: 'a 600-frame NetCDF written by MDAnalysis, cut by NCDFWriter', ext: 'ncdf', sizes: [250, 1, 349], from: () => long('ncdf', 600), lacking: [mdaMissing] },
  ];
  const long = (ext: string, frames = 3000): string => {
    const path = join(tmp.path, `long.${ext}`);
    mdaWriteTrajectory(path, frames, 20, { seed: 9 });
    return path;
  };

  for (const { name, ext, sizes, from, topology, lacking } of headerParts) {
    it.skipIf(missing(...lacking))(skipNote(`${name}: the ChainReader's rg, mean structure and cells, and exactly the answer of the file MDAnalysis joins, for any slicing; resumed as one job`, ...lacking), () => {
      const dir = join(tmp.path, `${ext}-${sizes.join('-')}`);
      const parts = sizes.map((_, k) => join(tmp.path, `${basename(dir)}.part000${k + 1}.${ext}`));
      const whole = join(tmp.path, `${basename(dir)}.whole.${ext}`);
      const want = mdaWriteParts(from(), sizes, parts, whole, topology?.());
      const frames = sizes.reduce((a, b) => a + b, 0);
      expect(want.frames).toBe(frames);
      const run = (inputs: string[], analysis: string, slicing: string[], extra: string[] = []) => runJson([...inputs, '--analysis', analysis, ...slicing, ...extra, '--state-dir', join(dir, 'state')]);
      const slicings = [
        ['--slices', '1', '--workers', '1'],
        ['--slices', '2', '--workers', '2'],
        ['--slices', '7', '--workers', '2'],
        ['--slice-bytes', '100', '--workers', '2'],
      ];
      for (const slicing of slicings) {
        const mean = run(parts, 'mean-structure', slicing);
        expect(mean.result.mean, slicing.join(' ')).toEqual(want.mean);
        expect(mean.records).toBe(frames);
        expect(mean.input).toMatchObject({ format: ext === 'dcd' ? 'dcd' : 'netcdf', shape: [frames, want.atoms, 3], parts: parts.map((p) => ({ path: p })) });
        expect(mean.trajectory).toMatchObject({ atoms: want.atoms, frames, lengthUnit: 'Å' });
        const box = mean.result.box as { first: Record<string, number>; last: Record<string, number> } | undefined;
        if (want.box) {
          for (const end of ['first', 'last'] as const) ['a', 'b', 'c', 'alpha', 'beta', 'gamma'].forEach((k, i) => expect(box![end][k]!, `${end} ${k}`).toBeCloseTo(want.box![end][i]!, 3));
        } else expect(box).toBeUndefined();
        expectRg(run(parts, 'rg', slicing).result.rg as number[], want.rg);
      }
      // --slice-bytes 100 asks for less than a frame: one frame a slice.
      expect(run(parts, 'rg', ['--slice-bytes', '100', '--workers', '2']).slices).toBe(frames);
      // Every analysis: exactly the answer of the joined file.
      const analyses: [string, string[]][] = [
        ['rg', []],
        ['mean-structure', []],
        ['rmsd', ['--ref-frame', String(sizes[0])]],
        ['rmsf', []],
        ['row-sums', []],
        ['stats', []],
        ...(want.box ? ([['rdf', ['--option', 'range=0,8', '--option', 'nbins=16']]] as [string, string[]][]) : []),
      ];
      for (const [analysis, extra] of analyses) {
        const one = run([whole], analysis, ['--slices', '1', '--workers', '1'], extra);
        for (const slicing of [slicings[2]!, slicings[3]!]) expect(run(parts, analysis, slicing, extra).result, `${analysis} ${slicing.join(' ')}`).toEqual(one.result);
      }
      // The same command again is the same job: every slice is resumed.
      expect(run(parts, 'rg', slicings[2]!).resumedSlices).toBe(7);
    });
  }

  it.skipIf(missing(mdaMissing))(skipNote('DCD and NetCDF parts that are not one trajectory: exit 2, naming the part', mdaMissing), () => {
    const a = join(tmp.path, 'hdr-a.dcd');
    const b = join(tmp.path, 'hdr-b.dcd');
    const c = join(tmp.path, 'hdr-c.ncdf');
    mdaWriteTrajectory(a, 5, 50);
    mdaWriteTrajectory(b, 5, 51);
    mdaWriteTrajectory(c, 5, 50);
    const atoms = fanout(['run', a, b, '--state-dir', join(tmp.path, 'bad-state')]);
    expect(atoms.code).toBe(2);
    expect(atoms.stderr).toBe(`fanout: ${b}: at byte 0: the atom count changes: this part has 51 atoms, ${a} 50: the parts of one trajectory need frames of one layout\n`);
    const format = fanout(['run', a, c, '--state-dir', join(tmp.path, 'bad-state')]);
    expect(format.code).toBe(2);
    expect(format.stderr).toBe(`fanout: ${c}: at byte 0: this part is netcdf, and ${a} dcd: the parts of one trajectory have one format\n`);
    // NetCDF parts whose records hold other variables (velocities, written by scipy's netcdf_file).
    const v = join(tmp.path, 'hdr-v.ncdf');
    mdaPython(
      `
from scipy.io import netcdf_file
f = netcdf_file(args, 'w', version=2)
f.Conventions = 'AMBER'
f.ConventionVersion = '1.0'
f.createDimension('frame', None)
f.createDimension('spatial', 3)
f.createDimension('atom', 50)
c = f.createVariable('coordinates', 'f', ('frame', 'atom', 'spatial')); c.units = 'angstrom'
v = f.createVariable('velocities', 'f', ('frame', 'atom', 'spatial')); v.units = 'angstrom/picosecond'
for i in range(3):
    c[i] = np.full((50, 3), i, dtype=np.float32)
    v[i] = np.ones((50, 3), dtype=np.float32)
f.close()
print('null')`,
      v,
    );
    const records = fanout(['run', c, v, '--state-dir', join(tmp.path, 'bad-state')]);
    expect(records.code).toBe(2);
    expect(records.stderr).toBe(`fanout: ${v}: at byte 0: velocities in every record: yes here, no in ${c}: the parts of one trajectory need frames of one layout\n`);
    // A damaged frame inside a part: the part and the offset in it.
    const damaged = join(tmp.path, 'hdr-damaged.dcd');
    mdaWriteTrajectory(damaged, 5, 50, { seed: 3 });
    const d = readFileSync(damaged);
    const frameBytes = 56 + 3 * (50 * 4 + 8);
    const at = d.length - 2 * frameBytes + 56;
    d.writeInt32LE(7, at);
    writeFileSync(damaged, d);
    const bad = fanout(['run', a, damaged, a, '--analysis', 'rg', '--slices', '4', '--state-dir', join(tmp.path, 'bad-state')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(`fanout: ${damaged}: at byte ${at}: corrupted DCD record marker in frame 3 (X): 7, expected 200\n`);
  });

  it.skipIf(missing(mdaMissing))(skipNote('refuses parts that are not one trajectory, naming the part', mdaMissing), () => {
    const a = join(tmp.path, 'a.xtc');
    const b = join(tmp.path, 'b.xtc');
    mdaWriteTrajectory(a, 5, 50);
    mdaWriteTrajectory(b, 5, 51);
    const r = fanout(['run', a, b, '--state-dir', join(tmp.path, 'bad-state')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`fanout: ${b}: at byte 4: the atom count changes: this frame has 51 atoms, the first frame 50 (the parts of one trajectory: ${a} starts with 50 atoms)\n`);
  });

  it('refuses parts of a format that is not a trajectory (text)', () => {
    const a = join(tmp.path, 'a.csv');
    const b = join(tmp.path, 'b.csv');
    writeFileSync(a, '1,2\n');
    writeFileSync(b, '3,4\n');
    const r = fanout(['run', a, b, '--state-dir', join(tmp.path, 'csv-state')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^fanout: 2 inputs make one job only as trajectories \(XTC, TRR, DCD or NetCDF\); .* is text: run the files one by one, or join them into one file first\n$/);
  });
});
