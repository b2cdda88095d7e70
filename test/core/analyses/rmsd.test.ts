import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AnalysisContext } from '../../../lib/core/analysis.ts';
import { rmsd } from '../../../lib/core/analyses/rmsd.ts';
import { UsageError } from '../../../lib/core/errors.ts';
import { encodeCoordinates } from '../../../lib/core/job.ts';
import { type JobSpec, planJob, sliceBounds } from '../../../lib/core/plan.ts';
import { type DcdLayout, scanDcd } from '../../../lib/core/dcd.ts';
import { MemorySource } from '../../../lib/core/source.ts';
import { runInProcess } from '../../helpers/dcd-run.ts';
import { mdaMissing, mdaPositions, mdDataMissing, mdFile, missing, skipNote } from '../../helpers/md.ts';
import { mdaRmsd } from '../../helpers/md-fit.ts';

/** Å per unit of the result: read from the document, so that the tests hold whether lengths are converted to Å or not. */
const toAngstrom = (spec: JobSpec): number => ({ nm: 10, Å: 1 })[(spec.trajectory as { lengthUnit?: string } | undefined)?.lengthUnit ?? 'Å'] ?? NaN;

function expectClose(got: unknown, want: number[], scale: number, tolerance: number): void {
  const series = got as number[];
  expect(series.length).toBe(want.length);
  series.forEach((v, f) => expect(Math.abs(v * scale - want[f]!), `frame ${f}: ${v * scale} against ${want[f]}`).toBeLessThan(tolerance));
}

const source = (name: string) => new MemorySource(new Uint8Array(readFileSync(mdFile(name))), mdFile(name), 1 << 16);

