import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../lib/core/errors.ts';
import { planJob, sliceBounds } from '../../lib/core/plan.ts';
import { MemorySource } from '../../lib/core/source.ts';
import { scanTrr, type TrrInfo, type TrrLayout } from '../../lib/core/trr.ts';
import { tempDir } from '../helpers/cli.ts';
import { gmxConvert, gmxDoubleMissing, MD_DATA, mdaMissing, mdaOffsets, mdaPositions, mdaPython, mdaWriteTrajectory, mdDataMissing, missing, skipNote, trrWithoutBox } from '../helpers/md.ts';

const tmp = tempDir('fanout-trr-');
afterAll(() => tmp.cleanup());

/** Every frame's rows, slice after slice, each slice scanned on its own from odd-sized chunks. */
async function decodeAll(bytes: Uint8Array, slices: number, chunkBytes = 4093): Promise<{ coords: Float64Array; info: TrrInfo }> {
  const source = new MemorySource(bytes, 'traj.trr', chunkBytes);
  const spec = await planJob(source, { name: 'sum', options: {} }, { slices }, 'test');
  const out: number[] = [];
  for (let i = 0; i < spec.sliceCount; i++) {
    const { start, end } = sliceBounds(spec, i);
    await scanTrr(source, spec.layout as TrrLayout, start, end, {
      rows(values, rowCount, columns) {
        for (let k = 0; k < rowCount * columns; k++) out.push(values[k]!);
      },
    });
  }
  return { coords: Float64Array.from(out), info: spec.trajectory as TrrInfo };
}

/** Index of the first value whose float32 differs from MDAnalysis's (which reads every TRR as float32), or -1. */
function firstDifference(got: Float64Array, want: Float32Array): number {
  if (got.length !== want.length) return Math.min(got.length, want.length);
  for (let i = 0; i < got.length; i++) if (!Object.is(Math.fround(got[i]!), want[i]!)) return i;
  return -1;
}

