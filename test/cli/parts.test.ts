/**
 * A trajectory in parts (`fanout run part1.xtc part2.xtc ...`): one job whose frames run in
 * argument order, with exactly the answer of the same frames in one file, for any slicing.
 * Parts are written by MDAnalysis (each a file of its own, with its own first frame).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fanout, runJson, tempDir } from '../helpers/cli.ts';
import { mdaMissing, mdaWriteTrajectory, missing, skipNote } from '../helpers/md.ts';

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
