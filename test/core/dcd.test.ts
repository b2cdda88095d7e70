import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Analysis } from '../../lib/core/analysis.ts';
import { builtinAnalyses } from '../../lib/core/analyses/index.ts';
import { cellToBox, type DcdInfo, type DcdLayout, readDcdCell } from '../../lib/core/dcd.ts';
import { InputError, UsageError } from '../../lib/core/errors.ts';
import { scanSlice } from '../../lib/core/job.ts';
import { planJob, sliceBounds } from '../../lib/core/plan.ts';
import { MemorySource } from '../../lib/core/source.ts';
import { tempDir } from '../helpers/cli.ts';
import { encodeDcd, randomCoords, type SyntheticDcd, writeCoordsNpy } from '../helpers/dcd.ts';
import { runInProcess } from '../helpers/dcd-run.ts';
import { describeMd, mdFile } from '../helpers/md.ts';
import { python } from '../helpers/python.ts';

const C36 = mdFile('tip125_tric_C36.dcd');
const ADK = mdFile('adk_dims.dcd');
const tmp = tempDir('fanout-dcd-');
afterAll(() => tmp.cleanup());

/** A source over a file, served in odd-sized chunks so frames straddle chunk edges. */
function fileSource(path: string, chunkBytes = 4093): MemorySource {
  return new MemorySource(new Uint8Array(readFileSync(path)), path, chunkBytes);
}

/**
 * numpy parse of a DCD that knows nothing of our reader: the header size and the
 * per-frame layout are the ones the data README states, not computed by fanout.
 */
const NP_DCD = `
def dcd(path, header, natom, cell):
    raw = np.fromfile(path, dtype='<f4', offset=header)
    o = 14 if cell else 0
    raw = raw.reshape(-1, o + 3 * (natom + 2))
    return np.stack([raw[:, o + 1:o + 1 + natom], raw[:, o + natom + 3:o + 2 * natom + 3], raw[:, o + 2 * natom + 5:o + 3 * natom + 5]], -1)
`;
const REAL = {
  c36: { path: C36, header: 596, natom: 375, cell: true, legacy: 'legacy_DCD_c36_coords.npy', legacyFrames: [1, 4] },
  adk: { path: ADK, header: 356, natom: 3341, cell: false, legacy: 'legacy_DCD_adk_coords.npy', legacyFrames: [5, 29] },
};

/** Collects the rows of chosen frames, knowing where its slice starts (from sliceBounds). */
function collector(layout: DcdLayout, sliceStart: number, frames: number[], into: Map<number, number[]>): Analysis {
  const firstFrame = (sliceStart - layout.dataOffset) / layout.frameBytes;
  return {
    name: 'collect',
    empty: () => null,
    addRows(state, values, rowCount, columns, firstRow) {
      for (let r = 0; r < rowCount; r++) {
        const row = firstFrame * layout.atoms + firstRow + r;
        const frame = Math.floor(row / layout.atoms);
        if (!frames.includes(frame)) continue;
        const list = into.get(frame) ?? [];
        list.push(...values.subarray(r * columns, (r + 1) * columns));
        into.set(frame, list);
      }
      return state;
    },
    combine: (l) => l,
    finish: () => null,
    encode: () => null,
    decode: () => null,
  };
}

async function framesThroughSlicer(path: string, slices: number, frames: number[]): Promise<{ rows: number; frames: Map<number, number[]> }> {
  // Odd chunk sizes go through the staging copy, 4-byte aligned ones are decoded in place.
  const source = fileSource(path, slices % 2 === 1 ? 4093 : 1 << 16);
  const spec = await planJob(source, { name: 'collect', options: {} }, { slices }, 'test');
  const layout = spec.layout as DcdLayout;
  const got = new Map<number, number[]>();
  let rows = 0;
  for (let i = spec.sliceCount - 1; i >= 0; i--) {
    const { start } = sliceBounds(spec, i);
    rows += (await scanSlice(source, spec, i, collector(layout, start, frames, got))).rows;
  }
  return { rows, frames: got };
}

