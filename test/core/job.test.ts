/**
 * Runs of consecutive slices: the embedded runtime scans a run as one range into one
 * partial. For random text and .npy inputs, random slicings and random cuts into runs,
 * the partials of the runs must fold to exactly what the single slices fold to, and a
 * bad record must be found at the same byte offset either way.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { builtinAnalyses } from '../../lib/core/analyses/index.ts';
import type { Analysis } from '../../lib/core/analysis.ts';
import { InputError } from '../../lib/core/errors.ts';
import { finishResult, mergePartials, type Partial, PartialFold, scanSlice, textRowLocator } from '../../lib/core/job.ts';
import { type JobSpec, type PlanOptions, planJob, sliceBounds } from '../../lib/core/plan.ts';
import { MemorySource } from '../../lib/core/source.ts';
import { partialContent } from '../../lib/job/documents.ts';
import { roundTrip } from '../helpers/partials.ts';

const analysis = (name: string) => builtinAnalyses[name as keyof typeof builtinAnalyses] as unknown as Analysis;

/** Cuts slices 0..count-1 into runs at the given cut points. */
function runsOf(count: number, cuts: number[]): { index: number; slices: number }[] {
  const at = [...new Set(cuts.map((c) => c % count).filter((c) => c > 0))].sort((a, b) => a - b);
  const bounds = [0, ...at, count];
  return bounds.slice(0, -1).map((index, i) => ({ index, slices: bounds[i + 1]! - index }));
}

async function scanAll(source: MemorySource, spec: JobSpec, a: Analysis, runs: { index: number; slices: number }[]): Promise<Partial[]> {
  const out: Partial[] = [];
  // Through its encoding, as a partial goes through a log or an object store.
  for (const r of runs) out.push(roundTrip(await scanSlice(source, spec, r.index, a, { slices: r.slices })));
  return out;
}

async function outcome(source: MemorySource, spec: JobSpec, a: Analysis, partials: Partial[]): Promise<unknown> {
  const merged = mergePartials(spec, a, partials);
  try {
    return { rows: merged.rows, state: a.encode(merged.state), result: await finishResult(spec, a, merged, textRowLocator(source, spec, merged)) };
  } catch (e) {
    if (e instanceof InputError) return { error: e.message };
    throw e;
  }
}

const line = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 4 });

