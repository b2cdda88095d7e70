import { describe, expect, it } from 'vitest';
import type { Partial as SlicePartial } from '../../lib/core/job.ts';
import { renderCharts } from '../../lib/report/charts.ts';
import { buildModel } from '../../lib/report/model.ts';

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
