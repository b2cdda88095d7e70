import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../lib/core/errors.ts';
import { planJob, sliceBounds } from '../../lib/core/plan.ts';
import { MemorySource } from '../../lib/core/source.ts';
import { boxFromVectors, scanXtc, type XtcInfo, type XtcLayout } from '../../lib/core/xtc.ts';
import { bitsForSizes, decodeCompressed } from '../../lib/core/xtc-decode.ts';
import { tempDir } from '../helpers/cli.ts';
import { runInProcess } from '../helpers/dcd-run.ts';
import { gmxConvert, gmxMissing, MD_DATA, mdaMissing, mdaOffsets, mdaPositions, mdaPython, mdaWriteTrajectory, mdDataMissing, missing, skipNote, toLargeXtc } from '../helpers/md.ts';

const tmp = tempDir('fanout-xtc-');
afterAll(() => tmp.cleanup());

/** Every frame's rows, slice after slice, the way the job reads them: each slice on its own, in odd-sized chunks. */
async function decodeAll(bytes: Uint8Array, slices: number, chunkBytes = 4093): Promise<{ coords: Float32Array; info: XtcInfo; sliceCount: number }> {
  const source = new MemorySource(bytes, 'traj.xtc', chunkBytes);
  const spec = await planJob(source, { name: 'sum', options: {} }, { slices }, 'test');
  const out: number[] = [];
  for (let i = 0; i < spec.sliceCount; i++) {
    const { start, end } = sliceBounds(spec, i);
    await scanXtc(source, spec.layout as XtcLayout, start, end, {
      rows(values, rowCount, columns) {
        for (let k = 0; k < rowCount * columns; k++) out.push(values[k]!);
      },
    });
  }
  return { coords: Float32Array.from(out), info: spec.trajectory as XtcInfo, sliceCount: spec.sliceCount };
}

