import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runJson, tempDir } from '../helpers/cli.ts';
import { MD_DATA, mdaMissing, mdaOffsets, mdaOracle, mdaPython, mdDataMissing, missing, skipNote, trrWithoutBox } from '../helpers/md.ts';
import { mdaWriteBoxTrajectory } from '../helpers/rdf.ts';

const tmp = tempDir('fanout-cli-trr-');
afterAll(() => tmp.cleanup());

describe('fanout run on TRR trajectories', () => {
  it.skipIf(missing(mdDataMissing, mdaMissing)).each([
    [1, 1],
    [5, 2],
  ])(skipNote('cobrotoxin.trr --slices %i --workers %i: exact mean structure and numpy rg, in Å', mdDataMissing, mdaMissing), (slices, workers) => {
    if (mdDataMissing || mdaMissing) return;
    const path = join(MD_DATA, 'cobrotoxin.trr');
    const want = mdaOracle(path);
    const args = [path, '--slices', String(slices), '--workers', String(workers), '--state-dir', join(tmp.path, 'state')];
    const mean = runJson([...args, '--analysis', 'mean-structure']);
    expect(mean.input).toMatchObject({ format: 'trr' });
    expect(mean.records).toBe(3);
    expect(mean.result.mean).toEqual(want.mean);
    expect(mean.trajectory).toMatchObject({ format: 'trr', atoms: 19385, precision: 'single', lengthUnit: 'Å', storedLengthUnit: 'nm', last: { step: 50000, timePs: 100 } });
    const box = mean.result.box as { first: Record<string, number> };
    expect(box.first.a).toBeCloseTo(52.763, 3);
    const rg = runJson([...args, '--analysis', 'rg']).result.rg as number[];
    rg.forEach((v, f) => expect(Math.abs(v - want.rg[f]!)).toBeLessThan(1e-12 * want.rg[f]!));
  });

  // A TRR frame may carry no box (its box size 0: writers that store none; GROMACS' mdrun always stores one).
  // MDAnalysis 2.4.2 then gives the frame the box it read before it (libmdaxdr reads into an
  // uninitialised buffer), so reading in order, the last frame's box is that of the last frame with one.
  it.skipIf(missing(mdaMissing)).each([
    ['the last frame', [19], 'last'],
    ['the last three frames', [17, 18, 19], 'last'],
    ['the first two frames', [0, 1], 'first'],
  ] as [string, number[], 'first' | 'last'][])(
    skipNote('%s without a box: result.box has the box of the nearest frame with one, as MDAnalysis reads the file in order, and a warning says so', mdaMissing),
    (_, cut, end) => {
      if (mdaMissing) return;
      const path = join(tmp.path, `box-${cut.join('-')}.trr`);
      mdaWriteBoxTrajectory(path, 20, 12, [30, 31, 32, 80, 90, 100], 3);
      const offsets = mdaOffsets(path);
      let bytes: Uint8Array = new Uint8Array(readFileSync(path));
      for (const f of [...cut].reverse()) bytes = trrWithoutBox(bytes, offsets[f]!);
      writeFileSync(path, bytes);
      // MDAnalysis reading every frame in order; its float32 dimensions, lengths times 10 (nm to Å)
      const dims = mdaPython<number[][]>(
        `
import math, shutil, tempfile
d = tempfile.mkdtemp()
r = mda.coordinates.TRR.TRRReader(shutil.copy(args, d), convert_units=False)
# (a frame without a box has what the buffer held: garbage that may be NaN, which JSON cannot carry)
print(json.dumps([None if ts.dimensions is None else [float(v) if math.isfinite(v) else None for v in ts.dimensions] for ts in r]))
shutil.rmtree(d)`,
        path,
      );
      // A first frame without a box has no box before it: MDAnalysis gives it whatever the buffer held
      // (denormal garbage here), so fanout's first box is that of the first frame with one, frame 2.
      const want = { first: end === 'first' ? dims[2]! : dims[0]!, last: dims[dims.length - 1]! };
      if (end === 'last') expect(want.last).toEqual(dims[cut[0]! - 1]);
      for (const slices of ['1', '7']) {
        const doc = runJson([path, '--analysis', 'rg', '--slices', slices, '--state-dir', join(tmp.path, 'state')]);
        const box = doc.result.box as Record<'first' | 'last', Record<string, number>> | undefined;
        expect(box, 'result.box').toBeDefined();
        for (const which of ['first', 'last'] as const) {
          ['a', 'b', 'c', 'alpha', 'beta', 'gamma'].forEach((k, i) => {
            const expected = i < 3 ? want[which][i]! * 10 : want[which][i]!;
            expect(Math.abs(box![which][k]! - expected), `${which} ${k}: ${box![which][k]} against ${expected}`).toBeLessThan(2e-5 * expected);
          });
        }
        const warnings = (doc.trajectory as { warnings: string[] }).warnings;
        expect(warnings.join('\n')).toMatch(end === 'last' ? /the last frame .*has no unit cell/ : /the first frame .*has no unit cell/);
      }
    },
  );
});
