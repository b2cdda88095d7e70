import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Analysis, AnalysisContext } from '../../../lib/core/analysis.ts';
import { rmsf, rmsfAverage } from '../../../lib/core/analyses/rmsf.ts';
import { chainedOptions, type ResultDocument } from '../../../lib/core/job.ts';
import type { JobSpec } from '../../../lib/core/plan.ts';
import { MemorySource } from '../../../lib/core/source.ts';
import { runInProcess } from '../../helpers/dcd-run.ts';
import { mdaMissing, mdaPositions, mdDataMissing, mdFile, missing, skipNote } from '../../helpers/md.ts';
import { mdaRmsf } from '../../helpers/md-fit.ts';

const toAngstrom = (spec: JobSpec): number => ({ nm: 10, Å: 1 })[(spec.trajectory as { lengthUnit?: string } | undefined)?.lengthUnit ?? 'Å'] ?? NaN;

function expectClose(got: unknown, want: number[], scale: number, tolerance: number): void {
  const series = got as number[];
  expect(series.length).toBe(want.length);
  series.forEach((v, i) => expect(Math.abs(v * scale - want[i]!), `atom ${i}: ${v * scale} against ${want[i]}`).toBeLessThan(tolerance));
}

/** The chain as both runtimes run it: rmsf-average, then rmsf with its result as the reference. */
async function chain(name: string, slices: number, options: Record<string, string>) {
  const source = () => new MemorySource(new Uint8Array(readFileSync(mdFile(name))), mdFile(name), 1 << 16);
  const first = await runInProcess(source(), rmsfAverage, { slices }, slices, options);
  const second = chainedOptions(rmsf, options, { result: first.result, trajectory: first.spec.trajectory } as unknown as ResultDocument);
  return runInProcess(source(), rmsf, { slices }, slices + 1, second);
}

/** One state per slice of `frames` frames, merged through their encoding. */
function runCtx<S, R>(a: Analysis<S, R>, coords: Float64Array, frames: number, cut: number, ctx: AnalysisContext): R {
  const n = ctx.frameRows;
  const left = a.addRows(a.empty(ctx), coords.subarray(0, cut * n * 3), cut * n, 3, 0, ctx);
  const right = a.addRows(a.empty(ctx), coords.subarray(cut * n * 3), (frames - cut) * n, 3, 0, ctx);
  const roundTrip = (s: S): S => a.decode(a.encode(s), ctx);
  return a.finish(a.combine(roundTrip(left), roundTrip(right), cut * n, ctx), frames * n, ctx);
}

describe('rmsf', () => {
  const lacking = [mdDataMissing, mdaMissing];
  it.skipIf(missing(...lacking)).each([
    ['adk_dims.dcd', 0, [1, 7]],
    ['adk_dims.dcd', 30, [3]],
    ['adk_oplsaa.xtc', 0, [1, 4]],
    ['cobrotoxin.trr', 2, [1, 3]],
    ['tz2.truncoct.nc', 0, [2]],
  ] as const)(skipNote('%s, ref-frame %i: within 1e-4 Å of the recipe AverageStructure + AlignTraj + RMSF, for every slicing', ...lacking), async (name, refFrame, slicings) => {
    if (missing(...lacking)) return;
    const want = mdaRmsf(mdFile(name), { refFrame });
    for (const slices of slicings) {
      const { spec, result } = await chain(name, slices, { 'ref-frame': String(refFrame) });
      expect(result.frames).toBe(spec.shape?.[0] ?? result.frames);
      expect(result.atoms).toBe(want.length);
      expectClose(result.rmsf, want, toAngstrom(spec), 1e-4);
    }
  });

  it('gives the same bits for any slicing (exact sums)', async () => {
    if (mdDataMissing) return;
    const results = await Promise.all([1, 5, 98].map((s) => chain('adk_dims.dcd', s, {})));
    for (const r of results) expect(r.result.rmsf).toEqual(results[0]!.result.rmsf);
  });

  it.skipIf(missing(...lacking))(skipNote('fits on ctx.groups.fit and measures ctx.groups.measure', ...lacking), () => {
    if (missing(...lacking)) return;
    const path = mdFile('cobrotoxin.trr');
    const p = mdaPositions(path);
    const n = p.atoms;
    const coords = Float64Array.from(p.coords);
    const fit = Array.from({ length: 120 }, (_, i) => i * 4);
    const measure = Array.from({ length: 90 }, (_, i) => 3 + i * 5);
    const groups = { fit: Int32Array.from(fit), measure: Int32Array.from(measure) };
    const refFrame = 1;
    const base = { columns: 3, frameRows: n, options: {} };
    const average = runCtx(rmsfAverage, coords, p.frames, 2, { ...base, groups, reference: coords.slice(refFrame * n * 3, (refFrame + 1) * n * 3) });
    const reference = rmsf.chain!.reference(average);
    const got = runCtx(rmsf, coords, p.frames, 3, { ...base, groups, reference });
    expect(got.atoms).toBe(90);
    expectClose(got.rmsf.toNested(), mdaRmsf(path, { refFrame, fit, measure }), 10, 1e-4);
  });
});