describe('rmsd', () => {
  const lacking = [mdDataMissing, mdaMissing];
  it.skipIf(missing(...lacking)).each([
    ['adk_dims.dcd', 0, [1, 3, 98]],
    ['adk_dims.dcd', 40, [7]],
    ['tip125_tric_C36.dcd', 2, [1, 4]],
    ['adk_oplsaa.xtc', 0, [1, 3, 10]],
    ['adk_oplsaa.xtc', 7, [4]],
    ['cobrotoxin.xtc', 2, [1, 3]],
    ['cobrotoxin.trr', 0, [1, 6]],
    ['bala.ncdf', 0, [1, 9]],
    ['tz2.truncoct.nc', 4, [1, 3]],
  ] as const)(skipNote('%s, ref-frame %i: within 1e-5 Å of MDAnalysis rms.RMSD, for every slicing', ...lacking), async (name, refFrame, slicings) => {
    if (missing(...lacking)) return;
    const want = mdaRmsd(mdFile(name), { refFrame });
    expect(want[refFrame]).toBeLessThan(1e-5);
    for (const slices of slicings) {
      const { spec, result } = await runInProcess(source(name), rmsd, { slices }, slices, { 'ref-frame': String(refFrame) });
      expect(spec.wholeFrames).toBe(true);
      expect(result.frames).toBe(want.length);
      expectClose(result.rmsd, want, toAngstrom(spec), 1e-5);
      const series = result.rmsd as number[];
      expect(result.min).toBe(Math.min(...series));
      expect(result.max).toBe(Math.max(...series));
      expect(Math.abs((result.mean as number) - series.reduce((a, b) => a + b, 0) / series.length)).toBeLessThan(1e-12);
    }
  });

  it.skipIf(missing(...lacking))(skipNote('fits on ctx.groups.fit and measures ctx.groups.measure, as RMSD with a group selection does', ...lacking), () => {
    if (missing(...lacking)) return;
    const path = mdFile('cobrotoxin.xtc');
    const p = mdaPositions(path);
    const n = p.atoms;
    const frames = Float64Array.from(p.coords);
    const fit = Array.from({ length: 200 }, (_, i) => i * 3);
    const measure = Array.from({ length: 150 }, (_, i) => 7 + i * 2);
    for (const [g, refFrame] of [[{ fit, measure }, 2], [{ fit }, 0], [{ measure }, 1]] as const) {
      const ctx: AnalysisContext = {
        columns: 3,
        frameRows: n,
        options: {},
        groups: { ...('fit' in g ? { fit: Int32Array.from(g.fit) } : {}), ...('measure' in g ? { measure: Int32Array.from(g.measure) } : {}) },
        reference: frames.slice(refFrame * n * 3, (refFrame + 1) * n * 3),
      };
      // two slices, merged
      const cut = 2 * n;
      const left = rmsd.addRows(rmsd.empty(ctx), frames.subarray(0, cut * 3), cut, 3, 0, ctx);
      const right = rmsd.addRows(rmsd.empty(ctx), frames.subarray(cut * 3), p.frames * n - cut, 3, 0, ctx);
      const result = rmsd.finish(rmsd.combine(left, rmsd.decode(JSON.parse(JSON.stringify(rmsd.encode(right))), ctx), cut, ctx), p.frames * n, ctx);
      const want = mdaRmsd(path, { refFrame, ...('fit' in g ? { fit: g.fit } : {}), ...('measure' in g ? { measure: g.measure } : {}) });
      // positions are in nm here, MDAnalysis's in Å (its group RMSD reads float32 positions it moved: 1e-5 Å)
      expectClose(result.rmsd, want, 10, 1e-5);
    }
  });

  it.skipIf(missing(mdDataMissing))(skipNote('takes the reference given with the job (the option reference) instead of a frame', mdDataMissing), async () => {
    const bytes = new Uint8Array(readFileSync(mdFile('tip125_tric_C36.dcd')));
    const from0 = await runInProcess(new MemorySource(bytes, 'a.dcd'), rmsd, { slices: 3 }, 1, { 'ref-frame': '4' });
    // frame 4 itself, read by the DCD reader, given as coordinates: the same series
    const n = from0.spec.frameRows;
    const frame4 = new Float64Array(n * 3);
    const spec = await planJob(new MemorySource(bytes, 'a.dcd'), { name: 'rmsd', options: {}, wholeFrames: true, needsFrames: true }, { slices: 10 ** 6 }, 'x');
    const { start, end } = sliceBounds(spec, 4);
    await scanDcd(new MemorySource(bytes, 'a.dcd'), spec.layout as DcdLayout, start, end, { rows: (v, rows) => frame4.set(v.subarray(0, rows * 3)) });
    const given = await runInProcess(new MemorySource(bytes, 'a.dcd'), rmsd, { slices: 2 }, 1, { reference: encodeCoordinates(frame4) });
    expect(given.result.rmsd).toEqual(from0.result.rmsd);
  });

  it.skipIf(missing(mdDataMissing))(skipNote('refuses a reference frame past the end, and a reference of another size, with a usage error', mdDataMissing), async () => {
    const bytes = new Uint8Array(readFileSync(mdFile('tip125_tric_C36.dcd')));
    const e = await runInProcess(new MemorySource(bytes, 'a.dcd'), rmsd, { slices: 2 }, 1, { 'ref-frame': '10' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(/ref-frame 10 is past the last frame of a\.dcd \(10 frames/);
    const xtc = new Uint8Array(readFileSync(mdFile('cobrotoxin.xtc')));
    const x = await runInProcess(new MemorySource(xtc, 'c.xtc'), rmsd, { slices: 2 }, 1, { 'ref-frame': '99' }).catch((y: unknown) => y);
    expect(x).toBeInstanceOf(UsageError);
    expect((x as Error).message).toMatch(/ref-frame 99 is past the last frame of c\.xtc/);
    const wrong = await runInProcess(new MemorySource(bytes, 'a.dcd'), rmsd, { slices: 2 }, 1, { reference: encodeCoordinates(new Float64Array(9)) }).catch((y: unknown) => y);
    expect(wrong).toBeInstanceOf(UsageError);
  });
});

describe('rmsd groups', () => {
  it('refuses an empty fit or measured group with a usage error', () => {
    const ctx = (groups: AnalysisContext['groups']): AnalysisContext => ({ columns: 3, frameRows: 2, options: {}, groups, reference: Float64Array.from([0, 0, 0, 1, 0, 0]) });
    const frame = Float64Array.from([0, 0, 0, 0, 1, 0]);
    for (const g of [{ fit: new Int32Array(0) }, { measure: new Int32Array(0) }]) {
      const c = ctx(g);
      expect(() => rmsd.addRows(rmsd.empty(c), frame, 2, 3, 0, c)).toThrow(UsageError);
    }
    const c = ctx({});
    expect(rmsd.finish(rmsd.addRows(rmsd.empty(c), frame, 2, 3, 0, c), 2, c).rmsd[0]).toBeLessThan(1e-7);
  });
});
