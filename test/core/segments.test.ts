import { describe, expect, it } from 'vitest';
import { type SegmentedLayout, segmentsOf, unitIndex, unitOffset, unitsIn } from '../../lib/core/segments.ts';

describe('unitIndex', () => {
  it.each([
    ['one file', { dataOffset: 100, dataEnd: 100 + 7 * 12 }],
    ['three parts, headers between them', { dataOffset: 100, dataEnd: 700, segments: [{ dataOffset: 100, dataEnd: 100 + 3 * 12 }, { dataOffset: 300, dataEnd: 300 + 5 * 12 }, { dataOffset: 650, dataEnd: 650 + 4 * 12 }] }],
    ['a part with no whole unit', { dataOffset: 10, dataEnd: 300, segments: [{ dataOffset: 10, dataEnd: 10 + 2 * 12 }, { dataOffset: 100, dataEnd: 105 }, { dataOffset: 200, dataEnd: 200 + 3 * 12 }] }],
  ] as [string, SegmentedLayout][])('is the inverse of unitOffset: %s', (_, layout) => {
    const n = unitsIn(layout, 12);
    for (let u = 0; u < n; u++) expect(unitIndex(layout, unitOffset(layout, u, 12), 12)).toBe(u);
    // a segment's end, where the next slice may start: the index of the next segment's first unit
    for (const s of segmentsOf(layout)) expect(unitIndex(layout, s.dataEnd, 12)).toBe(unitIndex(layout, s.dataOffset, 12) + Math.floor((s.dataEnd - s.dataOffset) / 12));
  });
});
