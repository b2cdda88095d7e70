/**
 * The embedded runtime against numpy and math.fsum: every answer bit for bit, and the
 * same `result` whatever the slicing and the worker count.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../lib/core/errors.ts';
import { type LocalRunOptions, runLocal } from '../../lib/local/run.ts';
import { tempDir } from '../helpers/cli.ts';
import { python } from '../helpers/python.ts';
import { statePartials } from '../helpers/state-dir.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let runs = 0;

function run(path: string, opts: Partial<LocalRunOptions>) {
  // A fresh state dir per run: these tests are about answers, not resuming.
  return runLocal(path, { analysis: 'sum', workers: 1, stateDir: join(tmp.path, `state-${runs++}`), ...opts });
}

/** Runs with several slice counts and worker counts; all `result`s must be identical. */
async function runEverySlicing(path: string, opts: Partial<LocalRunOptions>, sliceCounts: number[]) {
  const docs = [];
  for (const slices of sliceCounts) docs.push(await run(path, { ...opts, slices, workers: 1 }));
  // Threads cost start-up time: one multi-threaded run per input is enough to compare.
  docs.push(await run(path, { ...opts, slices: sliceCounts[sliceCounts.length - 1], workers: 2 }));
  for (const d of docs) expect(d.result).toEqual(docs[0]!.result);
  return docs[0]!;
}

describe('runLocal on .npy trajectories', () => {
  const path = join(tmp.path, 'traj.npy');
  python('rng = np.random.default_rng(11)\nnp.save(args, rng.normal(5, 3, (301, 7, 9)))\nprint(1)', path);

  it('row-sums equals math.fsum of each row over all frames, for any slicing', async () => {
    const doc = await runEverySlicing(path, { analysis: 'row-sums' }, [1, 5, 10_000, 500]);
    const want = python<number[]>('a = np.load(args)\nprint(json.dumps([math.fsum(a[:, i, :].ravel().tolist()) for i in range(a.shape[1])]))', path);
    const r = doc.result as { frames: number; rowsPerFrame: number; rowSums: number[]; rowMeans: number[] };
    expect(r.frames).toBe(301);
    expect(r.rowsPerFrame).toBe(7);
    expect(r.rowSums).toEqual(want);
    expect(r.rowMeans).toEqual(want.map((s) => s / 301));
    expect(doc.records).toBe(301);
    expect(doc.input.shape).toEqual([301, 7, 9]);
  });

  it('sum and stats agree with math.fsum and numpy', async () => {
    const sumDoc = await runEverySlicing(path, { analysis: 'sum' }, [1, 3, 17]);
    const [fs, n] = python<[number, number]>('a = np.load(args)\nprint(json.dumps([math.fsum(a.ravel().tolist()), int(a.size)]))', path);
    expect(sumDoc.result).toEqual({ count: n, sum: fs, mean: fs / n });
  });
});

describe('runLocal mean-structure: the main thread folds its own partials from memory', () => {
  // Per-cell exponents from 1e-12 to 1e12 and cancelling signs: any lost bit shows.
  const path = join(tmp.path, 'atoms.npy');
  const want = python<number[][]>(
    `rng = np.random.default_rng(31)
a = (rng.standard_normal((203, 11, 3)) * 10.0 ** rng.integers(-12, 13, (203, 11, 3))).astype(np.float32)
a[::2] *= -1
np.save(args, a)
print(json.dumps([[math.fsum(a[:, i, c].astype(np.float64).tolist()) / 203 for c in range(3)] for i in range(11)]))`,
    path,
  );
  const mean = (doc: { result: unknown }) => (doc.result as { mean: number[][] }).mean;

  it('equals math.fsum / frames for every cell, identical for any slicing and worker count', async () => {
    const doc = await runEverySlicing(path, { analysis: 'mean-structure' }, [1, 2, 7, 203, 1000]);
    expect(mean(doc)).toEqual(want);
    for (const slices of [2, 7, 203]) expect(mean(await run(path, { analysis: 'mean-structure', slices, workers: 2 }))).toEqual(want);
  });

  it('an interrupted run resumes from the log to the same answer: the partials folded in memory were logged too', async () => {
    const stateDir = join(tmp.path, 'state-atoms-resume');
    const first = await runLocal(path, { analysis: 'mean-structure', workers: 2, slices: 203, stateDir });
    expect(mean(first)).toEqual(want);
    const ps = statePartials(stateDir, first.job);
    expect(ps.reduce((a, p) => a + (p.slices ?? 1), 0)).toBe(203);
    expect(ps.some((p) => p.run.worker === 'main')).toBe(true);
    // Lose the result and part of every log, as if the run had been killed: what is left resumes.
    const dir = join(stateDir, 'jobs', first.job, 'partials');
    for (const log of readdirSync(dir)) {
      const body = readFileSync(join(dir, log));
      writeFileSync(join(dir, log), body.subarray(0, Math.floor(body.length / 2)));
    }
    const again = await runLocal(path, { analysis: 'mean-structure', workers: 2, slices: 203, stateDir });
    expect(again.resumedSlices).toBeGreaterThan(0);
    expect(again.resumedSlices).toBeLessThan(203);
    expect(mean(again)).toEqual(want);
    // Every slice resumed from the log alone (no scan in this process) gives it too.
    const third = await runLocal(path, { analysis: 'mean-structure', workers: 1, slices: 203, stateDir });
    expect(third.resumedSlices).toBe(203);
    expect(mean(third)).toEqual(want);
  });
});