describeMd('DCD header', () => {
  it.each([
    [C36, { variant: 'charmm', charmmVersion: 36, endianness: 'little', atoms: 375, frames: 10, framesInHeader: 10, istart: 1000, nsavc: 1000, unitCell: true, fourD: false }, 596, 4580, 480, '* CHARMM TRICLINIC BOX TESTING'],
    [ADK, { variant: 'charmm', charmmVersion: 35, endianness: 'little', atoms: 3341, frames: 98, framesInHeader: 500, istart: 1000, nsavc: 1000, unitCell: false, fourD: false }, 356, 40116, 240, '* DIMS ADK SEQUENCE FOR PORE PROGRAM'],
  ])('reads the MDAnalysis reference facts of %s', async (path, facts, headerBytes, frameBytes, remarkChars, firstTitle) => {
    const spec = await planJob(fileSource(path), { name: 'sum', options: {} }, {}, 'test');
    expect(spec.format).toBe('dcd');
    expect(spec.trajectory).toMatchObject(facts);
    expect(spec.trajectory).toMatchObject({ lengthUnit: 'Å' });
    expect(spec.shape).toEqual([facts.frames, facts.atoms, 3]);
    expect(spec.frameRows).toBe(facts.atoms);
    const layout = spec.layout as DcdLayout;
    expect([layout.dataOffset, layout.frameBytes]).toEqual([headerBytes, frameBytes]);
    const title = (spec.trajectory as DcdInfo).title;
    expect(title[0]).toBe(firstTitle);
    expect(title.length * 80).toBe(remarkChars);
    // dcd starts at t = 1 ps (test_dcd.py), checked there to 5 decimals
    expect((spec.trajectory as DcdInfo).firstFrameTimePs).toBeCloseTo(1.0, 5);
    expect((spec.trajectory as DcdInfo).timeStepPs).toBeCloseTo(0.99999991, 7);
  });

  it('takes the frame count from the file size and warns when NSET disagrees', async () => {
    const spec = await planJob(fileSource(ADK), { name: 'sum', options: {} }, {}, 'test');
    expect((spec.trajectory as DcdInfo).warnings).toEqual([expect.stringMatching(/500 frames \(NSET\).*holds 98/)]);
    const clean = await planJob(fileSource(C36), { name: 'sum', options: {} }, {}, 'test');
    expect(clean.trajectory!.warnings).toEqual([]);
  });

  it('detects DCD by the CORD magic without the extension', async () => {
    const bytes = new Uint8Array(readFileSync(C36));
    const spec = await planJob(new MemorySource(bytes, 'trajectory.bin'), { name: 'sum', options: {} }, {}, 'test');
    expect(spec.format).toBe('dcd');
  });
});

