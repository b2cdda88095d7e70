import { describe, expect, it } from 'vitest';
import type { DcdInfo, DcdLayout } from '../../lib/core/dcd.ts';
import { InputError } from '../../lib/core/errors.ts';
import { PartsSource } from '../../lib/core/parts.ts';
import { planJob, sliceBounds } from '../../lib/core/plan.ts';
import { MemorySource } from '../../lib/core/source.ts';
import { encodeDcd, randomCoords, type SyntheticDcd } from '../helpers/dcd.ts';
import { runInProcess } from '../helpers/dcd-run.ts';

const parts = () => new PartsSource([new MemorySource(new Uint8Array(100), 'a.xtc'), new MemorySource(new Uint8Array(50), 'b.xtc'), new MemorySource(new Uint8Array(30), 'c.xtc')]);

describe('PartsSource.partError', () => {
  it('names the part and the offset in it', () => {
    const p = parts();
    const e = p.partError(new InputError(p.name, 120, 'not an XTC frame header')) as InputError;
    expect([e.file, e.offset, e.problem]).toEqual(['b.xtc', 20, 'not an XTC frame header']);
  });

  it('tells the offsets a problem mentions in the part too, and names another part when they lie in one', () => {
    const p = parts();
    const e = p.partError(new InputError(p.name, 120, 'the magic number is 1234, where the frame at byte 104 ends (its byte count, at byte 162, says 8)')) as InputError;
    expect(e.message).toBe('b.xtc: at byte 20: the magic number is 1234, where the frame at byte 4 ends (its byte count, at byte 12 of c.xtc, says 8)');
    const early = p.partError(new InputError(p.name, 110, 'corrupted frame size in the XTC frame at byte 60: the next frame would start at byte 110')) as InputError;
    expect(early.message).toBe('b.xtc: at byte 10: corrupted frame size in the XTC frame at byte 60 of a.xtc: the next frame would start at byte 10');
  });

  it('leaves errors about other sources alone', () => {
    const p = parts();
    const other = new InputError('elsewhere', 5, 'at byte 120');
    expect(p.partError(other)).toBe(other);
  });
});

/** DCD parts made of consecutive frames of one synthetic trajectory (each a file with its own header), and the whole as one file. */
function dcdParts(frameCounts: number[], atoms: number, extra: Partial<SyntheticDcd> = {}): { parts: Uint8Array[]; whole: Uint8Array } {
  const frames = frameCounts.reduce((a, b) => a + b, 0);
  const coords = randomCoords(frames, atoms, 7);
  const cells = Array.from({ length: frames }, (_, f) => [30 + f * 0.01, 0, 31, 0, 0, 32 - f * 0.01]);
  let from = 0;
  const parts = frameCounts.map((n) => {
    const d: SyntheticDcd = { atoms, coords: coords.subarray(from * atoms * 3, (from + n) * atoms * 3), cells: cells.slice(from, from + n), charmmVersion: 37, istart: from, ...extra };
    from += n;
    return encodeDcd(d);
  });
  return { parts, whole: encodeDcd({ atoms, coords, cells, charmmVersion: 37, ...extra }) };
}

const source = (parts: Uint8Array[], ext = 'dcd', chunkBytes = 1 << 20) => new PartsSource(parts.map((b, i) => new MemorySource(b, `p${i + 1}.${ext}`, chunkBytes)));