describe('runLocal with threads started before planning (startThreadsEarly)', () => {
  const path = join(tmp.path, 'early.npy');
  const want = python<number[][]>(
    `rng = np.random.default_rng(37)
a = (rng.standard_normal((97, 13, 3)) * 10.0 ** rng.integers(-9, 10, (97, 13, 3))).astype(np.float32)
np.save(args, a)
print(json.dumps([[math.fsum(a[:, i, c].astype(np.float64).tolist()) / 97 for c in range(3)] for i in range(13)]))`,
    path,
  );
  const mean = (doc: { result: unknown }) => (doc.result as { mean: number[][] }).mean;

  it('gives the same exact answer, and ends when the early threads have nothing to scan', async () => {
    const stateDir = join(tmp.path, 'state-early');
    const doc = await runLocal(path, { analysis: 'mean-structure', workers: 2, slices: 97, stateDir, startThreadsEarly: true });
    expect(mean(doc)).toEqual(want);
    // Nothing left to scan: the started threads are stopped and the run still ends.
    const again = await runLocal(path, { analysis: 'mean-structure', workers: 3, slices: 97, stateDir, startThreadsEarly: true });
    expect(again.resumedSlices).toBe(97);
    expect(mean(again)).toEqual(want);
  });

  it("a bad record is the user's error with its byte offset, threads started early", async () => {
    const bad = join(tmp.path, 'early-bad.csv');
    writeFileSync(bad, Array.from({ length: 4000 }, (_, i) => (i === 3500 ? '1,x\n' : `${i},1\n`)).join(''));
    const offset = Array.from({ length: 3500 }, (_, i) => `${i},1\n`.length).reduce((a, b) => a + b, 0);
    const err = await runLocal(bad, { analysis: 'sum', workers: 2, slices: 40, stateDir: join(tmp.path, 'state-early-bad'), startThreadsEarly: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).offset).toBe(offset + '1,'.length);
  });
});