describeMd('DCD unit cell', () => {
  it('reads the raw c36 cell record of frame 0 (test_libdcd, 6 decimals)', async () => {
    const spec = await planJob(fileSource(C36), { name: 'sum', options: {} }, {}, 'test');
    const cell = await readDcdCell(fileSource(C36), spec.layout as DcdLayout, 0);
    [30.841836, 14.578635, 31.780088, 9.626323, -2.60815, 32.67009].forEach((v, i) => expect(cell[i]).toBeCloseTo(v, 6));
  });

  it('turns the c36 box matrix into the lengths and angles MDAnalysis asserts (4 decimals)', async () => {
    const ref = [
      [35.44604, 35.06156, 34.1585, 91.32802, 61.73521, 44.40703],
      [34.65957, 34.22689, 33.09897, 90.56206, 61.79192, 44.14549],
      [34.52772, 34.66422, 33.53881, 90.55859, 63.11228, 40.14044],
      [34.43749, 33.38432, 34.02133, 88.82457, 64.98057, 36.77397],
      [33.73129, 32.47752, 34.18961, 89.88102, 65.89032, 36.10921],
      [33.78703, 31.90317, 34.98833, 90.03092, 66.12877, 35.07141],
      [33.24708, 31.18271, 34.9654, 93.11122, 68.17743, 35.73643],
      [32.92599, 30.31393, 34.99197, 93.89051, 69.3799, 33.48945],
      [32.15295, 30.43056, 34.96157, 96.01416, 71.50115, 32.56111],
      [31.99748, 30.21518, 35.24292, 95.85821, 71.08429, 31.85939],
    ];
    const source = fileSource(C36);
    const spec = await planJob(source, { name: 'sum', options: {} }, {}, 'test');
    for (let f = 0; f < 10; f++) {
      const box = cellToBox(await readDcdCell(source, spec.layout as DcdLayout, f), 36);
      [box.a, box.b, box.c, box.alpha, box.beta, box.gamma].forEach((v, i) => expect(v).toBeCloseTo(ref[f]![i]!, 4));
    }
    expect((spec.trajectory as DcdInfo).box!.first.a).toBeCloseTo(35.44604, 4);
    expect((spec.trajectory as DcdInfo).box!.last.gamma).toBeCloseTo(31.85939, 4);
  });

  it('reads NAMD-style (version 24) cells as [A, cos gamma, B, cos beta, cos alpha, C] (numpy arccos as oracle)', async () => {
    const cells = [
      [20, 0.1, 21, -0.2, 0.05, 22],
      [20.5, 0, 21.5, 0, 0, 22.5],
    ];
    const d: SyntheticDcd = { atoms: 2, coords: randomCoords(2, 2), cells, charmmVersion: 24 };
    const spec = await planJob(new MemorySource(encodeDcd(d), 'cell.dcd'), { name: 'sum', options: {} }, {}, 'test');
    const want = python<number[][]>('print(json.dumps([[c[0], c[2], c[5], *np.degrees(np.arccos([c[4], c[3], c[1]])).tolist()] for c in args]))', cells);
    const { first, last } = (spec.trajectory as DcdInfo).box!;
    [first, last].forEach((box, f) => [box.a, box.b, box.c, box.alpha, box.beta, box.gamma].forEach((v, i) => expect(v).toBeCloseTo(want[f]![i]!, 10)));
  });
});

describe('cellToBox', () => {
  // A triclinic box matrix with small tilts: its off-diagonal terms look like cosines.
  const h = [40, 0.5, 41, -0.3, 0.2, 42];
  const matrixOracle = () =>
    python<number[]>(
      `h = args
m = np.array([[h[0], h[1], h[3]], [h[1], h[2], h[4]], [h[3], h[4], h[5]]])
l = np.linalg.norm(m, axis=1)
ang = lambda i, j: math.degrees(math.acos(m[i] @ m[j] / (l[i] * l[j])))
print(json.dumps([*l.tolist(), ang(1, 2), ang(0, 2), ang(0, 1)]))`,
      h,
    );

  it.each([22, 35, 36, 45])('reads CHARMM version %i cells as the symmetric box matrix, even when they look like cosines', (version) => {
    const box = cellToBox(h, version);
    const want = matrixOracle();
    [box.a, box.b, box.c, box.alpha, box.beta, box.gamma].forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 10));
  });

  it('falls back to the box matrix when a version 24 cell has impossible angles', () => {
    const cell = [30.841836, 14.578635, 31.780088, 9.626323, -2.60815, 32.67009];
    expect(cellToBox(cell, 24)).toEqual(cellToBox(cell, 36));
  });

  it('reads degrees when the angle slots are not cosines (version 24 writers that store angles)', () => {
    expect(cellToBox([10, 60, 11, 70, 80, 12], 24)).toEqual({ a: 10, b: 11, c: 12, alpha: 80, beta: 70, gamma: 60 });
  });
});

