import { describe, expect, it } from 'vitest';
import type { Partial as SlicePartial } from '../../lib/core/job.ts';
import { renderCharts, renderSvg, seriesSpec } from '../../lib/report/charts.ts';
import { buildModel } from '../../lib/report/model.ts';
import { expectPoints, seriesPoints } from '../helpers/series-svg.ts';

/** n slices spread over `workers` environments, like a Lambda job's. */
function job(n: number, workers: number) {
  const partials: SlicePartial[] = Array.from({ length: n }, (_, i) => ({
    job: 'j',
    index: i,
    start: i * 1000,
    end: (i + 1) * 1000,
    rows: 10,
    skipped: 0,
    skippedExamples: [],
    state: null,
    run: { bytesRead: 1000, startedAt: Math.floor(i / workers) * 100, finishedAt: Math.floor(i / workers) * 100 + 80 + (i % 5), worker: `env-${i % workers}`, coldStart: i < workers },
  }));
  return buildModel({ jobId: 'j', where: 'test', partials });
}

const bars = (svg: string) => (svg.match(/aria-roledescription="bar"/g) ?? []).length;

describe('renderCharts', () => {
  it.each([
    [12, 3],
    [3000, 1000],
  ])('draws one timeline bar and one throughput bar per slice (%i slices on %i workers)', async (n, workers) => {
    const charts = await renderCharts(job(n, workers));
    expect(charts.map((c) => c.name)).toEqual(['timeline', 'throughput']);
    for (const c of charts) expect(bars(c.svg), c.name).toBe(n);
  });

  it('labels the lanes with the worker names when there are few', async () => {
    const [timeline] = await renderCharts(job(6, 2));
    expect(timeline!.svg).toContain('env-0');
    expect(timeline!.svg).toContain('env-1');
  });
});

describe('seriesSpec', () => {
  const xs = Array.from({ length: 50 }, (_, i) => 100 + 2 * i);
  const ys = xs.map((x) => 1 + Math.sin(x / 7) / 3);

  it('draws one point per value, at its x and y, titles the axes and marks the mean with its value', async () => {
    const mean = ys.reduce((a, b) => a + b) / ys.length;
    const svg = await renderSvg(seriesSpec({ kind: 'line', x: { title: 'frame', values: xs }, y: { title: 'RMSD (Å)', values: ys }, mean }));
    expectPoints(seriesPoints(svg), xs, ys);
    expect(svg).toContain("X-axis titled 'frame'");
    expect(svg).toContain("Y-axis titled 'RMSD (Å)'");
    expect(svg).toContain(`>mean ${Number(mean.toPrecision(6))}</text>`);
    expect(svg).toMatch(/aria-roledescription="line mark"/);
  });

  it('leaves a gap for a value that is not finite and says on the chart what it was told to', async () => {
    const holed = ys.map((y, i) => (i === 7 ? NaN : y));
    const svg = await renderSvg(seriesSpec({ kind: 'step', x: { title: 'atom index', values: xs }, y: { title: 'RMSF (Å)', values: holed }, note: '9 atoms downsampled' }));
    expect(seriesPoints(svg).map((p) => p.x)).toEqual(xs.filter((_, i) => i !== 7));
    // the line is cut in two where the value is missing
    const line = /aria-roledescription="line mark" d="([^"]+)"/.exec(svg)![1]!;
    expect(line.match(/M/g)!.length).toBe(2);
    expect(svg).toContain('>9 atoms downsampled</text>');
    expect(svg).not.toContain('>mean');
  });
});
