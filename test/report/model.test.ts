import { describe, expect, it } from 'vitest';
import type { Partial as SlicePartial, ResultDocument } from '../../lib/core/job.ts';
import { ResultArray } from '../../lib/core/result-array.ts';
import { buildModel, MAX_SERIES_POINTS, median, resultSeries, resultVector, sliceRows, splitResumed } from '../../lib/report/model.ts';
import { python } from '../helpers/python.ts';

function partial(index: number, startedAt: number, ms: number, worker = 'w', extra: Partial<SlicePartial['run']> = {}): SlicePartial {
  return {
    job: 'j',
    index,
    start: index * 1000,
    end: (index + 1) * 1000,
    rows: 10,
    skipped: 0,
    skippedExamples: [],
    state: null,
    run: { bytesRead: 1000, startedAt, finishedAt: startedAt + ms, worker, ...extra },
  };
}

describe('median', () => {
  it('agrees with numpy for odd, even and single-element samples', () => {
    const samples = [[3, 1, 2], [4, 1, 3, 2], [7], [0.1, 0.7, 0.2, 1e9]];
    const expected = python<number[]>('print(json.dumps([float(np.median(x)) for x in args]))', samples);
    expect(samples.map(median)).toEqual(expected);
  });
  it('is undefined for no values', () => expect(median([])).toBeUndefined());
});

describe('sliceRows', () => {
  it('marks slices slower than 1.5 times the median as stragglers, and only those', () => {
    const durations = [100, 100, 110, 90, 151, 149, 400];
    const rows = sliceRows(durations.map((ms, i) => partial(i, 1000 + i, ms)));
    // median 110: the threshold is 165
    expect(rows.map((r) => r.straggler)).toEqual([false, false, false, false, false, false, true]);
  });

  it('measures time from the first slice that started and throughput from the slice bytes', () => {
    const rows = sliceRows([partial(0, 5000, 500), partial(1, 5200, 250)]);
    expect(rows.map((r) => [r.startMs, r.endMs, r.durationMs])).toEqual([
      [0, 500, 500],
      [200, 450, 250],
    ]);
    expect(rows.map((r) => r.bytesPerSecond)).toEqual([2000, 4000]);
  });

  it('judges a run of slices by its time per slice', () => {
    const run = (index: number, slices: number, ms: number) => ({ ...partial(index, 0, ms), slices, end: (index + slices) * 1000 });
    const rows = sliceRows([run(0, 10, 1000), run(10, 1, 100), run(11, 1, 100), run(12, 2, 400)]);
    // per slice: 100, 100, 100, 200 ms; median 100, threshold 150
    expect(rows.map((r) => [r.slices, r.bytes, r.straggler])).toEqual([
      [10, 10_000, false],
      [1, 1000, false],
      [1, 1000, false],
      [2, 2000, true],
    ]);
  });

  it('does not call a small run a straggler for taking a millisecond or two that the clock cannot tell from nothing', () => {
    const run = (index: number, slices: number, ms: number) => ({ ...partial(index, 0, ms), slices, end: (index + slices) * 1000 });
    // 200 slices of 1000 bytes in 10 ms each; a tail of runs of 5 slices in 0 to 2 ms, and one of 5 in 9 ms
    const rows = sliceRows([run(0, 200, 10), run(200, 200, 10), run(400, 200, 10), run(600, 5, 2), run(605, 5, 0), run(610, 5, 1), run(615, 5, 9)]);
    expect(rows.map((r) => r.straggler)).toEqual([false, false, false, false, false, false, true]);
  });

  it('does not divide by zero for a slice faster than the clock', () => {
    expect(sliceRows([partial(0, 0, 0)])[0]!.bytesPerSecond).toBe(1_000_000);
  });
});

describe('splitResumed', () => {
  it('takes the partials that finished first as the ones an earlier run wrote', () => {
    // slices 2 and 5 came from a run that was killed; this run did the rest later
    const ps = [0, 1, 2, 3, 4, 5].map((i) => partial(i, i === 2 || i === 5 ? 100 + i : 10_000 + i * 10, 5));
    const { earlier, thisRun } = splitResumed(ps, 2);
    expect(earlier.map((p) => p.index)).toEqual([2, 5]);
    expect(thisRun.map((p) => p.index)).toEqual([0, 1, 3, 4]);
  });

  it('counts resumed slices, not partials, when partials cover runs of slices', () => {
    // an earlier run committed slices 0-3 as one run and 4 alone; this run did 5-9 as one run
    const ps = [{ ...partial(0, 1, 5), slices: 4 }, partial(4, 2, 5), { ...partial(5, 9000, 5), slices: 5 }];
    const { earlier, thisRun } = splitResumed(ps, 5);
    expect(earlier.map((p) => p.index)).toEqual([0, 4]);
    expect(thisRun.map((p) => p.index)).toEqual([5]);
    const m = buildModel({ jobId: 'j', where: 'dir', partials: ps, doc: doc('sum', { count: 60, sum: 1, mean: 1 / 60 }, { slices: 10, resumedSlices: 5 }) });
    expect([m.slicesFound, m.partialsFound]).toEqual([10, 3]);
    expect(m.notes.join(' ')).toContain('5 slices were scanned by an earlier, interrupted run');
  });
});