describeMd('DCD frames', () => {
  it.each([
    ['c36', [1, 2, 3, 4, 7, 10]],
    ['adk', [1, 2, 3, 5, 13, 49, 98]],
  ] as const)('match the legacy MDAnalysis frame arrays of %s exactly, for slice counts %j', async (name, sliceCounts) => {
    const ref = REAL[name];
    const legacy = python<number[][][]>('print(json.dumps(np.load(args).astype(np.float64).tolist()))', mdFile(ref.legacy));
    for (const slices of sliceCounts) {
      const { rows, frames } = await framesThroughSlicer(ref.path, slices, [...ref.legacyFrames]);
      expect(rows).toBe((name === 'c36' ? 10 : 98) * ref.natom);
      ref.legacyFrames.forEach((f, k) => expect(frames.get(f)).toEqual(legacy[k]!.flat()));
    }
  });

  it('gives the positions test_atomgroup asserts for adk frame 0, atoms 1000:2000:200, and its centre', async () => {
    const { frames } = await framesThroughSlicer(ADK, 4, [0]);
    const f0 = frames.get(0)!;
    const want = [
      [3.94543672, -12.4060812, -7.26820087],
      [13.21632767, 5.879035, -14.67914867],
      [12.07735443, -9.00604534, 4.09301519],
      [11.35541916, 7.0690732, -0.32511973],
      [-13.26763439, 4.90658951, 10.6880455],
    ];
    [1000, 1200, 1400, 1600, 1800].forEach((atom, k) => expect(f0.slice(atom * 3, atom * 3 + 3)).toEqual(want[k]!.map(Math.fround)));
    const centre = [0, 1, 2].map((c) => f0.filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0) / 3341);
    [-0.04223963, 0.0141824, -0.03505163].forEach((v, c) => expect(centre[c]).toBeCloseTo(v, 5));
  });
});

describeMd('analyses on the real trajectories', () => {
  const oracle = (name: 'c36' | 'adk') => {
    const r = REAL[name];
    return python<{ sum: number; colSums: number[]; colMin: number[]; colMax: number[]; atomSums: number[]; mean: number[][]; rg: number[]; frames: number }>(
      `${NP_DCD}
x = dcd(args['path'], args['header'], args['natom'], args['cell'])
legacy = np.load(args['legacy'])
assert np.array_equal(legacy[0], x[args['lf'][0]]) and np.array_equal(legacy[1], x[args['lf'][1]])
d = x.astype(np.float64)
F = d.shape[0]
c = d - d.mean(axis=1, keepdims=True)
print(json.dumps({
  'frames': F,
  'sum': math.fsum(d.ravel()),
  'colSums': [math.fsum(d[:, :, k].ravel()) for k in range(3)],
  'colMin': d.min(axis=(0, 1)).tolist(), 'colMax': d.max(axis=(0, 1)).tolist(),
  'atomSums': [math.fsum(d[:, i, :].ravel()) for i in range(d.shape[1])],
  'mean': [[math.fsum(d[:, i, k]) / F for k in range(3)] for i in range(d.shape[1])],
  'rg': np.sqrt((c ** 2).sum(axis=2).mean(axis=1)).tolist(),
}))`,
      { path: r.path, header: r.header, natom: r.natom, cell: r.cell, legacy: mdFile(r.legacy), lf: r.legacyFrames },
    );
  };
  let want: Record<'c36' | 'adk', ReturnType<typeof oracle>>;
  beforeAll(() => {
    want = { c36: oracle('c36'), adk: oracle('adk') };
  });

  it.each([
    ['c36', 1],
    ['c36', 3],
    ['c36', 10],
    ['adk', 1],
    ['adk', 4],
    ['adk', 17],
  ] as const)('%s with %i slices: sum, stats, row-sums and mean-structure equal math.fsum sums', async (name, slices) => {
    const w = want[name];
    const path = REAL[name].path;
    const sum = await runInProcess(fileSource(path), 'sum', { slices }, slices);
    expect(sum.result.sum).toBe(w.sum);
    const stats = (await runInProcess(fileSource(path), 'stats', { slices }, slices)).result.columns as { sum: number; min: number; max: number }[];
    expect(stats.map((c) => c.sum)).toEqual(w.colSums);
    expect(stats.map((c) => c.min)).toEqual(w.colMin);
    expect(stats.map((c) => c.max)).toEqual(w.colMax);
    const rowSums = await runInProcess(fileSource(path), 'row-sums', { slices }, slices);
    expect(rowSums.result.rowSums).toEqual(w.atomSums);
    const mean = await runInProcess(fileSource(path), 'mean-structure', { slices }, slices);
    expect(mean.result.frames).toBe(w.frames);
    expect(mean.result.atoms).toBe(REAL[name].natom);
    expect(mean.result.mean).toEqual(w.mean);
  });

  it.each([
    ['c36', 1],
    ['c36', 4],
    ['adk', 1],
    ['adk', 9],
    ['adk', 98],
  ] as const)('%s with %i slices: rg per frame in frame order matches numpy', async (name, slices) => {
    const w = want[name];
    const { result } = await runInProcess(fileSource(REAL[name].path), 'rg', { slices }, slices + 7);
    const rg = result.rg as number[];
    expect(rg.length).toBe(w.frames);
    rg.forEach((v, f) => expect(Math.abs(v - w.rg[f]!)).toBeLessThan(1e-12 * w.rg[f]!));
    expect(result.min).toBe(Math.min(...rg));
    expect(result.max).toBe(Math.max(...rg));
    expect(result.mean as number).toBeCloseTo(w.rg.reduce((a, b) => a + b, 0) / w.frames, 10);
  });

  it('puts the first and last box of a trajectory with a unit cell in the result', async () => {
    const { result } = await runInProcess(fileSource(C36), 'mean-structure', { slices: 3 });
    const box = result.box as { first: Record<string, number>; last: Record<string, number> };
    expect(box.first.alpha).toBeCloseTo(91.32802, 4);
    expect(box.last.c).toBeCloseTo(35.24292, 4);
    expect((await runInProcess(fileSource(ADK), 'sum', {})).result.box).toBeUndefined();
  });
});

