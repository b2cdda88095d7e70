import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../lib/core/errors.ts';
import { type NetcdfInfo, type NetcdfLayout, scanNetcdf } from '../../lib/core/netcdf.ts';
import { planJob, sliceBounds } from '../../lib/core/plan.ts';
import { MemorySource } from '../../lib/core/source.ts';
import { tempDir } from '../helpers/cli.ts';
import { runInProcess } from '../helpers/dcd-run.ts';
import { MD_DATA, mdaMissing, mdaPositions, mdaPython, mdDataMissing, readNpyF32, missing, skipNote } from '../helpers/md.ts';

const tmp = tempDir('fanout-netcdf-');
afterAll(() => tmp.cleanup());

async function decodeAll(bytes: Uint8Array, slices: number, name = 'traj.nc'): Promise<{ coords: Float32Array; info: NetcdfInfo; shape?: number[] }> {
  const source = new MemorySource(bytes, name, 4093);
  const spec = await planJob(source, { name: 'sum', options: {} }, { slices }, 'test');
  const out: number[] = [];
  for (let i = 0; i < spec.sliceCount; i++) {
    const { start, end } = sliceBounds(spec, i);
    await scanNetcdf(source, spec.layout as NetcdfLayout, start, end, {
      rows(values, rowCount, columns) {
        for (let k = 0; k < rowCount * columns; k++) out.push(values[k]!);
      },
    });
  }
  return { coords: Float32Array.from(out), info: spec.trajectory as NetcdfInfo, shape: spec.shape };
}

/** The coordinates as scipy's own NetCDF reader gives them (MDAnalysis refuses classic files: the AMBER convention asks for 64-bit offsets). */
function scipyCoordinates(path: string): Float32Array {
  const npy = join(tmp.path, 'scipy-coords.npy');
  mdaPython(
    `
from scipy.io import netcdf_file
f = netcdf_file(args['path'], 'r', mmap=False)
np.save(args['npy'], np.asarray(f.variables['coordinates'][:], dtype='<f4'))
f.close()
print('null')`,
    { path, npy },
  );
  return readNpyF32(npy).coords;
}

function firstDifference(got: Float32Array, want: Float32Array): number {
  if (got.length !== want.length) return Math.min(got.length, want.length);
  for (let i = 0; i < got.length; i++) if (!Object.is(got[i], want[i])) return i;
  return -1;
}

/**
 * An AMBER NetCDF trajectory written by scipy's netcdf_file (classic, version 1, or
 * 64-bit offset, version 2): the writer MDAnalysis itself falls back on, not ours.
 */
function writeAmberNetcdf(path: string, frames: number, atoms: number, version: 1 | 2, seed = 1): void {
  mdaPython(
    `
from scipy.io import netcdf_file
rng = np.random.default_rng(args['seed'])
F, n = args['frames'], args['atoms']
f = netcdf_file(args['path'], 'w', version=args['version'])
f.Conventions = 'AMBER'
f.ConventionVersion = '1.0'
f.program = 'fanout-test'
f.createDimension('frame', None)
f.createDimension('spatial', 3)
f.createDimension('atom', n)
f.createDimension('cell_spatial', 3)
f.createDimension('cell_angular', 3)
t = f.createVariable('time', 'f', ('frame',)); t.units = 'picosecond'
c = f.createVariable('coordinates', 'f', ('frame', 'atom', 'spatial')); c.units = 'angstrom'
v = f.createVariable('velocities', 'f', ('frame', 'atom', 'spatial')); v.units = 'angstrom/picosecond'; v.scale_factor = np.float32(20.455)
l = f.createVariable('cell_lengths', 'd', ('frame', 'cell_spatial')); l.units = 'angstrom'
a = f.createVariable('cell_angles', 'd', ('frame', 'cell_angular')); a.units = 'degree'
x = (rng.uniform(0, 40, size=(1, n, 3)) + rng.normal(scale=0.3, size=(F, n, 3)).cumsum(axis=0)).astype(np.float32)
for i in range(F):
    t[i] = 2.0 * i
    c[i] = x[i]
    v[i] = -x[i]
    l[i] = [40 + 0.01 * i, 41, 42]
    a[i] = [90, 90, 90]
f.close()
print('null')`,
    { path, frames, atoms, version, seed },
  );
}