describe('a run of consecutive slices scanned as one range', () => {
  it('folds to the same state and result as its slices, for text with frames (row-sums), any slicing and any cut into runs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (rows, crlf, frameRows, slices, cuts) => {
          const width = rows[0]!.length;
          const text = rows.map((r) => Array.from({ length: width }, (_, i) => String(r[i] ?? 0)).join(' ')).join(crlf ? '\r\n' : '\n') + '\n';
          const source = new MemorySource(new TextEncoder().encode(text), 'runs.txt', 7);
          const a = analysis('row-sums');
          const spec = await planJob(source, { name: 'row-sums', options: {}, needsFrames: true }, { slices, frameRows } satisfies PlanOptions, 'test');
          const singles = await scanAll(source, spec, a, runsOf(spec.sliceCount, []).flatMap((r) => Array.from({ length: r.slices }, (_, i) => ({ index: r.index + i, slices: 1 }))));
          const runs = runsOf(spec.sliceCount, cuts);
          const together = await scanAll(source, spec, a, runs);
          expect(together.map((p) => [p.index, p.slices ?? 1])).toEqual(runs.map((r) => [r.index, r.slices]));
          for (const [p, r] of together.map((p, i) => [p, runs[i]!] as const)) {
            expect(p.start).toBe(sliceBounds(spec, r.index).start);
            expect(p.end).toBe(sliceBounds(spec, r.index + r.slices - 1).end);
          }
          expect(await outcome(source, spec, a, together)).toEqual(await outcome(source, spec, a, singles));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('folds to the same sum as its slices for .npy, whose slices start on record boundaries', async () => {
    const header = (shape: number[]) => {
      const dict = `{'descr': '<f8', 'fortran_order': False, 'shape': (${shape.join(', ')},), }`;
      const pad = 64 - ((10 + dict.length + 1) % 64);
      return `\x93NUMPY\x01\x00${String.fromCharCode((dict.length + pad + 1) & 0xff, (dict.length + pad + 1) >> 8)}${dict}${' '.repeat(pad)}\n`;
    };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 50 }), fc.array(fc.nat(), { maxLength: 6 }), async (values, slices, cuts) => {
        const head = Uint8Array.from(header([values.length]), (c) => c.charCodeAt(0));
        const bytes = new Uint8Array(head.length + values.length * 8);
        bytes.set(head);
        new Float64Array(bytes.buffer, head.length).set(values);
        const source = new MemorySource(bytes, 'runs.npy', 13);
        const a = analysis('sum');
        const spec = await planJob(source, { name: 'sum', options: {} }, { slices }, 'test');
        const singles = await scanAll(source, spec, a, Array.from({ length: spec.sliceCount }, (_, index) => ({ index, slices: 1 })));
        expect(await outcome(source, spec, a, await scanAll(source, spec, a, runsOf(spec.sliceCount, cuts)))).toEqual(await outcome(source, spec, a, singles));
      }),
      { numRuns: 100 },
    );
  });

  it('finds an incomplete last frame at the same byte offset as single slices do', async () => {
    // 7 rows with frames of 3: the third frame starts at row 6, on the line "6 6".
    const text = Array.from({ length: 7 }, (_, i) => `${i} ${i}`).join('\n') + '\n';
    const source = new MemorySource(new TextEncoder().encode(text), 'frames.txt');
    const a = analysis('row-sums');
    const spec = await planJob(source, { name: 'row-sums', options: {}, needsFrames: true }, { slices: 5, frameRows: 3 }, 'test');
    const singles = await outcome(source, spec, a, await scanAll(source, spec, a, runsOf(5, [1, 2, 3, 4])));
    const runs = await outcome(source, spec, a, await scanAll(source, spec, a, runsOf(5, [2])));
    expect(singles).toEqual({ error: expect.stringContaining(`at byte ${text.indexOf('6 6')}`) });
    expect(runs).toEqual(singles);
  });

  it('refuses a run that leaves the plan, and a fold that skips or repeats slices', async () => {
    const source = new MemorySource(new TextEncoder().encode('1\n2\n3\n4\n'), 'four.txt');
    const a = analysis('sum');
    const spec = await planJob(source, { name: 'sum', options: {} }, { slices: 4 }, 'test');
    await expect(scanSlice(source, spec, 2, a, { slices: 3 })).rejects.toThrow(RangeError);
    await expect(scanSlice(source, spec, 0, a, { slices: 0 })).rejects.toThrow(RangeError);
    const run = await scanSlice(source, spec, 0, a, { slices: 2 });
    const fold = new PartialFold(spec, a);
    fold.add(run);
    // slice 1 is inside the run just folded: the next partial must start at slice 2
    expect(() => fold.add(roundTrip({ ...run, index: 1, slices: undefined }))).toThrow(/out of place \(expected 2/);
    fold.add(await scanSlice(source, spec, 2, a));
    fold.add(await scanSlice(source, spec, 3, a));
    expect(a.encode(fold.merged().state)).toEqual(a.encode(mergePartials(spec, a, [await scanSlice(source, spec, 0, a, { slices: 4 })]).state));
  });

  it('says the same every time it is scanned, apart from the run story', async () => {
    const source = new MemorySource(new TextEncoder().encode('1.5\n2.25\n3\n'), 'three.txt');
    const a = analysis('sum');
    const spec = await planJob(source, { name: 'sum', options: {} }, { slices: 3 }, 'test');
    const [x, y] = [await scanSlice(source, spec, 1, a, { slices: 2, worker: 'main' }), await scanSlice(source, spec, 1, a, { slices: 2, worker: 'thread-2' })];
    expect(partialContent(x)).toBe(partialContent(y));
    expect(partialContent(x)).not.toBe(partialContent(await scanSlice(source, spec, 1, a)));
  });
});
