import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runJson, tempDir } from '../helpers/cli.ts';
import { MD_DATA, mdaMissing, mdaOracle, mdDataMissing, missing, skipNote } from '../helpers/md.ts';

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
});