describe('synthetic DCD variants', () => {
  const coords = randomCoords(37, 5, 11);
  const base: SyntheticDcd = { atoms: 5, coords };
  const baseline = async (d: SyntheticDcd, slices: number) => {
    const source = new MemorySource(encodeDcd(d), 'synthetic.dcd', 97);
    return [(await runInProcess(source, 'mean-structure', { slices })).result.mean, (await runInProcess(source, 'rg', { slices })).result.rg];
  };

  it.each([
    ['big-endian', { littleEndian: false }],
    ['with a unit cell', { cells: Array.from({ length: 37 }, (_, f) => [30 + f, 0, 31, 0, 0, 32]) }],
    ['big-endian with a unit cell', { littleEndian: false, cells: Array.from({ length: 37 }, () => [30, 0.5, 31, 0, 0, 32]) }],
    ['4-D (W record skipped)', { fourD: true }],
    ['X-PLOR (float64 DELTA, no flags)', { charmmVersion: 0, delta: 0.5 }],
  ])('reads a %s file to the same numbers as numpy does from the .npy', async (_name, variant) => {
    const npyPath = join(tmp.path, 'synthetic.npy');
    writeCoordsNpy(npyPath, base);
    const want = python<{ mean: number[][]; rg: number[] }>(
      `d = np.load(args).astype(np.float64)
c = d - d.mean(axis=1, keepdims=True)
print(json.dumps({'mean': [[math.fsum(d[:, i, k]) / d.shape[0] for k in range(3)] for i in range(d.shape[1])], 'rg': np.sqrt((c ** 2).sum(axis=2).mean(axis=1)).tolist()}))`,
      npyPath,
    );
    for (const slices of [1, 2, 5, 37]) {
      const [mean, rg] = await baseline({ ...base, ...variant }, slices);
      expect(mean).toEqual(want.mean);
      (rg as number[]).forEach((v, f) => expect(Math.abs(v - want.rg[f]!)).toBeLessThan(1e-12 * want.rg[f]!));
    }
  });

  it("reads NTITLE title lines when both title markers count fewer, as libdcd (MDAnalysis) does: MDAnalysis's own test.dcd has markers of 164 bytes around 3 lines", async () => {
    const title = ['* ONE', '* TWO', '* THREE'];
    const right = encodeDcd({ ...base, title });
    const old = right.slice();
    // the leading and trailing title markers say 2 lines (4 + 160 bytes); NTITLE and the lines are 3
    new DataView(old.buffer).setInt32(92, 164, true);
    new DataView(old.buffer).setInt32(92 + 4 + 244, 164, true);
    const [want, got] = [await runInProcess(new MemorySource(right, 'right.dcd', 97), 'mean-structure', { slices: 5 }), await runInProcess(new MemorySource(old, 'old.dcd', 97), 'mean-structure', { slices: 5 })];
    expect(got.result.mean).toEqual(want.result.mean);
    const spec = await planJob(new MemorySource(old, 'old.dcd'), { name: 'sum', options: {} }, {}, 'test');
    expect((spec.trajectory as DcdInfo).title).toEqual(title);
    expect((spec.trajectory as DcdInfo).warnings.join(' ')).toMatch(/title record markers say 164 bytes but NTITLE 3 makes 244: read as NTITLE says/);
    // markers that disagree with each other are still corrupted
    const bad = right.slice();
    new DataView(bad.buffer).setInt32(92, 164, true);
    await expect(planJob(new MemorySource(bad, 'bad.dcd'), { name: 'sum', options: {} }, {}, 'test')).rejects.toThrow(/at byte 260: corrupted DCD record marker after the title record: \d+, expected 164/);
  });

  it('reports the X-PLOR time step from its float64 DELTA', async () => {
    const spec = await planJob(new MemorySource(encodeDcd({ ...base, charmmVersion: 0, delta: 0.5, nsavc: 10, istart: 20 }), 'x.dcd'), { name: 'sum', options: {} }, {}, 'test');
    expect(spec.trajectory).toMatchObject({ variant: 'xplor', delta: 0.5, unitCell: false });
    expect((spec.trajectory as DcdInfo).timeStepPs).toBeCloseTo(0.5 * 10 * 0.04888821, 12);
    expect((spec.trajectory as DcdInfo).firstFrameTimePs).toBeCloseTo(2 * 0.5 * 10 * 0.04888821, 12);
  });
});

