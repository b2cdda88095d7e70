import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fanout, runJson, tempDir } from '../helpers/cli.ts';
import { MD_DATA, mdaMissing, mdaOracle, mdDataMissing, missing, skipNote } from '../helpers/md.ts';

const tmp = tempDir('fanout-cli-netcdf-');
afterAll(() => tmp.cleanup());

describe('fanout run on AMBER NetCDF trajectories', () => {
  it.skipIf(missing(mdDataMissing, mdaMissing)).each([
    [1, 1],
    [7, 2],
  ])(skipNote('bala.ncdf --slices %i --workers %i: exact mean structure and numpy rg, in Å', mdDataMissing, mdaMissing), (slices, workers) => {
    if (mdDataMissing || mdaMissing) return;
    const path = join(MD_DATA, 'bala.ncdf');
    const want = mdaOracle(path);
    const args = [path, '--slices', String(slices), '--workers', String(workers), '--state-dir', join(tmp.path, 'state')];
    const mean = runJson([...args, '--analysis', 'mean-structure']);
    expect(mean.input).toMatchObject({ format: 'netcdf', shape: [30, 2661, 3] });
    expect(mean.records).toBe(30);
    expect(mean.result.mean).toEqual(want.mean);
    expect(mean.trajectory).toMatchObject({ format: 'netcdf', variant: '64-bit offset', atoms: 2661, frames: 30, lengthUnit: 'Å', storedLengthUnit: 'Å', program: 'sander' });
    expect((mean.result.box as { first: { a: number } }).first.a).toBeCloseTo(31.979, 3);
    const rg = runJson([...args, '--analysis', 'rg']).result.rg as number[];
    rg.forEach((v, f) => expect(Math.abs(v - want.rg[f]!)).toBeLessThan(1e-12 * want.rg[f]!));
  });

  it('exits 2 naming HDF5 for a NetCDF-4 / H5MD file', () => {
    const path = join(tmp.path, 'traj.h5md');
    const bytes = new Uint8Array(2048);
    bytes.set([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
    writeFileSync(path, bytes);
    const r = fanout(['run', path, '--state-dir', join(tmp.path, 'state'), '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^fanout: .*traj\.h5md: at byte 0: this is an HDF5 file \(H5MD, MDTraj's \.h5 or NetCDF-4\)/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