/** Index of the first value that differs bit for bit (as float32), or -1. */
function firstDifference(got: Float32Array, want: Float32Array): number {
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** The error every slice of the job gives (each scanned on its own), as [offset, message]s; several slices may see the same damage. */
async function sliceErrors(bytes: Uint8Array, slices: number): Promise<[number, string][]> {
  const source = new MemorySource(bytes, 'bad.xtc', 1000);
  const spec = await planJob(source, { name: 'sum', options: {} }, { slices, format: 'xtc' }, 'test');
  const errors: [number, string][] = [];
  for (let i = 0; i < spec.sliceCount; i++) {
    const { start, end } = sliceBounds(spec, i);
    try {
      await scanXtc(source, spec.layout as XtcLayout, start, end, { rows() {} });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      errors.push([e.offset, e.problem]);
    }
  }
  return errors;
}

describe('decodeCompressed', () => {
  it('packs three sizes into the bit length of their product', () => {
    expect(bitsForSizes(8, 8, 8)).toBe(10);
    expect(bitsForSizes(1 << 20, 1 << 20, 1 << 20)).toBe(61);
  });

  it('reports a run that passes the frame as a problem of the data', () => {
    // 10 atoms; the first is full (ranges of 2: 4 bits for the three), then flag 1 and run 30 (10 small atoms): one too many
    const params = { atoms: 10, precision: 1000, minint: [0, 0, 0] as const, maxint: [1, 1, 1] as const, smallidx: 9 };
    expect(() => decodeCompressed(Uint8Array.from([0b0000_1_111, 0b10_000000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), params, new Float64Array(33))).toThrow(/a run of 10 small atoms after atom 0 passes the 10 atoms/);
  });
});

describe('XTC files from the MDAnalysis test suite', () => {
  const lacking = [mdDataMissing, mdaMissing];
  it.skipIf(missing(...lacking)).each(['adk_oplsaa.xtc', 'cobrotoxin.xtc', 'test_5atoms.xtc'])(skipNote('%s: coordinates bit-identical to MDAnalysis for any number of slices', ...lacking), async (name) => {
    if (lacking.some(Boolean)) return;
    const path = join(MD_DATA, name);
    const want = mdaPositions(path);
    const bytes = new Uint8Array(readFileSync(path));
    for (const slices of [1, 2, 5, 16, 64, 600]) {
      const got = await decodeAll(bytes, slices);
      expect(firstDifference(got.coords, want.coords), `${slices} slices`).toBe(-1);
    }
  });

  it.skipIf(missing(...lacking)).each(['adk_oplsaa.xtc', 'cobrotoxin.xtc', 'test_5atoms.xtc'])(skipNote('%s: atoms, precision, first and last box and time as MDAnalysis reads them', ...lacking), async (name) => {
    if (lacking.some(Boolean)) return;
    const facts = mdaPython<{ atoms: number; dims: number[][]; times: number[] }>(
      `
import shutil, tempfile, os
d = tempfile.mkdtemp()
p = shutil.copy(args, d)
u = mda.coordinates.XTC.XTCReader(p, convert_units=False)
dims = [u[0].dimensions.tolist(), u[-1].dimensions.tolist()]
print(json.dumps({'atoms': u.n_atoms, 'dims': dims, 'times': [float(u[0].time), float(u[-1].time)]}))
shutil.rmtree(d)`,
      join(MD_DATA, name),
    );
    const { info } = await decodeAll(new Uint8Array(readFileSync(join(MD_DATA, name))), 1);
    expect(info.atoms).toBe(facts.atoms);
    // Lengths in Å (lib/core/lengths.ts); the file's nm and its precision in nm are stated.
    expect(info).toMatchObject({ lengthUnit: 'Å', storedLengthUnit: 'nm' });
    // GROMACS' default, 3 decimals: MDAnalysis does not expose it
    expect(info.precision).toBe(facts.atoms > 9 ? 1000 : null);
    expect([info.first.timePs, info.last!.timePs]).toEqual(facts.times.map((t) => Math.fround(t)));
    for (const [box, dims] of [
      [info.box!.first, facts.dims[0]!],
      [info.box!.last, facts.dims[1]!],
    ] as const) {
      // MDAnalysis read in nm (convert_units=False): lengths times 10, angles as they are.
      [box.a, box.b, box.c, box.alpha, box.beta, box.gamma].forEach((v, i) => expect(v).toBeCloseTo(dims[i]! * (i < 3 ? 10 : 1), 3));
    }
  });

  it.skipIf(missing(...lacking))(skipNote('adk_oplsaa.xtc: 10 frames at the offsets MDAnalysis asserts, found without an index', ...lacking), async () => {
    if (lacking.some(Boolean)) return;
    const bytes = new Uint8Array(readFileSync(join(MD_DATA, 'adk_oplsaa.xtc')));
    const offsets = [0, 165188, 330364, 495520, 660708, 825872, 991044, 1156212, 1321384, 1486544];
    // Slices of 4 bytes around every frame start: those that hold its first byte decode it, the others nothing.
    const source = new MemorySource(bytes, 'adk_oplsaa.xtc');
    const spec = await planJob(source, { name: 'sum', options: {} }, {}, 'test');
    for (let f = 1; f < offsets.length; f++) {
      for (const delta of [-8, -4, -3, -1, 0, 1, 4]) {
        let rows = 0;
        await scanXtc(source, spec.layout as XtcLayout, offsets[f]! + delta, offsets[f]! + 4 + delta, { rows: (_, n) => void (rows += n) });
        expect(rows, `slice at ${offsets[f]! + delta}`).toBe(delta <= 0 && delta > -4 ? 47681 : 0);
      }
    }
  });
});

describe('long XTC trajectories written by MDAnalysis and GROMACS', () => {
  it.skipIf(missing(mdaMissing)).each([
    ['4000 frames of 31 atoms', 4000, 31, {}],
    ['300 frames of 900 atoms, 4 decimals', 300, 900, { precision: 4 }],
    ['150 frames of 200 atoms spread over 130 nm (packed numbers of 49 to 52 bits)', 150, 200, { spread: 1300 }],
    ['200 frames of 300 atoms spread over 600 nm (packed numbers past 52 bits)', 200, 300, { spread: 6000 }],
    ['100 frames of 60 atoms spread over 20,000 nm (each coordinate on its own bits)', 100, 60, { spread: 200000 }],
  ] as const)(skipNote('%s: bit-identical to MDAnalysis for 1 to 20,000 slices, slices smaller than a frame included', mdaMissing), async (_, frames, atoms, options) => {
    if (mdaMissing) return;
    const path = join(tmp.path, `long-${frames}-${atoms}.xtc`);
    mdaWriteTrajectory(path, frames, atoms, { seed: frames + atoms, ...options });
    const want = mdaPositions(path);
    const bytes = new Uint8Array(readFileSync(path));
    expect(want.frames).toBe(frames);
    for (const slices of [1, 3, 17, 250, frames, 20000]) {
      const got = await decodeAll(bytes, slices, 65536);
      expect(firstDifference(got.coords, want.coords), `${slices} slices (${got.sliceCount} planned)`).toBe(-1);
    }
  });

  it.skipIf(missing(mdaMissing, gmxMissing))(skipNote('an XTC written by gmx trjconv: bit-identical to MDAnalysis, and mean-structure exact for any slicing', mdaMissing, gmxMissing), async () => {
    if (mdaMissing || gmxMissing) return;
    const trr = join(tmp.path, 'gmx-in.trr');
    const xtc = join(tmp.path, 'gmx-out.xtc');
    mdaWriteTrajectory(trr, 3000, 50, { seed: 7 });
    gmxConvert(trr, xtc, 4);
    const want = mdaPositions(xtc);
    const bytes = new Uint8Array(readFileSync(xtc));
    for (const slices of [1, 9, 3000, 7777]) expect(firstDifference((await decodeAll(bytes, slices)).coords, want.coords), `${slices} slices`).toBe(-1);
    const one = await runInProcess(new MemorySource(bytes, 'g.xtc', 7001), 'mean-structure', { slices: 1 });
    for (const slices of [5, 613, 5000]) {
      const many = await runInProcess(new MemorySource(bytes, 'g.xtc', 7001), 'mean-structure', { slices }, slices);
      expect(many.result).toEqual(one.result);
    }
    expect(one.result.frames).toBe(3000);
  });

  it.skipIf(missing(mdaMissing))(skipNote("GROMACS 2023's large-file magic (int64 byte count) decodes to the same coordinates", mdaMissing), async () => {
    if (mdaMissing) return;
    const path = join(tmp.path, 'for-2023.xtc');
    mdaWriteTrajectory(path, 500, 40, { seed: 3 });
    const want = mdaPositions(path);
    const large = toLargeXtc(new Uint8Array(readFileSync(path)), mdaOffsets(path));
    for (const slices of [1, 7, 500, 3000]) {
      const got = await decodeAll(large, slices);
      expect(got.info.magic).toBe(2023);
      expect(firstDifference(got.coords, want.coords), `${slices} slices`).toBe(-1);
    }
  });
});

describe('XTC slices at random cut points', () => {
  it.skipIf(missing(mdaMissing))(skipNote('every frame is scanned exactly once, by the slice that holds its first byte', mdaMissing), async () => {
    if (mdaMissing) return;
    const path = join(tmp.path, 'cuts.xtc');
    mdaWriteTrajectory(path, 120, 14, { seed: 21 });
    const bytes = new Uint8Array(readFileSync(path));
    const offsets = mdaOffsets(path);
    const source = new MemorySource(bytes, 'cuts.xtc', 777);
    const spec = await planJob(source, { name: 'sum', options: {} }, { slices: 1 }, 'test');
    const layout = spec.layout as XtcLayout;
    const whole: number[] = [];
    await scanXtc(source, layout, 0, bytes.length, { rows: (v, n) => void whole.push(...v.subarray(0, n * 3)) });
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), async (cuts) => {
        const edges = [0, ...cuts.sort((a, b) => a - b), bytes.length];
        const got: number[] = [];
        for (let k = 0; k + 1 < edges.length; k++) {
          let frames = 0;
          await scanXtc(source, layout, edges[k]!, edges[k + 1]!, {
            rows: (v, n) => {
              got.push(...v.subarray(0, n * 3));
              frames += n / 14;
            },
          });
          expect(frames).toBe(offsets.filter((o) => o >= edges[k]! && o < edges[k + 1]!).length);
        }
        expect(got).toEqual(whole);
      }),
      { numRuns: 60 },
    );
  });
});