function doc(analysis: string, result: unknown, extra: Partial<ResultDocument> = {}): ResultDocument {
  return { analysis, job: 'j', input: { path: 'x', bytes: 6000, format: 'text' }, slices: 6, records: 60, skipped: 0, resumedSlices: 0, elapsedMs: 2000, result, ...extra };
}

describe('resultVector', () => {
  it('takes the row means of row-sums and the column means of stats, leaving out non-finite values', () => {
    expect(resultVector(doc('row-sums', { frames: 2, rowsPerFrame: 3, rowMeans: [1, null, 3] }))!.values).toEqual([1, 3]);
    expect(resultVector(doc('stats', { columns: [{ mean: 2 }, { mean: null }, { mean: -1 }] }))!.values).toEqual([2, -1]);
  });
  it("labels a trajectory's lengths with the unit the result states", () => {
    const trajectory = { format: 'xtc', atoms: 3, magic: 1995, lengthUnit: 'Å', storedLengthUnit: 'nm', precision: 1000, first: { step: 0, timePs: 0 }, warnings: [] } as ResultDocument['trajectory'];
    expect(resultVector(doc('rg', { frames: 2, rg: [1, 2] }, { trajectory }))!.label).toBe('radius of gyration per frame (Å)');
    expect(resultVector(doc('mean-structure', { frames: 2, atoms: 1, mean: [[1, 2, 3]] }, { trajectory }))!.label).toBe('distance of mean atom position from the centre (Å)');
    expect(resultVector(doc('rg', { frames: 2, rg: [1, 2] }))!.label).toBe('radius of gyration per frame');
  });
  it('has no vector for a scalar sum', () => {
    expect(resultVector(doc('sum', { count: 3, sum: 6, mean: 2 }))).toBeUndefined();
  });
});