describe('DCD in parts: one layout whose frames lie in one segment per part', () => {
  // Parts of 5, 1, 0 and 7 frames: slices smaller than a part, across boundaries, over an empty part.
  const { parts, whole } = dcdParts([5, 1, 0, 7], 11);

  it.each(['rg', 'mean-structure', 'row-sums', 'rmsd', 'stats'])('%s: the parts give exactly the answer of the joined file, for 1 to 13 slices', async (analysis) => {
    const want = await runInProcess(new MemorySource(whole, 'whole.dcd'), analysis, { slices: 1 });
    for (let slices = 1; slices <= 13; slices++) {
      const got = await runInProcess(source(parts, 'dcd', 97), analysis, { slices }, slices);
      expect(got.result, `${slices} slices`).toEqual(want.result);
      expect(got.spec.sliceCount).toBe(slices);
    }
  });

  it('rdf: the unit cells run on across parts, for 1 to 13 slices', async () => {
    const options = { range: '0,20', nbins: '40' };
    const want = await runInProcess(new MemorySource(whole, 'whole.dcd'), 'rdf', { slices: 1 }, 1, options);
    for (let slices = 1; slices <= 13; slices += 3) {
      expect((await runInProcess(source(parts, 'dcd', 97), 'rdf', { slices }, slices, options)).result, `${slices} slices`).toEqual(want.result);
    }
  });

  it('slices are whole frames of every part, one after the other, and skip the headers between parts', async () => {
    const spec = await planJob(source(parts), { name: 'sum', options: {} }, { slices: 13 }, 'test');
    const layout = spec.layout as DcdLayout;
    const headerBytes = layout.segments![0]!.dataOffset;
    expect(layout.segments!.map((s) => (s.dataEnd - s.dataOffset) / layout.frameBytes)).toEqual([5, 1, 0, 7]);
    const starts = Array.from({ length: 13 }, (_, i) => sliceBounds(spec, i));
    // Slice 5 is the one frame of part 2, after its header; slice 6 the first frame of part 4, after two headers.
    const p2 = parts[0]!.length;
    const p4 = p2 + parts[1]!.length + parts[2]!.length;
    expect(starts[5]).toEqual({ index: 5, start: p2 + headerBytes, end: p2 + headerBytes + layout.frameBytes });
    expect(starts[6]).toEqual({ index: 6, start: p4 + headerBytes, end: p4 + headerBytes + layout.frameBytes });
    expect(starts[12]!.end).toBe(spec.input.bytes);
    // Three slices of 4, 4 and 5 frames: the second starts at the last frame of part 1 and ends after the second of part 4.
    const three = await planJob(source(parts), { name: 'sum', options: {} }, { slices: 3 }, 'test');
    expect(sliceBounds(three, 1)).toEqual({ index: 1, start: headerBytes + 4 * layout.frameBytes, end: p4 + headerBytes + 2 * layout.frameBytes });
    expect(sliceBounds(three, 2)).toEqual({ index: 2, start: p4 + headerBytes + 2 * layout.frameBytes, end: three.input.bytes });
  });

  it('the header facts are those of the joined file: frames, shape, first and last unit cell', async () => {
    const one = await planJob(new MemorySource(whole, 'whole.dcd'), { name: 'sum', options: {} }, {}, 'test');
    const many = await planJob(source(parts), { name: 'sum', options: {} }, {}, 'test');
    expect(many.shape).toEqual(one.shape);
    const { warnings: _w, ...facts } = many.trajectory as DcdInfo;
    const { warnings: _v, ...want } = one.trajectory as DcdInfo;
    expect(facts).toEqual(want);
    expect(many.input.parts!.map((p) => p.name)).toEqual(['p1.dcd', 'p2.dcd', 'p3.dcd', 'p4.dcd']);
  });

  it.each<[string, Partial<SyntheticDcd>, RegExp]>([
    ['an atom count', { atoms: 12 }, /^p2\.dcd: at byte 0: the atom count changes: this part has 12 atoms, p1\.dcd 11: the parts of one trajectory need frames of one layout$/],
    ['no unit cell', { cells: undefined }, /^p2\.dcd: at byte 0: a unit cell in every frame: no here, yes in p1\.dcd: the parts of one trajectory need frames of one layout$/],
    ['a byte order', { littleEndian: false }, /^p2\.dcd: at byte 0: little-endian: no here, yes in p1\.dcd: /],
    ['a CHARMM version', { charmmVersion: 24 }, /^p2\.dcd: at byte 0: CHARMM version \(ICNTRL\[19\], which says how a unit cell is stored\): 24 here, 37 in p1\.dcd: /],
    ['fixed atoms', { freeAtoms: [0, 2, 4, 5, 6, 7, 8, 9] }, /^p2\.dcd: at byte 40: 3 fixed atoms \(NAMNF\): DCD files with fixed atoms are read one by one/],
  ])('refuses a part with %s of its own, naming it', async (_what, change, message) => {
    const atoms = change.atoms ?? 11;
    const coords = randomCoords(3, atoms, 2);
    const base: SyntheticDcd = { atoms, coords, cells: [[30, 0, 31, 0, 0, 32], [30, 0, 31, 0, 0, 32], [30, 0, 31, 0, 0, 32]], charmmVersion: 37 };
    const other = encodeDcd({ ...base, ...change });
    const e = await planJob(source([dcdParts([4], 11).parts[0]!, other]), { name: 'sum', options: {} }, {}, 'test').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).message).toMatch(message);
  });

  it('refuses a part of another format, and text or .npy parts, naming them', async () => {
    const npy = new Uint8Array([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0, 0x76, 0]);
    const mixed = await planJob(new PartsSource([new MemorySource(parts[0]!, 'a.dcd'), new MemorySource(npy, 'b.npy')]), { name: 'sum', options: {} }, {}, 'test').catch((x: unknown) => x);
    expect((mixed as Error).message).toBe('b.npy: at byte 0: this part is .npy, and a.dcd dcd: the parts of one trajectory have one format');
    const text = await planJob(new PartsSource([new MemorySource(new TextEncoder().encode('1,2\n'), 'a.csv'), new MemorySource(new TextEncoder().encode('3,4\n'), 'b.csv')]), { name: 'sum', options: {} }, {}, 'test').catch((x: unknown) => x);
    expect((text as Error).message).toBe('2 inputs make one job only as trajectories (XTC, TRR, DCD or NetCDF); a.csv is text: run the files one by one, or join them into one file first');
  });

  it('names the part and the offset in it for a damaged frame, and for a truncated part', async () => {
    const damaged = parts.map((p) => p.slice());
    const layout = (await planJob(new MemorySource(parts[3]!, 'p4.dcd'), { name: 'sum', options: {} }, {}, 'test')).layout as DcdLayout;
    // The X record's leading marker of frame 2 of part 4.
    const at = layout.dataOffset + 2 * layout.frameBytes + 56;
    new DataView(damaged[3]!.buffer).setInt32(at, 5, true);
    for (const slices of [1, 4, 13]) {
      const e = await runInProcess(source(damaged), 'rg', { slices }).catch((x: unknown) => x);
      expect((e as Error).message, `${slices} slices`).toBe(`p4.dcd: at byte ${at}: corrupted DCD record marker in frame 2 (X): 5, expected 44`);
    }
    const cut = [parts[0]!, parts[1]!.subarray(0, parts[1]!.length - 3), parts[3]!];
    const e = await planJob(source(cut), { name: 'sum', options: {} }, {}, 'test').catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/^p2\.dcd: at byte \d+: truncated last frame: /);
  });
});