describe('DCD decoding paths', () => {
  // Values whose float32 bits must come through unchanged: signed zeros, subnormals, the
  // largest float32, infinities and NaN, next to ordinary coordinates.
  const atoms = 7;
  const coords = randomCoords(23, atoms, 17);
  coords.set([-0, 0, 1e-45, -1.1754942e-38, 3.4028235e38, -Infinity, Infinity, NaN, -3.4028235e38], 5);
  const evenCoords = randomCoords(23, 8, 19);
  const variants = {
    'little-endian': {},
    'little-endian, an even atom count': { atoms: 8, coords: evenCoords },
    'big-endian': { littleEndian: false },
    'big-endian, unit cell, 4-D': { littleEndian: false, fourD: true, cells: Array.from({ length: 23 }, (_, f) => [40 + f, 0, 41, 0, 0, 42]) },
    'little-endian, unit cell': { cells: Array.from({ length: 23 }, () => [40, 0, 41, 0, 0, 42]) },
  } satisfies Record<string, Partial<SyntheticDcd>>;

  /** The rows the reader hands to analyses, from `bytes` placed `shift` bytes into a buffer and served in `chunk`-byte chunks. */
  const rowsOf = async (bytes: Uint8Array, shift: number, chunk: number, slices: number): Promise<number[]> => {
    const shifted = new Uint8Array(bytes.length + shift).subarray(shift);
    shifted.set(bytes);
    const source = new MemorySource(shifted, 'paths.dcd', chunk);
    const spec = await planJob(source, { name: 'capture', options: {} }, { slices }, 'test');
    const out: number[] = [];
    const capture = { ...builtinAnalyses.sum!, addRows: (st: unknown, v: Float64Array, n: number, c: number) => (out.push(...v.subarray(0, n * c)), st) } as Analysis;
    for (let i = 0; i < spec.sliceCount; i++) await scanSlice(source, spec, i, capture);
    return out;
  };

  it.each(Object.entries(variants))('%s: every value bit for bit, aligned or not, whole frames per chunk or frames split across chunks', async (_name, variant) => {
    const d: SyntheticDcd = { atoms, coords, ...variant };
    const bytes = encodeDcd(d);
    const frameBytes = (d.cells ? 56 : 0) + (d.fourD ? 4 : 3) * (d.atoms * 4 + 8);
    const want = Array.from(d.coords);
    for (const shift of [0, 1, 2, 3]) {
      for (const chunk of [frameBytes * 4, frameBytes * 4 + 4, 97, 1 << 20]) {
        const got = await rowsOf(bytes, shift, chunk, 3);
        expect(got.length).toBe(want.length);
        got.forEach((v, i) => {
          if (!Object.is(v, want[i])) expect.fail(`value ${i} (shift ${shift}, chunk ${chunk}): ${v}, expected ${want[i]}`);
        });
      }
    }
  });

  it('scans slices at the same time in one thread without sharing buffers', async () => {
    const bytes = encodeDcd({ atoms, coords, littleEndian: false });
    const source = new MemorySource(bytes, 'concurrent.dcd', 97);
    const spec = await planJob(source, { name: 'capture', options: {} }, { slices: 5 }, 'test');
    const outs = Array.from({ length: spec.sliceCount }, () => [] as number[]);
    const capture = (out: number[]) => ({ ...builtinAnalyses.sum!, addRows: (st: unknown, v: Float64Array, n: number, c: number) => (out.push(...v.subarray(0, n * c)), st) }) as Analysis;
    await scanSlice(source, spec, 0, capture([])); // leaves its buffers for the next scans
    await Promise.all(outs.map((out, i) => scanSlice(source, spec, i, capture(out))));
    expect(outs.flat().every((v, i) => Object.is(v, coords[i]))).toBe(true);
    expect(outs.flat().length).toBe(coords.length);
  });

  it.each([
    ['little-endian', 'X', true, 0],
    ['big-endian', 'unit cell', false, 1],
    ['big-endian', 'W', false, 2],
  ] as const)('%s: a corrupted %s marker fails with its frame, value and byte offset, from any chunking', async (_name, record, littleEndian, frame) => {
    const d: SyntheticDcd = { atoms, coords, littleEndian, fourD: true, cells: Array.from({ length: 23 }, () => [40, 0, 41, 0, 0, 42]) };
    const good = encodeDcd(d);
    const header = good.length - 23 * (56 + 4 * (atoms * 4 + 8));
    const frameBytes = 56 + 4 * (atoms * 4 + 8);
    // the closing marker of the record: unit cell at 52, W after the cell and X, Y, Z
    const inFrame = { 'unit cell': 52, X: 56, W: 56 + 3 * (atoms * 4 + 8) + 4 + atoms * 4 }[record];
    const at = header + (frame + 10) * frameBytes + inFrame;
    const bad = good.slice();
    new DataView(bad.buffer).setInt32(at, -5, littleEndian);
    for (const chunk of [frameBytes * 4, 97]) {
      const e = await rowsOf(bad, 1, chunk, 2).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).offset).toBe(at);
      const want = record === 'unit cell' ? 48 : atoms * 4;
      expect((e as InputError).problem).toBe(`corrupted DCD record marker in frame ${frame + 10} (${record}): -5, expected ${want}`);
    }
  });
});

