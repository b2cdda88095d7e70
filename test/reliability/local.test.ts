/**
 * The embedded runtime (`fanout run`): killed with SIGKILL at random moments then run
 * again, and its input overwritten while it runs.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SourceChangedError } from '../../lib/core/errors.ts';
import { runLocal } from '../../lib/local/run.ts';
import { BIN, fanout, ROOT, tempDir } from '../helpers/cli.ts';
import { python } from '../helpers/python.ts';
import { committedSlices } from '../helpers/state-dir.ts';

const tmp = tempDir('fanout-rel-local-');
afterAll(() => tmp.cleanup());

/** A small seeded generator, so a failing trial can be replayed from its printed seed. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

function resultFiles(dir: string): string[] {
  const jobs = join(dir, 'jobs');
  if (!existsSync(jobs)) return [];
  return readdirSync(jobs).filter((id) => existsSync(join(jobs, id, 'result.json')));
}

describe('kill -9 of fanout run', () => {
  const big = join(tmp.path, 'traj.npy');
  python('np.save(args, np.random.default_rng(51).normal(0, 1, (300, 20, 50)))\nprint(1)', big);
  const want = python<number[]>('a = np.load(args)\nprint(json.dumps([math.fsum(a[:, i, :].ravel().tolist()) for i in range(a.shape[1])]))', big);

  it('at 5 random moments of the scan, then a rerun: the same result every time, equal to math.fsum', async () => {
    const args = (dir: string) => ['run', big, '--analysis', 'row-sums', '--slices', '60', '--workers', '1', '--state-dir', dir, '--json', '--quiet'];
    const t0 = performance.now();
    const clean = fanout(args(join(tmp.path, 'clean')));
    const cleanMs = performance.now() - t0;
    expect(clean.code, clean.stderr).toBe(0);
    const cleanResult = JSON.parse(clean.stdout).result as { rowSums: number[] };
    expect(cleanResult.rowSums).toEqual(want);

    const seed = 20261125;
    const random = lcg(seed);
    const trials: string[] = [];
    for (let trial = 0; trial < 5; trial++) {
      const dir = join(tmp.path, `killed-${trial}`);
      // A random moment of the scan: once partials cover a random number of slices.
      const target = 1 + Math.floor(random() * 58);
      const child = spawn(process.execPath, [BIN, ...args(dir)], { cwd: ROOT, stdio: 'ignore' });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
      const timer = setInterval(() => {
        if (committedSlices(dir) >= target) child.kill('SIGKILL');
      }, 5);
      const exit = await exited;
      clearInterval(timer);
      const left = committedSlices(dir);
      const rerun = fanout(args(dir));
      expect(rerun.code, rerun.stderr).toBe(0);
      const doc = JSON.parse(rerun.stdout);
      expect(doc.result).toEqual(cleanResult);
      expect(doc.resumedSlices).toBe(left);
      trials.push(`at ${target} slices -> ${exit.signal ?? `exit ${exit.code}`} with ${left}, rerun resumed ${doc.resumedSlices}/60`);
    }
    console.log(`kill -9 (seed ${seed}, clean run ${cleanMs.toFixed(0)} ms): ${trials.join('; ')}`);
  });
});

describe('the input overwritten while fanout run reads it', () => {
  const make = (seed: number, n: number) =>
    python<{ text: string; fsum: number }>(`rng = np.random.default_rng(${seed})
a = rng.standard_normal(${n}) * 10.0 ** rng.integers(-6, 7, ${n})
print(json.dumps({"text": "".join(repr(float(x)) + "\\n" for x in a), "fsum": math.fsum(a.tolist())}))`);
  const v1 = make(61, 20000);
  const v2 = make(62, 20000);

  it.each([1, 2])('fails as "source changed" with no result, and a rerun gives the new content\'s sum (workers: %i)', async (workers) => {
    const path = join(tmp.path, `changing-${workers}.txt`);
    const stateDir = join(tmp.path, `state-changing-${workers}`);
    writeFileSync(path, v1.text);
    let overwritten = false;
    const run = runLocal(path, {
      analysis: 'sum',
      workers,
      slices: 40,
      stateDir,
      onProgress: (p) => {
        // Rewritten in place (same inode) after a few slices: later reads see the new bytes.
        if (!overwritten && p.slicesDone >= 3) {
          overwritten = true;
          writeFileSync(path, v2.text);
        }
      },
    });
    await expect(run).rejects.toThrow(SourceChangedError);
    expect(overwritten).toBe(true);
    expect(resultFiles(stateDir)).toEqual([]);
    const doc = await runLocal(path, { analysis: 'sum', workers, slices: 40, stateDir });
    expect((doc.result as { sum: number }).sum).toBe(v2.fsum);
    expect(doc.resumedSlices).toBe(0);
    expect(resultFiles(stateDir)).toEqual([doc.job]);
  });
});
