/**
 * A result too large to inline (mean-structure of many atoms, row-sums of long frames): a
 * .npy file beside result.json (and beside --out FILE), which numpy loads and which equals
 * math.fsum's oracle bit for bit, whatever the slicing and the workers.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESULT_INLINE_MAX } from '../../lib/core/result-array.ts';
import { buildModel, locateJob } from '../../lib/report/index.ts';
import { fanout, runJson, tempDir } from '../helpers/cli.ts';
import { python } from '../helpers/python.ts';

const tmp = tempDir('fanout-big-result-');
afterAll(() => tmp.cleanup());

const ATOMS = 90_000;
const FRAMES = 7;

/**
 * float32 frames whose cells spread their exponents adversarially: whole-range values
 * (2^-149 to 2^127), sums that cancel to a few ulps, subnormals, values 2^100 apart in one
 * cell, ordinary coordinates; one kind per atom, in a pattern.
 */
const WRITE = `
rng = np.random.default_rng(11)
F, A = args['frames'], args['atoms']
kind = np.arange(A) % 5
x = rng.normal(0, 30, (F, A, 3))
e = rng.integers(-140, 120, (F, A, 3)).astype(float)
whole = rng.uniform(1, 2, (F, A, 3)) * np.exp2(e) * rng.choice([-1, 1], (F, A, 3))
x[:, kind == 1] = whole[:, kind == 1]
big = rng.uniform(1, 2, (F, A, 3)) * 2.0 ** 60
x[:, kind == 2] = np.where(np.arange(F)[:, None, None] % 2 == 0, big, -big * (1 + 2.0 ** -20))[:, kind == 2]
x[:, kind == 3] = (rng.integers(-2**20, 2**20, (F, A, 3)) * 2.0 ** -149)[:, kind == 3]
x[:, kind == 4] = (rng.uniform(1, 2, (F, A, 3)) * np.where(rng.random((F, A, 3)) < 0.5, 2.0 ** 50, 2.0 ** -50))[:, kind == 4]
np.save(args['path'], x.astype('<f4'))
print(1)
`;

/** math.fsum over frames of every cell (as float64), divided by the frame count, compared with the .npy at `got` bit for bit. */
const CHECK = `
d = np.load(args['input']).astype(np.float64)
got = np.load(args['got'])
F = d.shape[0]
want = np.array([math.fsum(col) / F for col in d.reshape(F, -1).T]).reshape(d.shape[1:])
print(json.dumps({"shape": list(got.shape), "dtype": got.dtype.str, "same": got.tobytes() == want.tobytes(), "differ": int((got.view(np.int64) != want.view(np.int64)).sum())}))
`;

describe('a large result: a .npy file beside the result document', () => {
  const input = join(tmp.path, 'atoms.npy');
  beforeAll(() => {
    python(WRITE, { path: input, frames: FRAMES, atoms: ATOMS });
  });

  it('mean-structure of 90,000 atoms: result.json names a .npy that numpy loads, equal to math.fsum / frames for every cell, for any slicing and workers', () => {
    expect(ATOMS * 3).toBeGreaterThan(RESULT_INLINE_MAX);
    const files: string[] = [];
    for (const [slices, workers] of [[1, 1], [3, 2], [7, 2]] as const) {
      const state = join(tmp.path, `state-${slices}-${workers}`);
      const doc = runJson([input, '--analysis', 'mean-structure', '--slices', String(slices), '--workers', String(workers), '--state-dir', state]);
      const ref = doc.result.mean as { $npy: string; shape: number[]; dtype: string };
      expect(doc.result).toMatchObject({ frames: FRAMES, atoms: ATOMS });
      expect(ref).toEqual({ $npy: `${doc.job}.mean.npy`, shape: [ATOMS, 3], dtype: '<f8' });
      const file = join(state, 'jobs', doc.job as string, ref.$npy);
      expect(python(CHECK, { input, got: file })).toEqual({ shape: [ATOMS, 3], dtype: '<f8', same: true, differ: 0 });
      files.push(file);
    }
    const bytes = files.map((f) => readFileSync(f));
    for (const b of bytes) expect(b.equals(bytes[0]!)).toBe(true);
  });

  it('fanout report of such a job reads the .npy: the histogram of mean positions is drawn, from the job id and from the result.json path', async () => {
    const state = join(tmp.path, 'state-report');
    const doc = runJson([input, '--analysis', 'mean-structure', '--state-dir', state]);
    for (const target of [doc.job as string, join(state, 'jobs', doc.job as string, 'result.json')]) {
      const data = await locateJob(target, { stateDir: state });
      const model = buildModel(data);
      expect(model.histogram?.values.length).toBe(ATOMS);
    }
  });

  it('writes the arrays beside --out FILE too, and the summary says where they are', () => {
    const state = join(tmp.path, 'state-out');
    const out = join(tmp.path, 'out', 'r.json');
    mkdirSync(join(tmp.path, 'out'));
    const r = fanout(['run', input, '--analysis', 'mean-structure', '--state-dir', state, '--out', out]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    const name = doc.result.mean.$npy as string;
    expect(existsSync(join(tmp.path, 'out', name))).toBe(true);
    expect(r.stdout).toContain(`arrays as .npy files in ${join(tmp.path, 'out')}: ${name}`);
    expect(python(CHECK, { input, got: join(tmp.path, 'out', name) })).toMatchObject({ same: true });
  });

  it('row-sums of frames of more rows than the threshold: rowSums and rowMeans as .npy files; a small result stays inline', () => {
    const rows = join(tmp.path, 'rows.npy');
    python('np.save(args, np.random.default_rng(3).normal(0, 1, (3, 262145, 2)))\nprint(1)', rows);
    const doc = runJson([rows, '--analysis', 'row-sums', '--slices', '2', '--state-dir', join(tmp.path, 'state-rows')]);
    const dir = join(tmp.path, 'state-rows', 'jobs', doc.job as string);
    const check = python<boolean[]>(
      `d = np.load(args['input'])\nsums = np.array([math.fsum(d[:, i, :].ravel()) for i in range(d.shape[1])])\nprint(json.dumps([np.load(args['sums']).tobytes() == sums.tobytes(), np.load(args['means']).tobytes() == (sums / d.shape[0]).tobytes()]))`,
      { input: rows, sums: join(dir, `${doc.job}.rowSums.npy`), means: join(dir, `${doc.job}.rowMeans.npy`) },
    );
    expect(check).toEqual([true, true]);
    const small = runJson([input, '--analysis', 'row-sums', '--frame-rows', '10000', '--state-dir', join(tmp.path, 'state-small')]);
    expect(Array.isArray(small.result.rowSums)).toBe(true);
  });
});