describe('runLocal on text written by numpy', () => {
  it.each([
    ['%.6f', ','],
    ['%.18e', ','],
    ['%g', '\t'],
    ['%.10g', ' '],
  ])('stats over np.savetxt(fmt=%j, delimiter=%j) match numpy exactly where numpy is exact', async (fmt, delimiter) => {
    const path = join(tmp.path, `t-${fmt.replace(/\W/g, '')}-${delimiter.charCodeAt(0)}.csv`);
    python(
      `rng = np.random.default_rng(5)\na = rng.normal(0, 1e4, (997, 6)) * np.array([1, 1e-8, 1e8, -1, 3, 1e-150])\nnp.savetxt(args[0], a, fmt=args[1], delimiter=args[2])\nprint(1)`,
      [path, fmt, delimiter],
    );
    const doc = await runEverySlicing(path, { analysis: 'stats' }, [1, 13, 200]);
    const want = python<{ count: number; sum: number; min: number; max: number; std: number }[]>(
      `a = np.loadtxt(args[0], delimiter=None if args[1] == ' ' else args[1])
print(json.dumps([dict(count=int(a.shape[0]), sum=math.fsum(a[:, c].tolist()), min=float(a[:, c].min()), max=float(a[:, c].max()), std=float(a[:, c].std())) for c in range(a.shape[1])]))`,
      [path, delimiter],
    );
    const cols = (doc.result as { columns: { count: number; sum: number; mean: number; min: number; max: number; std: number }[] }).columns;
    expect(cols).toHaveLength(6);
    cols.forEach((c, i) => {
      const w = want[i]!;
      expect(c.count).toBe(w.count);
      expect(c.sum).toBe(w.sum);
      expect(c.mean).toBe(w.sum / w.count);
      expect(c.min).toBe(w.min);
      expect(c.max).toBe(w.max);
      expect(Math.abs(c.std - w.std)).toBeLessThanOrEqual(1e-12 * w.std);
    });
    expect(doc.records).toBe(997);
  });

  it('row-sums with --frame-rows over text, frames straddling slices', async () => {
    const path = join(tmp.path, 'frames.txt');
    python('rng = np.random.default_rng(9)\nnp.savetxt(args, rng.uniform(-1, 1, (13 * 40, 4)), fmt="%.17g")\nprint(1)', path);
    const doc = await runEverySlicing(path, { analysis: 'row-sums', frameRows: 13 }, [1, 3, 50, 999]);
    const want = python<number[]>('a = np.loadtxt(args).reshape(40, 13, 4)\nprint(json.dumps([math.fsum(a[:, i, :].ravel().tolist()) for i in range(13)]))', path);
    expect((doc.result as { rowSums: number[] }).rowSums).toEqual(want);
  });

  it('an empty file is a valid input with zero records', async () => {
    const path = join(tmp.path, 'empty.csv');
    writeFileSync(path, '');
    const doc = await run(path, { analysis: 'sum' });
    expect(doc.records).toBe(0);
    expect(doc.result).toEqual({ count: 0, sum: 0, mean: null });
  });

  it('skips bad records with --on-bad-record skip and says where they were', async () => {
    const path = join(tmp.path, 'bad.csv');
    writeFileSync(path, '1,2\n3,oops\n5,6\n');
    const doc = await run(path, { analysis: 'sum', onBadRecord: 'skip', slices: 3 });
    expect(doc.result).toEqual({ count: 4, sum: 14, mean: 3.5 });
    expect(doc.skipped).toBe(1);
    expect(doc.skippedExamples).toEqual([{ offset: 6, problem: 'not a number: "oops"' }]);
  });

  it('an incomplete last frame in text is an error at the byte where that frame starts', async () => {
    const path = join(tmp.path, 'incomplete.txt');
    writeFileSync(path, '1 2\n3 4\n5 6\n7 8\n9 10\n');
    for (const slices of [1, 2, 5]) {
      const err = await run(path, { analysis: 'row-sums', frameRows: 2, slices }).catch((e) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).offset).toBe(16);
      expect((err as InputError).problem).toContain('incomplete: 1 rows, a frame is 2 rows');
    }
  });
});

describe('runLocal on raw binary', () => {
  it('reads big-endian float32 records of shape (5, 3) as frames', async () => {
    const path = join(tmp.path, 'raw.bin');
    python('rng = np.random.default_rng(2)\na = rng.normal(0, 1, (50, 5, 3)).astype(">f4")\nopen(args, "wb").write(b"HEADER!!" + a.tobytes())\nprint(1)', path);
    const doc = await runEverySlicing(path, { analysis: 'row-sums', format: 'raw', dtype: '>f4', recordShape: [5, 3], headerBytes: 8 }, [1, 4, 50]);
    const want = python<number[]>(
      'a = np.frombuffer(open(args, "rb").read()[8:], dtype=">f4").astype(np.float64).reshape(50, 5, 3)\nprint(json.dumps([math.fsum(a[:, i, :].ravel().tolist()) for i in range(5)]))',
      path,
    );
    expect((doc.result as { rowSums: number[] }).rowSums).toEqual(want);
    expect(doc.records).toBe(50);
  });

  it('reports a truncated last record', async () => {
    const path = join(tmp.path, 'raw-trunc.bin');
    writeFileSync(path, new Uint8Array(8 * 10 + 3));
    const err = await run(path, { format: 'raw', dtype: 'f8' }).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).offset).toBe(80);
  });
});

