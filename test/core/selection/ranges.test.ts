import { describe, expect, it } from 'vitest';
import { FrameSelection } from '../../../lib/core/selection/frame-filter.ts';
import { countOf, formatRanges, indicesOf, parseRanges, positionsWithin, rangesOfIndices, RangesSyntaxError, unionOf } from '../../../lib/core/selection/ranges.ts';
import { UsageError } from '../../../lib/core/errors.ts';

describe('atom index ranges', () => {
  it('parse to sorted, joined runs with one canonical text', () => {
    expect(parseRanges('0-213,500-599')).toEqual([
      [0, 213],
      [500, 599],
    ]);
    expect(formatRanges(parseRanges('500-599, 7 ,0-5,6,214-214,600:601'))).toBe('0-7,214,500-601');
    expect(formatRanges(parseRanges('3'))).toBe('3');
    expect(countOf(parseRanges('0-9,20'))).toBe(11);
  });

  it.each(['', '1-', '-3', '3-1', 'a', '1,,2', '1.5', '0x10'])('refuse %j with the syntax', (text) => {
    expect(() => parseRanges(text)).toThrow(RangesSyntaxError);
  });

  it('go to and from index lists, and find a subset among a union', () => {
    const r = parseRanges('2-4,9,11-12');
    expect(Array.from(indicesOf(r))).toEqual([2, 3, 4, 9, 11, 12]);
    expect(rangesOfIndices([2, 3, 4, 9, 11, 12])).toEqual(r);
    expect(formatRanges(unionOf(parseRanges('0-3'), parseRanges('2-8,10')))).toBe('0-8,10');
    // positions of 3, 9, 12 among 2,3,4,9,11,12
    expect(Array.from(positionsWithin(r, parseRanges('3,9,12')))).toEqual([1, 3, 5]);
  });
});

describe('FrameSelection', () => {
  const F = 10;
  const frames = 7;
  const columns = 3;
  const values = Float64Array.from({ length: frames * F * columns }, (_, i) => i);

  /** What a plain filter gives: the selected rows of every frame, in order. */
  function expected(union: number[]): number[] {
    const out: number[] = [];
    for (let f = 0; f < frames; f++) for (const r of union) for (let c = 0; c < columns; c++) out.push(values[(f * F + r) * columns + c]!);
    return out;
  }

  it.each([
    [{ atoms: '1-3,7' }, [1, 2, 3, 7]],
    [{ atoms: '0' }, [0]],
    [{ atoms: '9' }, [9]],
    [{ atoms: '0-9' }, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
    [{ atoms: '5', fitAtoms: '2-3', atoms2: '8-9' }, [2, 3, 5, 8, 9]],
    [{ fitAtoms: '2-3' }, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
  ])('hands over the selected rows, renumbered, however the rows come in blocks (%j)', (spec, union) => {
    for (const block of [1, 2, 3, 7, 10, 13, 70]) {
      const sel = new FrameSelection(spec, F);
      expect(sel.count).toBe(union.length);
      const got: number[] = [];
      let nextRow = 0;
      const sink = sel.sink({
        rows(v, rowCount, cols, firstRow) {
          expect(cols).toBe(columns);
          // delivered rows are contiguous and numbered frame by frame
          expect(firstRow).toBe(nextRow);
          nextRow += rowCount;
          got.push(...v.subarray(0, rowCount * cols));
        },
      });
      for (let r = 0; r < frames * F; r += block) {
        const n = Math.min(block, frames * F - r);
        sink.rows(values.subarray(r * columns, (r + n) * columns), n, columns, r);
      }
      expect(got).toEqual(expected(union));
      expect(sel.delivered(frames * F)).toBe(frames * union.length);
      for (let p = 0; p <= F; p++) expect(sel.rank(p)).toBe(union.filter((x) => x < p).length);
    }
  });

  it('places each group among the delivered rows', () => {
    const sel = new FrameSelection({ atoms: '5', fitAtoms: '2-3', atoms2: '8-9' }, F);
    const g = sel.groups();
    expect(Array.from(g.measure!)).toEqual([2]);
    expect(Array.from(g.fit!)).toEqual([0, 1]);
    expect(Array.from(g.other!)).toEqual([3, 4]);
    expect(sel.describe()).toEqual({ atoms: { count: 1, ranges: '5' }, fitAtoms: { count: 2, ranges: '2-3' }, atoms2: { count: 2, ranges: '8-9' } });
    const all = new FrameSelection({ fitAtoms: '2-3' }, F).groups();
    expect(Array.from(all.measure!)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(all.other).toBeUndefined();
  });

  it('refuses an index past the frame, naming it and the atom count', () => {
    expect(() => new FrameSelection({ atoms: '0-3,10' }, F)).toThrow(UsageError);
    expect(() => new FrameSelection({ atoms2: '12' }, F)).toThrow(/--atoms2 \(fanout-atoms2\) 12: atom index 12 is not in a frame of 10 atoms/);
  });
});