describe('broken DCD files', () => {
  const d: SyntheticDcd = { atoms: 4, coords: randomCoords(6, 4, 5) };
  const good = encodeDcd(d);
  const headerBytes = 92 + (4 + 160) + 8 + 12;
  const frameBytes = 3 * (16 + 8);

  const failure = async (bytes: Uint8Array, name = 'broken.dcd', slices = 3): Promise<unknown> => {
    try {
      await runInProcess(new MemorySource(bytes, name, 13), 'sum', { slices });
    } catch (e) {
      return e;
    }
    return undefined;
  };

  it.each([
    ['the X record start of frame 3', headerBytes + 3 * frameBytes],
    ['the Y record end of frame 0', headerBytes + 2 * (16 + 8) - 4],
    ['the Z record end of frame 5', headerBytes + 6 * frameBytes - 4],
  ])('fails with the byte offset of a corrupted marker at %s', async (_where, at) => {
    const bad = good.slice();
    new DataView(bad.buffer).setInt32(at, 17, true);
    const e = await failure(bad);
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).offset).toBe(at);
    expect((e as InputError).message).toMatch(/corrupted DCD record marker in frame \d \([XYZ]\): 17, expected 16/);
  });

  it('fails on a truncated last frame, naming where it starts', async () => {
    const e = await failure(good.subarray(0, good.length - 10));
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).offset).toBe(headerBytes + 5 * frameBytes);
    expect((e as InputError).problem).toMatch(/truncated last frame: 62 bytes of a 72-byte frame/);
  });

  it('refuses a NAMNF of every atom or fewer than none, naming the field; and fixed atoms without their free-atom list', async () => {
    for (const namnf of [d.atoms, -1]) {
      const e = await failure(encodeDcd({ ...d, namnf }));
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).offset).toBe(40);
      expect((e as InputError).problem).toMatch(/NAMNF is -?\d+ fixed atoms of \d+/);
    }
    // NAMNF 2 with no list: the frame's first record marker is read where the list's should be
    const e = await failure(encodeDcd({ ...d, namnf: 2 }));
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).problem).toMatch(/truncated last frame|free atom list/);
  });

  it.each([true, false])('names 8-byte record markers (little-endian %s)', async (le) => {
    // 84 as an int64, then "CORD": chemfiles' mrmd_h2so4-64bit-le.dcd was called "not a DCD file"
    const bytes = new Uint8Array(200);
    new DataView(bytes.buffer).setBigInt64(0, 84n, le);
    bytes.set([0x43, 0x4f, 0x52, 0x44], 8);
    const e = await failure(bytes, 'wide.dcd');
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).offset).toBe(0);
    expect((e as InputError).problem).toMatch(/^DCD with 8-byte record markers: only 4-byte markers are supported/);
  });

  it('refuses a .dcd that is not a DCD', async () => {
    const e = await failure(new TextEncoder().encode('1,2,3\n'), 'notes.dcd');
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).problem).toMatch(/not a DCD file/);
  });

  it('refuses --frame-rows that disagree with NATOM', async () => {
    await expect(planJob(new MemorySource(good, 'x.dcd'), { name: 'sum', options: {} }, { frameRows: 3 }, 'test')).rejects.toBeInstanceOf(UsageError);
  });
});

