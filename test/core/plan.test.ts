import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDType } from '../../lib/core/dtype.ts';
import { type JobSpec, planJob, sliceBounds } from '../../lib/core/plan.ts';
import { MemorySource } from '../../lib/core/source.ts';

function textSpec(bytes: number, sliceCount: number): JobSpec {
  return {
    version: 1, id: 't', input: { name: 'x', bytes, identity: '' }, format: 'text',
    layout: { kind: 'text', delimiter: 44, columns: 1, headerAt: -1 },
    rowsPerRecord: 1, frameRows: 0, analysis: { name: 'sum', options: {} }, onBadRecord: 'fail', sliceCount,
  };
}

function binarySpec(rows: number, columns: number, dataOffset: number, sliceCount: number): JobSpec {
  const dtype = parseDType('<f4');
  return {
    ...textSpec(dataOffset + rows * columns * 4, sliceCount),
    format: 'raw',
    layout: { kind: 'binary', dtype, dataOffset, dataEnd: dataOffset + rows * columns * 4, columns },
  };
}

/** Checks contiguity and alignment with plain comparisons (expect() per slice is slow). */
function assertCovers(spec: JobSpec, from: number, to: number, align: number): void {
  let at = from;
  const problems: string[] = [];
  for (let i = 0; i < spec.sliceCount; i++) {
    const b = sliceBounds(spec, i);
    if (b.start !== at) problems.push(`slice ${i} starts at ${b.start}, the previous ended at ${at}`);
    if (b.end < b.start) problems.push(`slice ${i} ends before it starts`);
    if ((b.start - from) % align !== 0) problems.push(`slice ${i} starts off a ${align}-byte boundary`);
    at = b.end;
  }
  if (at !== to) problems.push(`the last slice ends at ${at}, not ${to}`);
  expect(problems.slice(0, 3)).toEqual([]);
}

describe('sliceBounds', () => {
  it('covers a text input with no gap and no overlap, for any size and slice count', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 45 }), fc.integer({ min: 1, max: 5000 }), (bytes, n) => {
        assertCovers(textSpec(bytes, n), 0, bytes, 1);
      }),
      { numRuns: 300 },
    );
  });

  it('cuts binary inputs on row boundaries after the header', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 4096 }), fc.integer({ min: 1, max: 500 }), (rows, columns, header, n) => {
        const spec = binarySpec(rows, columns, header, n);
        assertCovers(spec, header, header + rows * columns * 4, columns * 4);
      }),
      { numRuns: 300 },
    );
  });

  it('stays exact past 2^53 bytes times slices', () => {
    const spec = textSpec(2 ** 50 + 3, 10_000);
    assertCovers({ ...spec, sliceCount: 3 }, 0, 2 ** 50 + 3, 1);
    expect(sliceBounds(spec, 9_999).end).toBe(2 ** 50 + 3);
  });
});

describe('planJob', () => {
  const plan = (text: string, opts = {}) => planJob(new MemorySource(new TextEncoder().encode(text), 'p.txt'), { name: 'sum', options: {} }, opts, 'id');

  it.each([
    ['a comma', '1,2,3\n', 44, 3],
    ['a tab', '1\t2\n', 9, 2],
    ['a semicolon', '1;2\n', 59, 2],
    ['white space', '1 2  3 4\n', -1, 4],
    ['the first data line after comments', '# a, b\n\n1\t2\n', 9, 2],
  ])('detects %s as the delimiter and counts the columns', async (_n, text, delimiter, columns) => {
    const spec = await plan(text);
    expect(spec.layout).toMatchObject({ kind: 'text', delimiter, columns });
  });

  it('clamps the slice count to the number of bytes (text) or rows (binary)', async () => {
    expect((await plan('1\n2\n', { slices: 100 })).sliceCount).toBe(4);
  });

  it('gives the same job id for the same input and options, another for other options', async () => {
    expect((await plan('1\n2\n')).id).toBe((await plan('1\n2\n')).id);
    expect((await plan('1\n2\n', { slices: 2 })).id).not.toBe((await plan('1\n2\n')).id);
  });
});

describe('planJob for an analysis whose state is a frame of sums', () => {
  // A raw float32 trajectory of `frames` frames of 100,000 atoms: 1.2 MB a frame.
  const raw = (frames: number) => new MemorySource(new Uint8Array(frames * 100_000 * 3 * 4), 'traj.f32');
  const opts = { format: 'raw' as const, dtype: '<f4', recordShape: [100_000, 3] };
  const meanStructure = { name: 'mean-structure', options: {}, needsFrames: true, frameSizedState: true };

  it.each([
    [40, 2],
    [15, 1],
    [400, 16],
  ])('gives each default slice at least 16 frames (%i frames: %i slices), so partials stay a small part of the input', async (frames, slices) => {
    expect((await planJob(raw(frames), meanStructure, opts, 'x')).sliceCount).toBe(slices);
  });

  it('keeps the slicing the user asked for, and the default for other analyses', async () => {
    expect((await planJob(raw(40), meanStructure, { ...opts, slices: 16 }, 'x')).sliceCount).toBe(16);
    expect((await planJob(raw(40), { name: 'sum', options: {} }, opts, 'x')).sliceCount).toBe(16);
  });
});