describe('resultSeries', () => {
  const xtc = { format: 'xtc', atoms: 3, magic: 1995, lengthUnit: 'Å', storedLengthUnit: 'nm', precision: 1000, first: { step: 0, timePs: 0 }, warnings: [] } as ResultDocument['trajectory'];
  const rng = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => Math.abs(Math.sin(seed * 7.1 + i * 1.3)) * 3 + 1);

  it('draws rg and rmsd against the frame, with the mean, in the unit the result states', () => {
    for (const analysis of ['rg', 'rmsd']) {
      const values = rng(17, 1);
      const mean = values.reduce((a, b) => a + b) / values.length;
      const s = resultSeries(doc(analysis, { frames: 17, [analysis]: values, mean, min: Math.min(...values), max: Math.max(...values) }, { trajectory: xtc }))!;
      expect(s.kind).toBe('line');
      expect(s.x).toEqual({ title: 'frame', values: values.map((_, i) => i) });
      expect(s.y.values).toEqual(values);
      expect(s.y.title).toBe(`${analysis === 'rg' ? 'radius of gyration' : 'RMSD'} (Å)`);
      expect(s.mean).toBe(mean);
    }
  });

  it('draws against time in ps when the trajectory gives its frame times (DCD: first frame time and time step)', () => {
    const dcd = { lengthUnit: 'Å', timeStepPs: 2.5, firstFrameTimePs: 10 } as unknown as ResultDocument['trajectory'];
    const s = resultSeries(doc('rg', { frames: 4, rg: [1, 2, 3, 4], mean: 2.5 }, { trajectory: dcd }))!;
    expect(s.x).toEqual({ title: 'time (ps)', values: [10, 12.5, 15, 17.5] });
  });

  it("draws against the result's own frame times when it has them (XTC, TRR, NetCDF: timePs), uneven ones included", () => {
    const s = resultSeries(doc('rmsd', { frames: 4, rmsd: [1, 2, 3, 4], mean: 2.5, timePs: [3, 3.25, 4, 5.25] }, { trajectory: xtc }))!;
    expect(s.x).toEqual({ title: 'time (ps)', values: [3, 3.25, 4, 5.25] });
    // a frame without a time (null in JSON) makes no time axis
    expect(resultSeries(doc('rg', { frames: 2, rg: [1, 2], mean: 1.5, timePs: [0, null] }, { trajectory: xtc }))!.x.title).toBe('frame');
  });

  it('keeps a frame of NaN coordinates (null in JSON) as a gap, not a shifted point', () => {
    const s = resultSeries(doc('rmsd', { frames: 3, rmsd: [1, null, 3], mean: 2 }))!;
    expect(s.x.values).toEqual([0, 1, 2]);
    expect(s.y.values).toEqual([1, NaN, 3]);
    expect(s.y.title).toBe('RMSD');
  });

  it("draws rmsf against the measured atoms' real indices, from a .npy-backed array too", () => {
    const values = rng(20, 2);
    const selection = { atoms: { count: 20, ranges: '10-19,30-39' } };
    const atoms = [...Array.from({ length: 10 }, (_, i) => 10 + i), ...Array.from({ length: 10 }, (_, i) => 30 + i)];
    for (const rmsf of [values, new ResultArray(Float64Array.from(values), [20])]) {
      const s = resultSeries(doc('rmsf', { frames: 5, atoms: 20, rmsf, selection }, { trajectory: xtc }))!;
      expect(s.kind).toBe('step');
      expect(s.x).toEqual({ title: 'atom index', values: atoms });
      expect(s.y).toEqual({ title: 'RMSF (Å)', values });
      expect(s.note).toBeUndefined();
    }
    // without a selection, atom i is row i
    expect(resultSeries(doc('rmsf', { frames: 5, atoms: 20, rmsf: values }))!.x.values).toEqual(values.map((_, i) => i));
  });

  it('downsamples an rmsf of more atoms than it draws to the largest value of each run of atoms, and says so', () => {
    const n = 2 * MAX_SERIES_POINTS + 5;
    const data = new Float64Array(n).map((_, i) => (i % 997) / 100);
    data[123_457] = 99; // a peak the downsampling must keep
    const s = resultSeries(doc('rmsf', { frames: 5, atoms: n, rmsf: new ResultArray(data, [n]) }))!;
    expect(s.x.values.length).toBeLessThanOrEqual(MAX_SERIES_POINTS);
    const per = 3; // ceil(n / MAX_SERIES_POINTS)
    expect(s.x.values.length).toBe(Math.ceil(n / per));
    for (const k of [0, 1, 41_152, s.x.values.length - 1]) {
      expect(s.x.values[k]).toBe(k * per);
      expect(s.y.values[k]).toBe(Math.max(...data.subarray(k * per, k * per + per)));
    }
    expect(Math.max(...s.y.values)).toBe(99);
    expect(s.note).toBe(`${n} atoms downsampled to ${s.x.values.length} points: each is the largest RMSF of 3 consecutive atoms`);
  });

  it('draws g(r) against the bin centres in the unit the result states', () => {
    const bins = [0.25, 0.75, 1.25];
    const rdf = [0, 1.5, 0.9];
    const s = resultSeries(doc('rdf', { frames: 2, nbins: 3, bins, edges: [0, 0.5, 1, 1.5], rdf, count: [0, 4, 5] }, { trajectory: xtc }))!;
    expect(s).toEqual({ kind: 'line', x: { title: 'r (Å)', values: bins }, y: { title: 'g(r)', values: rdf } });
  });

  it('has none for the other analyses', () => {
    expect(resultSeries(doc('stats', { columns: [{ mean: 1 }] }))).toBeUndefined();
    expect(resultSeries(doc('mean-structure', { frames: 2, atoms: 1, mean: [[1, 2, 3]] }))).toBeUndefined();
  });
});

describe('buildModel', () => {
  it('summarises a resumed job: timeline of this run only, throughput over the bytes this run scanned', () => {
    const ps = [0, 1, 2, 3, 4, 5].map((i) => partial(i, i < 2 ? i : 50_000 + i * 100, 100, `thread-${1 + (i % 2)}`, { coldStart: i === 2 || i === 3 }));
    const m = buildModel({ jobId: 'j', where: 'dir', partials: ps, doc: doc('sum', { count: 60, sum: 1, mean: 1 / 60 }, { resumedSlices: 2 }) });
    expect(m.rows.map((r) => r.index)).toEqual([2, 3, 4, 5]);
    expect(m.workers).toEqual(['thread-1', 'thread-2']);
    expect(m.coldStarts).toBe(2);
    // 4 of 6 slices of 1000 bytes scanned in 2 s
    expect(m.jobBytesPerSecond).toBe(2000);
    expect(m.notes.join(' ')).toContain('2 slices were scanned by an earlier, interrupted run');
    expect(m.state).toBe('done');
  });

  it('reports a failed job with its reason and slice', () => {
    const m = buildModel({ jobId: 'j', where: 's3://b', partials: [partial(0, 0, 10)], status: { state: 'failed', job: 'j', input: { bucket: 'b', key: 'input/x.csv' }, reason: 'x.csv: at byte 7: not a number', slice: 3, at: '2026-01-01T00:00:00.000Z' } });
    expect(m.state).toBe('failed');
    expect(m.failure).toBe('x.csv: at byte 7: not a number (slice 3)');
  });
});