describe('DCD with fixed atoms: frame 0 kept between slices of one job only', () => {
  it('a second job over another file of the same name and size reads its own frame 0 (as a warm Lambda instance would get a new upload)', async () => {
    const atoms = 5;
    const free = [1, 3];
    const mean = builtinAnalyses['mean-structure']!;
    const means: number[][][] = [];
    for (const seed of [1, 2]) {
      const source = new MemorySource(encodeDcd({ atoms, coords: randomCoords(6, atoms, seed), freeAtoms: free }), 'same.dcd');
      // two slices: the second needs frame 0's fixed atoms without holding frame 0
      const spec = await planJob(source, { name: 'mean-structure', options: {} }, { slices: 2 }, `version-${seed}`);
      const second = await scanSlice(source, spec, 1, mean);
      const ctx = { columns: 3, frameRows: atoms, options: {} };
      const data = (mean.finish(mean.decode(second.state, ctx), second.rows, ctx) as { mean: { data: Float64Array } }).mean.data;
      const rows = Array.from({ length: atoms }, (_, a) => Array.from(data.subarray(3 * a, 3 * a + 3)));
      means.push(rows);
      // the fixed atoms (0, 2, 4) sit at their frame-0 place in every frame of the slice
      const coords = randomCoords(6, atoms, seed);
      for (const a of [0, 2, 4]) expect(rows[a]).toEqual([0, 1, 2].map((k) => coords[a * 3 + k]!));
    }
    expect(means[0]).not.toEqual(means[1]);
  });
});