describe('runLocal with many small slices', () => {
  const path = join(tmp.path, 'many.csv');
  const want = python<{ sum: number; n: number }>(
    `rng = np.random.default_rng(23)
a = rng.standard_normal((20000, 4)) * 10.0 ** rng.integers(-5, 6, (20000, 4))
np.savetxt(args, a, delimiter=",", fmt="%.17g")
print(json.dumps({"sum": math.fsum(a.ravel().tolist()), "n": int(a.size)}))`,
    path,
  );

  it('commits runs of consecutive slices, far fewer partials than slices, and resumes a log with gaps on any worker count', async () => {
    const stateDir = join(tmp.path, 'state-many');
    const first = await runLocal(path, { analysis: 'sum', workers: 1, slices: 3000, stateDir });
    expect(first.result).toEqual({ count: want.n, sum: want.sum, mean: want.sum / want.n });
    const ps = statePartials(stateDir, first.job);
    expect(ps.reduce((a, p) => a + (p.slices ?? 1), 0)).toBe(3000);
    expect(ps.length).toBeLessThan(300);
    expect(ps.some((p) => (p.slices ?? 1) > 1)).toBe(true);

    // Lose every other partial, as if those runs had never been committed: gaps all over.
    const dir = join(stateDir, 'jobs', first.job, 'partials');
    const [log, ...others] = readdirSync(dir);
    expect(others).toEqual([]);
    const lines = readFileSync(join(dir, log!), 'utf8').split('\n').slice(0, -1);
    const kept = lines.filter((_, i) => i % 2 === 0);
    writeFileSync(join(dir, log!), kept.map((l) => `${l}\n`).join(''));
    const keptSlices = kept.reduce((a, l) => a + ((JSON.parse(l) as { slices?: number }).slices ?? 1), 0);

    const again = await runLocal(path, { analysis: 'sum', workers: 2, slices: 3000, stateDir });
    expect(again.resumedSlices).toBe(keptSlices);
    expect(again.result).toEqual(first.result);
    // Every slice is covered by exactly one partial.
    const covered = statePartials(stateDir, first.job).flatMap((p) => Array.from({ length: p.slices ?? 1 }, (_, i) => p.index + i));
    expect(covered.sort((a, b) => a - b)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
  });
});

describe('runLocal by default', () => {
  it('cuts the input the same way whatever --workers says, so a run resumes on another worker count', async () => {
    const path = join(tmp.path, 'twenty.npy');
    python('np.save(args, np.random.default_rng(5).normal(0, 1, (2500, 10, 100)))\nprint(1)', path);
    const stateDir = join(tmp.path, 'state-default-workers');
    const first = await runLocal(path, { analysis: 'sum', workers: 1, stateDir });
    expect(first.slices).toBeGreaterThan(4);
    const again = await runLocal(path, { analysis: 'sum', workers: 2, stateDir });
    expect(again.job).toBe(first.job);
    expect(again.resumedSlices).toBe(first.slices);
    expect(again.result).toEqual(first.result);
  });
});

describe('runLocal over a state dir of an earlier version', () => {
  it('resumes a job whose manifest is the bare spec earlier versions wrote, and leaves that manifest alone', async () => {
    const path = join(tmp.path, 'earlier.csv');
    writeFileSync(path, Array.from({ length: 5000 }, (_, i) => `${i},${i * 0.25}`).join('\n') + '\n');
    const stateDir = join(tmp.path, 'state-earlier');
    const first = await runLocal(path, { analysis: 'sum', workers: 1, slices: 8, stateDir });
    const manifestPath = join(stateDir, 'jobs', first.job, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { version: number; spec: { id: string }; createdAt: number };
    expect(manifest).toMatchObject({ version: 1, spec: { id: first.job }, createdAt: expect.any(Number) });

    // As versions before one manifest shape left it: the spec alone.
    const bare = JSON.stringify(manifest.spec, null, 2);
    writeFileSync(manifestPath, bare);
    const again = await runLocal(path, { analysis: 'sum', workers: 1, slices: 8, stateDir });
    expect(again.job).toBe(first.job);
    expect(again.resumedSlices).toBe(8);
    expect(again.result).toEqual(first.result);
    expect(readFileSync(manifestPath, 'utf8')).toBe(bare);
  });
});