describe('damaged XTC files', () => {
  // A file of our own making would test our reader against itself: MDAnalysis writes it, and says where its frames are.
  const base = (() => {
    if (mdaMissing) return undefined;
    const path = join(tmp.path, 'damage.xtc');
    mdaWriteTrajectory(path, 60, 25, { seed: 11 });
    return { bytes: new Uint8Array(readFileSync(path)), offsets: mdaOffsets(path) };
  })();
  const slicings = [1, 2, 3, 7, 13, 60, 200, 5000];

  const damaged = (change: (b: Uint8Array, view: DataView, offsets: number[]) => Uint8Array | void): Uint8Array => {
    const b = base!.bytes.slice();
    return change(b, new DataView(b.buffer), base!.offsets) ?? b;
  };

  it.skipIf(missing(mdaMissing)).each([
    ['a corrupted magic in frame 30', (b: Uint8Array, v: DataView, o: number[]) => v.setInt32(o[30]!, 1996), (o: number[]) => o[30]!, /magic number is 1996/],
    ['an atom count that changes in frame 30', (b: Uint8Array, v: DataView, o: number[]) => (v.setInt32(o[30]! + 4, 26), v.setInt32(o[30]! + 52, 26)), (o: number[]) => o[30]! + 4, /atom count changes: this frame has 26 atoms, the first frame 25/],
    ['a byte count 8 too large in frame 30', (b: Uint8Array, v: DataView, o: number[]) => v.setInt32(o[30]! + 88, v.getInt32(o[30]! + 88) + 8), (o: number[]) => o[30]! + 88, /corrupted frame size in the XTC frame at byte \d+ \(its byte count, at byte \d+, says \d+\): the next frame would start at byte \d+, but the next frame header is at byte/],
    ['a byte count 8 too small in frame 30', (b: Uint8Array, v: DataView, o: number[]) => v.setInt32(o[30]! + 88, v.getInt32(o[30]! + 88) - 8), (o: number[]) => o[30]! + 88, /corrupted frame size/],
    ['a byte count past the end of the file in the last frame', (b: Uint8Array, v: DataView, o: number[]) => v.setInt32(o[59]! + 88, 300), (o: number[]) => o[59]!, /truncated XTC frame: the frame at byte \d+ needs 392 bytes/],
    ['a truncated last frame', (b: Uint8Array, _v: DataView, o: number[]) => b.subarray(0, o[59]! + 100), (o: number[]) => o[59]!, /truncated XTC frame/],
    ['a last frame cut inside its header', (b: Uint8Array, _v: DataView, o: number[]) => b.subarray(0, o[59]! + 40), (o: number[]) => o[59]!, /truncated XTC file: the file ends 40 bytes into an XTC frame header/],
    ['garbage after the last frame', (b: Uint8Array) => Uint8Array.from([...b, ...new Uint8Array(400).fill(7)]), () => base!.bytes.length, /not an XTC frame header.*after the last frame/],
  ] as const)(skipNote('%s: an InputError at its byte offset, whatever the slicing', mdaMissing), async (_, change, offset, message) => {
    if (!base) return;
    const bytes = damaged(change);
    const want = offset(base.offsets);
    for (const slices of slicings) {
      const errors = await sliceErrors(bytes, slices);
      expect(errors.length, `${slices} slices`).toBeGreaterThan(0);
      for (const [at, problem] of errors) {
        expect([at, problem], `${slices} slices`).toEqual([want, expect.stringMatching(message)]);
      }
    }
  });

  it.skipIf(missing(mdaMissing))(skipNote('damaged compressed coordinates fail inside the frame, whatever the slicing', mdaMissing), async () => {
    if (!base) return;
    const o = base.offsets;
    // (Not every damage shows: a changed byte can decode to other coordinates in exactly as many bits. These do.)
    for (const [from, to] of [
      [100, 116],
      [96, 200],
    ] as const) {
      const bytes = damaged((b) => void b.fill(0, o[30]! + from, o[30]! + to));
      for (const slices of slicings) {
        const errors = await sliceErrors(bytes, slices);
        expect(errors.length, `${slices} slices`).toBe(1);
        const [at, problem] = errors[0]!;
        expect(at).toBeGreaterThanOrEqual(o[30]! + 92);
        expect(at).toBeLessThan(o[31]!);
        expect(problem).toMatch(new RegExp(`^corrupted compressed coordinates in the XTC frame at byte ${o[30]}: `));
      }
    }
  });

  it('refuses a file that is not XTC, and one whose first frame is damaged, at byte 0 or the bad field', async () => {
    await expect(planJob(new MemorySource(new Uint8Array(400).fill(9), 'junk.xtc'), { name: 'sum', options: {} }, {}, 'test')).rejects.toThrow(/junk.xtc: at byte 0: not an XTC frame header: the magic number is 151587081/);
    const header = new Uint8Array(100);
    const v = new DataView(header.buffer);
    v.setInt32(0, 1995);
    v.setInt32(4, 20);
    v.setInt32(52, 20);
    v.setFloat32(56, 1000);
    v.setInt32(84, 3);
    await expect(planJob(new MemorySource(header, 'bad.xtc'), { name: 'sum', options: {} }, {}, 'test')).rejects.toThrow(/at byte 84: corrupted XTC frame header: smallidx 3/);
  });

  it('finds no frame, and is no error, in a slice inside one frame', async () => {
    const frame = new Uint8Array(56 + 5 * 12);
    const v = new DataView(frame.buffer);
    v.setInt32(0, 1995);
    v.setInt32(4, 5);
    v.setInt32(52, 5);
    const bytes = Uint8Array.from([...frame, ...frame]);
    const source = new MemorySource(bytes, 'two.xtc');
    const spec = await planJob(source, { name: 'sum', options: {} }, {}, 'test');
    const stats = await scanXtc(source, spec.layout as XtcLayout, 4, 116, { rows() {} });
    expect(stats.rows).toBe(0);
    expect((await scanXtc(source, spec.layout as XtcLayout, 4, 117, { rows() {} })).rows).toBe(5);
  });
});

describe('boxFromVectors', () => {
  it('gives lengths and the angles between the box vectors', () => {
    const box = boxFromVectors([2, 0, 0, 0, 3, 0, 0, 0, 4]);
    expect(box).toEqual({ a: 2, b: 3, c: 4, alpha: 90, beta: 90, gamma: 90 });
    const tric = boxFromVectors([1, 0, 0, 0.5, Math.sqrt(3) / 2, 0, 0, 0, 1]);
    expect(tric.gamma).toBeCloseTo(60, 12);
  });
});
