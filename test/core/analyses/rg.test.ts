import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rg } from '../../../lib/core/analyses/rg.ts';
import { InputError, UsageError } from '../../../lib/core/errors.ts';
import { planJob, sliceBounds } from '../../../lib/core/plan.ts';
import { MemorySource } from '../../../lib/core/source.ts';
import { tempDir } from '../../helpers/cli.ts';
import { runInProcess } from '../../helpers/dcd-run.ts';
import { python } from '../../helpers/python.ts';

const tmp = tempDir('fanout-rg-');
afterAll(() => tmp.cleanup());

const ORACLE = `
d = np.load(args).astype(np.float64)
c = d - d.mean(axis=1, keepdims=True)
print(json.dumps(np.sqrt((c ** 2).sum(axis=2).mean(axis=1)).tolist()))`;

function npy(name: string, expr: string): MemorySource {
  const path = join(tmp.path, name);
  python(`np.save(args, ${expr})\nprint(1)`, path);
  return new MemorySource(new Uint8Array(readFileSync(path)), path, 1000);
}

describe('rg', () => {
  it('gives numpy\'s per-frame radius of gyration, in frame order, for any slicing of an (F, n, 3) .npy', async () => {
    const source = npy('traj.npy', 'np.random.default_rng(5).normal(0, 10, (301, 47, 3)).astype(np.float32)');
    const want = python<number[]>(ORACLE, source.name);
    const wantMean = python<number>('print(json.dumps(math.fsum(args) / len(args)))', want);
    for (const slices of [1, 2, 7, 64, 301]) {
      const { spec, result } = await runInProcess(source, rg, { slices }, slices);
      expect(spec.wholeFrames).toBe(true);
      expect(result.frames).toBe(301);
      (result.rg as number[]).forEach((v, f) => expect(Math.abs(v - want[f]!)).toBeLessThan(1e-12 * want[f]!));
      expect(result.min).toBe(Math.min(...(result.rg as number[])));
      expect(result.max).toBe(Math.max(...(result.rg as number[])));
      expect(result.mean as number).toBeCloseTo(wantMean, 12);
    }
  });

  it('cuts binary slices at frame boundaries even when frames are not a whole number of read blocks', async () => {
    const source = npy('f8.npy', 'np.random.default_rng(6).normal(0, 1, (50, 1001, 3))');
    const spec = await planJob(source, { name: 'rg', options: {}, needsFrames: true, wholeFrames: true }, { slices: 7 }, 'x');
    const layout = spec.layout as { dataOffset: number };
    for (let i = 0; i < spec.sliceCount; i++) {
      const { start, end } = sliceBounds(spec, i);
      expect((start - layout.dataOffset) % (1001 * 3 * 8)).toBe(0);
      expect((end - layout.dataOffset) % (1001 * 3 * 8)).toBe(0);
    }
    const want = python<number[]>(ORACLE, source.name);
    const { result } = await runInProcess(source, rg, { slices: 7 });
    (result.rg as number[]).forEach((v, f) => expect(Math.abs(v - want[f]!)).toBeLessThan(1e-12 * want[f]!));
  });

  it('reports an incomplete last frame at its byte offset', async () => {
    const source = npy('rows.npy', 'np.arange(3 * 10 * 3, dtype=np.float64).reshape(30, 3)[:29]');
    const e = await runInProcess(source, rg, { slices: 2, frameRows: 10 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).offset).toBe(128 + 20 * 3 * 8);
  });

  it('keeps frame order through JSON partials and any merge grouping, NaN frames as null', () => {
    const ctx = { columns: 3, frameRows: 2, options: {} };
    const frame = (k: number): number[] => [k, 0, 0, -k, 0, 0];
    const slice = (frames: number[]) => {
      const values = Float64Array.from(frames.flatMap(frame));
      const s = rg.addRows(rg.empty(ctx), values, frames.length * 2, 3, 0, ctx);
      return () => rg.decode(JSON.parse(JSON.stringify(rg.encode(s))), ctx);
    };
    const parts = [slice([1, 2]), slice([NaN]), slice([]), slice([3, 4, 5])];
    const flat = parts.reduce((acc, p, i) => rg.combine(acc, p(), i, ctx), rg.empty(ctx));
    const grouped = rg.combine(rg.combine(parts[0]!(), parts[1]!(), 0, ctx), rg.combine(parts[2]!(), parts[3]!(), 0, ctx), 0, ctx);
    for (const state of [flat, grouped]) {
      const result = rg.finish(rg.decode(JSON.parse(JSON.stringify(rg.encode(state))), ctx), 12, ctx);
      expect(result.rg).toEqual([1, 2, null, 3, 4, 5]);
    }
  });

  it('refuses text input with a usage error: text slices cannot be cut at frames', async () => {
    const source = new MemorySource(new TextEncoder().encode('1,2,3\n4,5,6\n'), 'a.csv');
    await expect(runInProcess(source, rg, { frameRows: 2 })).rejects.toThrow(UsageError);
    await expect(runInProcess(source, rg, { frameRows: 2 })).rejects.toThrow(/whole frames/);
  });
});