describe('AMBER NetCDF trajectories', () => {
  it.skipIf(missing(mdDataMissing, mdaMissing)).each([
    ['bala.ncdf', 30, 2661, [31.979, 35.845, 36.197, 90, 90, 90]],
    ['tz2.truncoct.nc', 10, 5827, [42.439, 42.439, 42.439, 109.471, 109.471, 109.471]],
  ] as const)(skipNote('%s (MDAnalysis test suite): coordinates bit-identical to MDAnalysis, frames, atoms and cell', mdDataMissing, mdaMissing), async (name, frames, atoms, cell) => {
    if (mdDataMissing || mdaMissing) return;
    const path = join(MD_DATA, name);
    const want = mdaPositions(path);
    const bytes = new Uint8Array(readFileSync(path));
    for (const slices of [1, 2, 7, 30, 100]) {
      const got = await decodeAll(bytes, slices, name);
      expect(firstDifference(got.coords, want.coords), `${slices} slices`).toBe(-1);
      expect(got.shape).toEqual([frames, atoms, 3]);
      expect(got.info).toMatchObject({ format: 'netcdf', variant: '64-bit offset', conventions: 'AMBER', atoms, frames, lengthUnit: 'Å' });
      const b = got.info.box!.first;
      [b.a, b.b, b.c, b.alpha, b.beta, b.gamma].forEach((v, i) => expect(v).toBeCloseTo(cell[i]!, 3));
    }
  });

  it.skipIf(missing(mdaMissing)).each([1, 2] as const)(skipNote('a 2000-frame AMBER NetCDF (version %i) written by scipy: bit-identical to MDAnalysis (scipy for classic files), exact mean structure for any slicing', mdaMissing), async (version) => {
    if (mdaMissing) return;
    const path = join(tmp.path, `long-v${version}.ncdf`);
    writeAmberNetcdf(path, 2000, 37, version, version);
    const want = version === 2 ? mdaPositions(path).coords : scipyCoordinates(path);
    if (version === 2) expect(firstDifference(scipyCoordinates(path), want)).toBe(-1);
    const bytes = new Uint8Array(readFileSync(path));
    for (const slices of [1, 9, 2000, 5000]) {
      const got = await decodeAll(bytes, slices);
      expect(firstDifference(got.coords, want), `${slices} slices`).toBe(-1);
      expect(got.info).toMatchObject({ variant: version === 1 ? 'classic' : '64-bit offset', frames: 2000, velocities: true, first: { timePs: 0 }, last: { timePs: 3998 } });
      expect(got.info.box!.last.a).toBeCloseTo(40 + 0.01 * 1999, 10);
    }
    const one = await runInProcess(new MemorySource(bytes, 'a.nc'), 'mean-structure', { slices: 1 });
    const many = await runInProcess(new MemorySource(bytes, 'a.nc'), 'mean-structure', { slices: 333 }, 5);
    expect(many.result).toEqual(one.result);
  });

  it.skipIf(missing(mdaMissing)).each([
    ['femtosecond', 1e-3],
    ['picosecond', 1],
    ['nanosecond', 1e3],
  ] as const)(skipNote('applies the scale_factor of cell_lengths, cell_angles and time, and time in %s, as LAMMPS writes them (chemfiles\' scaled_traj.nc and water.nc)', mdaMissing), async (unit, toPs) => {
    if (mdaMissing) return;
    const path = join(tmp.path, `scaled-${unit}.nc`);
    mdaPython(
      `
from scipy.io import netcdf_file
f = netcdf_file(args['path'], 'w', version=2)
f.Conventions = 'AMBER'
f.ConventionVersion = '1.0'
f.program = 'LAMMPS'
for name, size in (('frame', None), ('spatial', 3), ('atom', 4), ('cell_spatial', 3), ('cell_angular', 3)):
    f.createDimension(name, size)
t = f.createVariable('time', 'd', ('frame',)); t.units = args['unit']; t.scale_factor = 0.5
c = f.createVariable('coordinates', 'f', ('frame', 'atom', 'spatial')); c.scale_factor = 0.25
l = f.createVariable('cell_lengths', 'd', ('frame', 'cell_spatial')); l.units = 'Angstrom'; l.scale_factor = 1.5
a = f.createVariable('cell_angles', 'd', ('frame', 'cell_angular')); a.units = 'degree'; a.scale_factor = 2.0
for i in range(3):
    t[i] = 100.0 * (i + 1)
    c[i] = np.full((4, 3), 4.0 * (i + 1), dtype=np.float32)
    l[i] = [20.0 + i, 21.0, 22.0]
    a[i] = [45.0, 45.0, 30.0 + i]
f.close()
print('null')`,
      { path, unit },
    );
    const got = await decodeAll(new Uint8Array(readFileSync(path)), 2);
    expect(got.coords.slice(0, 3)).toEqual(Float32Array.of(1, 1, 1));
    expect(got.info.first!.timePs).toBeCloseTo(50 * toPs, 12);
    expect(got.info.last!.timePs).toBeCloseTo(150 * toPs, 12);
    expect(got.info.box).toEqual({ first: { a: 30, b: 31.5, c: 33, alpha: 90, beta: 90, gamma: 60 }, last: { a: 33, b: 31.5, c: 33, alpha: 90, beta: 90, gamma: 64 } });
    // rdf sees the same cell in every frame
    const source = new MemorySource(new Uint8Array(readFileSync(path)), 'scaled.nc');
    const spec = await planJob(source, { name: 'sum', options: {} }, { slices: 1 }, 'test');
    const boxes: number[][] = [];
    await scanNetcdf(source, spec.layout as NetcdfLayout, (spec.layout as NetcdfLayout).dataOffset, (spec.layout as NetcdfLayout).dataEnd, { rows() {}, box: (_row, dims) => boxes.push([...dims]) });
    expect(boxes).toEqual([
      [30, 31.5, 33, 90, 90, 60],
      [31.5, 31.5, 33, 90, 90, 62],
      [33, 31.5, 33, 90, 90, 64],
    ]);
  });

  it.skipIf(missing(mdaMissing))(skipNote('a file still being written (numrecs STREAMING) counts its whole frames from its size', mdaMissing), async () => {
    if (mdaMissing) return;
    const path = join(tmp.path, 'streaming.nc');
    writeAmberNetcdf(path, 50, 7, 1);
    const bytes = new Uint8Array(readFileSync(path));
    const want = scipyCoordinates(path);
    new DataView(bytes.buffer).setUint32(4, 0xffffffff);
    const got = await decodeAll(bytes, 4);
    expect(got.info.frames).toBe(50);
    expect(got.info.warnings[0]).toMatch(/does not give the number of frames.*50 whole frames/);
    expect(firstDifference(got.coords, want)).toBe(-1);
  });

  it.skipIf(missing(mdaMissing))(skipNote('a truncated file fails at the end of its last whole frame', mdaMissing), async () => {
    if (mdaMissing) return;
    const path = join(tmp.path, 'cut.nc');
    writeAmberNetcdf(path, 20, 7, 2);
    const bytes = new Uint8Array(readFileSync(path));
    const source = new MemorySource(bytes, 'cut.nc');
    const spec = await planJob(source, { name: 'sum', options: {} }, {}, 'test');
    const layout = spec.layout as NetcdfLayout;
    const cut = bytes.subarray(0, layout.dataOffset + 13 * layout.frameBytes + 10);
    const e = await planJob(new MemorySource(cut, 'cut.nc'), { name: 'sum', options: {} }, {}, 'test').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).offset).toBe(layout.dataOffset + 13 * layout.frameBytes);
    expect((e as InputError).problem).toMatch(/truncated NetCDF file: the header says 20 frames .* after 13 whole frames/);
  });

  it.each([
    ['auto', 'traj.h5md'],
    ['auto', 'traj.nc'],
    ['netcdf', 'traj.bin'],
    ['auto', 'traj.h5'],
  ] as const)('names HDF5 (H5MD, MDTraj HDF5, NetCDF-4) as such: --format %s on %s', async (format, name) => {
    const bytes = new Uint8Array(4096);
    bytes.set([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
    await expect(planJob(new MemorySource(bytes, name), { name: 'sum', options: {} }, { format }, 'test')).rejects.toThrow(
      new RegExp(`${name.replace('.', '\\.')}: at byte 0: this is an HDF5 file \\(H5MD, MDTraj's \\.h5 or NetCDF-4\\): only NetCDF classic and 64-bit-offset files`),
    );
  });

  it.each([
    ['ache.mdcrd', 'trajectory generated by ptraj\n  32.555  24.652  14.213  33.138  25.217  13.612  33.031  24.009  14.828  32.085\n', /ache\.mdcrd: at byte 0: this is an AMBER ASCII trajectory \(mdcrd\), which fanout does not read: convert it to NetCDF: cpptraj -p TOPOLOGY -y ache\.mdcrd -x ache\.nc/],
    ['run.binpos', 'fxyz\u0003\u0000\u0000\u0000', /run\.binpos: at byte 0: this is an AMBER binpos trajectory, which fanout does not read: convert it to NetCDF: cpptraj -p TOPOLOGY -y run\.binpos -x run\.nc/],
    ['ache.mdcrd.gz (decompressed)', 'trajectory generated by ptraj\n  32.555  24.652\n', /at byte 0: this is an AMBER ASCII trajectory \(mdcrd\), which fanout does not read: convert it to NetCDF: cpptraj -p TOPOLOGY -y ache\.mdcrd\.gz -x ache\.nc/],
  ])('names AMBER formats it does not read: %s', async (name, text, message) => {
    await expect(planJob(new MemorySource(new TextEncoder().encode(text), name), { name: 'sum', options: {} }, {}, 'test')).rejects.toThrow(message);
  });

  it('lists the trajectory formats when a binary file is of none of them', async () => {
    await expect(planJob(new MemorySource(Uint8Array.from([1, 0, 2, 3]), 'traj.bin'), { name: 'sum', options: {} }, {}, 'test')).rejects.toThrow(/traj.bin: at byte 1: a NUL byte: .*--format dcd, xtc, trr or netcdf/);
  });

  it('refuses a file that is not NetCDF, and a NetCDF file without coordinates', async () => {
    await expect(planJob(new MemorySource(new Uint8Array(64).fill(65), 'x.nc'), { name: 'sum', options: {} }, {}, 'test')).rejects.toThrow(/x.nc: at byte 0: not a NetCDF file: it starts with "AAAA"/);
    // "CDF" 1, no records, no dimensions, no attributes, no variables
    const empty = Uint8Array.from([0x43, 0x44, 0x46, 1, 0, 0, 0, 0, ...new Array(24).fill(0)]);
    await expect(planJob(new MemorySource(empty, 'e.nc'), { name: 'sum', options: {} }, {}, 'test')).rejects.toThrow(/without a "coordinates" variable: only AMBER NetCDF trajectories are supported/);
  });
});