describe('TRR files', () => {
  it.skipIf(missing(mdDataMissing, mdaMissing)).each(['cobrotoxin.trr', 'test_5atoms.trr'])(skipNote('%s (MDAnalysis test suite): positions bit-identical to MDAnalysis for any number of slices', mdDataMissing, mdaMissing), async (name) => {
    if (mdDataMissing || mdaMissing) return;
    const path = join(MD_DATA, name);
    const want = mdaPositions(path);
    const bytes = new Uint8Array(readFileSync(path));
    for (const slices of [1, 2, 5, 64, 600]) {
      const got = await decodeAll(bytes, slices);
      expect(firstDifference(got.coords, want.coords), `${slices} slices`).toBe(-1);
      expect(got.info).toMatchObject({ format: 'trr', precision: 'single', lengthUnit: 'Å', storedLengthUnit: 'nm', first: { positions: true, velocities: true, forces: true } });
    }
  });

  it.skipIf(missing(mdaMissing))(skipNote('a 3000-frame TRR written by MDAnalysis: bit-identical for 1 to 20,000 slices', mdaMissing), async () => {
    if (mdaMissing) return;
    const path = join(tmp.path, 'long.trr');
    mdaWriteTrajectory(path, 3000, 17, { seed: 2 });
    const want = mdaPositions(path);
    const bytes = new Uint8Array(readFileSync(path));
    for (const slices of [1, 17, 3000, 20000]) expect(firstDifference((await decodeAll(bytes, slices, 65536)).coords, want.coords), `${slices} slices`).toBe(-1);
  });

  it.skipIf(missing(mdaMissing, gmxDoubleMissing))(skipNote('a double-precision TRR written by gmx_d trjconv: float64 positions, the float32 MDAnalysis reads', mdaMissing, gmxDoubleMissing), async () => {
    if (mdaMissing || gmxDoubleMissing) return;
    const single = join(tmp.path, 'single.trr');
    const double = join(tmp.path, 'double.trr');
    mdaWriteTrajectory(single, 400, 23, { seed: 4 });
    gmxConvert(single, double, undefined, 'gmx_d');
    const want = mdaPositions(double);
    const bytes = new Uint8Array(readFileSync(double));
    for (const slices of [1, 7, 400, 5000]) {
      const got = await decodeAll(bytes, slices);
      expect(got.info.precision).toBe('double');
      expect(firstDifference(got.coords, want.coords), `${slices} slices`).toBe(-1);
    }
    // The doubles themselves, not only their float32 rounding: gmx_d widened float32 values exactly.
    const first = (await decodeAll(bytes, 1)).coords;
    expect(first.every((v) => Math.fround(v) === v)).toBe(true);
  });

  it.skipIf(missing(mdDataMissing, mdaMissing))(skipNote('frames without positions (velocities only) add no rows, whatever the slicing', mdDataMissing, mdaMissing), async () => {
    if (mdDataMissing || mdaMissing) return;
    // cobrotoxin.trr with the positions of frame 1 cut out (x size 0): MDAnalysis then reads frame 1 without positions.
    const path = join(MD_DATA, 'cobrotoxin.trr');
    const bytes = new Uint8Array(readFileSync(path));
    const offsets = mdaOffsets(path);
    const xAt = offsets[1]! + 84 + 36;
    const xBytes = 19385 * 12;
    const cut = Uint8Array.from([...bytes.subarray(0, xAt), ...bytes.subarray(xAt + xBytes)]);
    new DataView(cut.buffer).setInt32(offsets[1]! + 52, 0);
    const file = join(tmp.path, 'no-x.trr');
    writeFileSync(file, cut);
    const want = mdaPython<{ withX: number[] }>(
      `
import shutil, tempfile
d = tempfile.mkdtemp()
r = mda.coordinates.TRR.TRRReader(shutil.copy(args, d), convert_units=False)
print(json.dumps({'withX': [i for i, ts in enumerate(r) if ts.has_positions]}))
shutil.rmtree(d)`,
      file,
    );
    expect(want.withX).toEqual([0, 2]);
    const all = mdaPositions(path);
    const frameValues = 19385 * 3;
    const expected = Float32Array.from([...all.coords.subarray(0, frameValues), ...all.coords.subarray(2 * frameValues)]);
    for (const slices of [1, 2, 3, 10, 100]) expect(firstDifference((await decodeAll(cut, slices)).coords, expected), `${slices} slices`).toBe(-1);
  });

  it.skipIf(missing(mdaMissing))(skipNote('damaged TRR files fail at the offset of the damage, whatever the slicing', mdaMissing), async () => {
    if (mdaMissing) return;
    const path = join(tmp.path, 'damage.trr');
    mdaWriteTrajectory(path, 40, 11, { seed: 9 });
    const base = new Uint8Array(readFileSync(path));
    const o = mdaOffsets(path);
    const cases: [string, (b: Uint8Array, v: DataView) => Uint8Array | void, number, RegExp][] = [
      ['magic', (_b, v) => v.setInt32(o[20]!, 1994), o[20]!, /not a TRR frame header: the magic number is 1994, expected 1993, where the frame at byte \d+ ends/],
      ['atoms', (_b, v) => v.setInt32(o[20]! + 64, 12), o[20]! + 64, /the atom count changes: this frame has 12 atoms, the first frame 11/],
      ['x size', (_b, v) => v.setInt32(o[20]! + 52, 11 * 24), o[20]! + 52, /corrupted TRR frame header: a block of 264 bytes where 33 reals of 4 bytes are expected/],
      ['truncated', (b) => b.subarray(0, o[39]! + 100), o[39]!, /truncated TRR frame: the frame at byte \d+ needs/],
      ['garbage', (b) => Uint8Array.from([...b, ...new Uint8Array(300).fill(3)]), base.length, /not a TRR frame header.*not TRR after the last frame/],
    ];
    for (const [what, change, offset, message] of cases) {
      const b = base.slice();
      const bytes = change(b, new DataView(b.buffer)) ?? b;
      for (const slices of [1, 2, 3, 7, 40, 400]) {
        const source = new MemorySource(bytes, 'bad.trr', 1000);
        const spec = await planJob(source, { name: 'sum', options: {} }, { slices, format: 'trr' }, 'test');
        const errors: [number, string][] = [];
        for (let i = 0; i < spec.sliceCount; i++) {
          const { start, end } = sliceBounds(spec, i);
          await scanTrr(source, spec.layout as TrrLayout, start, end, { rows() {} }).catch((e: unknown) => {
            if (!(e instanceof InputError)) throw e;
            errors.push([e.offset, e.problem]);
          });
        }
        expect(errors.length, `${what}, ${slices} slices`).toBeGreaterThan(0);
        for (const e of errors) expect(e, `${what}, ${slices} slices`).toEqual([offset, expect.stringMatching(message)]);
      }
    }
  });

  it.skipIf(missing(mdaMissing))(skipNote('frames without a box at the end: the box of the last frame with one, found megabytes back, or none past the search and a warning', mdaMissing), async () => {
    if (mdaMissing) return;
    // 20,000 atoms: 240,120-byte frames, so six boxless frames put the last box more than 1 MiB back
    const path = join(tmp.path, 'big-box.trr');
    mdaWriteTrajectory(path, 12, 20000, { seed: 6 });
    const offsets = mdaOffsets(path);
    let bytes: Uint8Array = new Uint8Array(readFileSync(path));
    const boxOf = async (b: Uint8Array): Promise<TrrInfo> => (await planJob(new MemorySource(b, 'box.trr', 65536), { name: 'sum', options: {} }, {}, 'test')).trajectory as TrrInfo;
    const whole = await boxOf(bytes);
    for (let f = 11; f >= 6; f--) bytes = trrWithoutBox(bytes, offsets[f]!);
    const cut = await boxOf(bytes);
    expect(cut.box).toBeDefined();
    expect(cut.box!.first).toEqual(whole.box!.first);
    // frame 5's box: the writer's box grows by 1e-3 Å a frame
    expect(cut.box!.last.a).toBeCloseTo(whole.box!.first.a + 5e-3, 5);
    expect(cut.warnings.join('\n')).toMatch(new RegExp(`the last frame \\(at byte ${bytes.length - (offsets[1]! - 36)}\\) has no unit cell: result.box.last is that of the frame at byte ${offsets[5]}, the last frame with one`));
    // no frame with a box at all: no result.box, and the warnings say so
    for (let f = 5; f >= 0; f--) bytes = trrWithoutBox(bytes, offsets[f]!);
    const none = await boxOf(bytes);
    expect(none.box).toBeUndefined();
    expect(none.warnings.join('\n')).toMatch(/the first frame has no unit cell: no frame in the first 64 MiB has one/);
  });
});
