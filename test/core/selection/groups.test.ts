/**
 * What an analysis sees of a selection through the real planner, scan, partial encoding
 * and fold: ctx.frameRows selected rows a frame, in frame order, and ctx.groups placing
 * measure, fit and other among them; fit-atoms and atoms2 only for analyses that name them.
 */
import { describe, expect, it } from 'vitest';
import { defineAnalysis } from '../../../lib/core/analysis.ts';
import { finishResult, mergePartials, type Partial, scanSlice } from '../../../lib/core/job.ts';
import { planJob, type PlanOptions } from '../../../lib/core/plan.ts';
import { MemorySource } from '../../../lib/core/source.ts';
import { UsageError } from '../../../lib/core/errors.ts';
import { roundTrip } from '../../helpers/partials.ts';

const F = 8;
const frames = 9;
/** a (frames, F, 2) float64 .npy whose row r of frame f holds (f, r) */
function npy(): Uint8Array {
  const dict = `{'descr': '<f8', 'fortran_order': False, 'shape': (${frames}, ${F}, 2), }`;
  const pad = 64 - ((10 + dict.length + 1) % 64);
  const header = `${dict}${' '.repeat(pad)}\n`;
  const out = new Uint8Array(10 + header.length + frames * F * 2 * 8);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0, header.length & 255, header.length >> 8], 0);
  out.set(new TextEncoder().encode(header), 10);
  const data = new Float64Array(out.buffer, 10 + header.length);
  for (let f = 0; f < frames; f++) for (let r = 0; r < F; r++) data.set([f, r], (f * F + r) * 2);
  return out;
}

interface Seen {
  rows: [number, number][];
}

/** Records every row it is given, by the frame and row the values name, in delivered order. */
const recorder = (groups?: ('fit' | 'other')[]) =>
  defineAnalysis<Seen, unknown>({
    name: 'recorder',
    needsFrames: true,
    ...(groups ? { groups } : {}),
    empty: () => ({ rows: [] }),
    add(state, row, rowIndex, ctx) {
      // the delivered row index within its frame is the row's position in the selection
      expect(rowIndex % ctx.frameRows).toBe(state.rows.length % ctx.frameRows);
      state.rows.push([row[0]!, row[1]!]);
    },
    combine: (l, r) => ({ rows: [...l.rows, ...r.rows] }),
    finish: (s, rows, ctx) => ({ rows, frameRows: ctx.frameRows, seen: s.rows, groups: Object.fromEntries(Object.entries(ctx.groups ?? {}).map(([k, v]) => [k, Array.from(v)])) }),
  });

async function run(opts: PlanOptions, groups?: ('fit' | 'other')[]) {
  const analysis = recorder(groups);
  const source = new MemorySource(npy(), 'frames.npy', 64);
  const spec = await planJob(source, { name: analysis.name, options: {}, needsFrames: true, groups: groups ?? [] }, opts, 'test');
  const partials: Partial[] = [];
  for (let i = spec.sliceCount - 1; i >= 0; i--) partials[i] = roundTrip(await scanSlice(source, spec, i, analysis));
  return { spec, result: (await finishResult(spec, analysis, mergePartials(spec, analysis, partials))) as Record<string, unknown> };
}

describe('an analysis of a selection', () => {
  it.each([1, 2, 4, 9])('sees the union of the groups, frame by frame, and where each group sits (%i slices)', async (slices) => {
    const { spec, result } = await run({ slices, atoms: '6,2-3', fitAtoms: '0-2', atoms2: '7' }, ['fit', 'other']);
    expect(spec.wholeFrames).toBe(true);
    const union = [0, 1, 2, 3, 6, 7];
    expect(result.frameRows).toBe(union.length);
    expect(result.rows).toBe(frames * union.length);
    expect(result.seen).toEqual(Array.from({ length: frames }, (_, f) => union.map((r) => [f, r])).flat());
    expect(result.groups).toEqual({ measure: [2, 3, 4], fit: [0, 1, 2], other: [5] });
    expect(result.selection).toEqual({ atoms: { count: 3, ranges: '2-3,6' }, fitAtoms: { count: 3, ranges: '0-2' }, atoms2: { count: 1, ranges: '7' } });
  });

  it('measures every atom when only fit-atoms is given', async () => {
    const { result } = await run({ slices: 3, fitAtoms: '4-5' }, ['fit']);
    expect(result.frameRows).toBe(F);
    expect(result.groups).toEqual({ measure: [0, 1, 2, 3, 4, 5, 6, 7], fit: [4, 5] });
  });

  it('is one job whatever order the ranges are written in', async () => {
    const a = await run({ slices: 3, atoms: '6,2-3' });
    const b = await run({ slices: 3, atoms: '2,3,6' });
    expect(a.spec.id).toBe(b.spec.id);
    expect(a.spec.selection).toEqual({ atoms: '2-3,6' });
  });

  it('refuses fit-atoms and atoms2 where the analysis does not name them', async () => {
    await expect(run({ atoms2: '1' }, ['fit'])).rejects.toThrow(UsageError);
    await expect(run({ fitAtoms: '1' }, ['other'])).rejects.toThrow(/--fit-atoms \(fanout-fit-atoms\): recorder takes no atoms to fit on/);
    await expect(run({ atoms: '8' })).rejects.toThrow(/atom index 8 is not in a frame of 8 atoms/);
  });
});
