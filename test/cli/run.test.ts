/** `fanout run` as a user runs it: a real process, its exit code, stdout and stderr. */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, fanout, ROOT, runJson, tempDir } from '../helpers/cli.ts';
import { python } from '../helpers/python.ts';
import { committedSlices } from '../helpers/state-dir.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const state = (name: string) => ['--state-dir', join(tmp.path, `state-${name}`)];

describe('fanout run', () => {
  const csv = join(tmp.path, 'data.csv');
  writeFileSync(csv, 'x,y\n1.5,2\n3,4.25\n');

  it('prints the result document with --json and nothing else on stdout', () => {
    const r = fanout(['run', csv, '--skip-header', '--analysis', 'stats', '--json', ...state('json')]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc)).toEqual(expect.arrayContaining(['analysis', 'input', 'slices', 'records', 'skipped', 'elapsedMs', 'result', 'resumedSlices']));
    expect(doc.input).toMatchObject({ path: csv, bytes: 17 });
    expect(doc.records).toBe(2);
    expect(doc.result.columns[0]).toEqual({ count: 2, sum: 4.5, mean: 2.25, min: 1.5, max: 3, std: 0.75 });
  });

  it('writes the document to --out and prints a human summary without --json', () => {
    const out = join(tmp.path, 'out.json');
    const r = fanout(['run', csv, '--skip-header', '--out', out, ...state('out')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sum of .*data\.csv: 17 B text, 2 records, \d+ slices?/);
    expect(r.stdout).toContain('count 4  sum 10.75  mean 2.6875');
    expect(JSON.parse(readFileSync(out, 'utf8')).result).toEqual({ count: 4, sum: 10.75, mean: 2.6875 });
  });

  it('shows progress on stderr with --progress, and none with --quiet', () => {
    const withProgress = fanout(['run', csv, '--skip-header', '--progress', ...state('p1')]);
    expect(withProgress.stderr).toMatch(/\[#+\] 1\/1 slices .*\/s {2}ETA 0:00/);
    const quiet = fanout(['run', csv, '--skip-header', '--quiet', '--progress', ...state('p2')]);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toBe('');
  });

  it.each([
    ['a malformed number', '1,2\n3,4x\n', [], /bad\.csv: at byte 6: not a number: "4x"/],
    ['a trailing incomplete frame', '1,2\n3,4\n5,6\n', ['--analysis', 'row-sums', '--frame-rows', '2'], /bad\.csv: at byte 8: the last frame is incomplete/],
    ['row-sums without frames', '1,2\n', ['--analysis', 'row-sums'], /pass --frame-rows N/],
    ['an unknown option', '1\n', ['--frobnicate'], /^fanout: unknown option '--frobnicate'\n$/],
    ['a negative --slices', '1\n', ['--slices', '-3'], /^fanout: --slices takes an integer of at least 1, not "-3"\n$/],
    ['an unknown analysis', '1\n', ['--analysis', 'median'], /unknown analysis "median"/],
    ['a bad --slices', '1\n', ['--slices', '0'], /--slices takes an integer of at least 1/],
  ])('exits 2 with a clear message on %s', (name, content, args, message) => {
    const path = join(tmp.path, 'bad.csv');
    writeFileSync(path, content);
    const r = fanout(['run', path, ...args, ...state(`bad-${name}`)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('exits 2 on a missing file and on a truncated .npy, naming the file', () => {
    const missing = fanout(['run', join(tmp.path, 'nope.csv'), ...state('missing')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.csv: no such file/);
    const npy = join(tmp.path, 'cut.npy');
    python('import io\nb = io.BytesIO()\nnp.save(b, np.ones((100, 10)))\nopen(args, "wb").write(b.getvalue()[:1000])\nprint(1)', npy);
    const r = fanout(['run', npy, ...state('cut')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cut\.npy: at byte 1000: truncated \.npy file/);
  });

  it('runs a user analysis module (examples/sum-of-squares.ts)', () => {
    const doc = runJson([csv, '--skip-header', '--analysis', join(ROOT, 'examples/sum-of-squares.ts'), ...state('custom')]);
    expect(doc.analysis).toBe('sum-of-squares');
    expect(doc.result).toEqual({ count: 2, sumOfSquares: [1.5 ** 2 + 9, 4 + 4.25 ** 2], rms: [Math.sqrt((1.5 ** 2 + 9) / 2), Math.sqrt((4 + 4.25 ** 2) / 2)] });
  });

  it('parses --slice-bytes with units and refuses --slices with it', () => {
    expect(runJson([csv, '--skip-header', '--slice-bytes', '4', ...state('sb')]).slices).toBe(5);
    expect(fanout(['run', csv, '--slices', '2', '--slice-bytes', '1K']).code).toBe(2);
  });
});

describe('resuming', () => {
  const big = join(tmp.path, 'big.npy');
  python('np.save(args, np.random.default_rng(1).normal(0, 1, (4000, 50, 100)))\nprint(1)', big);

  it('after kill -9, the same command scans only the missing slices and gives the same result', async () => {
    const dir = join(tmp.path, 'state-resume');
    const args = ['run', big, '--analysis', 'row-sums', '--slices', '400', '--workers', '1', '--state-dir', dir, '--json', '--quiet'];
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT });
    const partials = () => committedSlices(dir);
    // Kill it once some, but not all, slices are done.
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (partials() >= 20) {
          clearInterval(timer);
          child.kill('SIGKILL');
          resolve();
        }
      }, 20);
      child.on('exit', () => {
        clearInterval(timer);
        reject(new Error('the run finished before it could be killed'));
      });
    });
    await new Promise((r) => child.on('close', r));
    const before = partials();
    expect(before).toBeGreaterThanOrEqual(20);
    expect(before).toBeLessThan(400);

    const resumed = fanout(args);
    expect(resumed.code).toBe(0);
    const doc = JSON.parse(resumed.stdout);
    expect(doc.resumedSlices).toBe(before);
    const fresh = runJson([big, '--analysis', 'row-sums', '--slices', '7', ...state('fresh')]);
    expect(doc.result).toEqual(fresh.result);
  });

  it('a changed input starts a new job', () => {
    const path = join(tmp.path, 'changing.csv');
    writeFileSync(path, '1\n2\n');
    const first = runJson([path, ...state('changing')]);
    expect(runJson([path, ...state('changing')]).resumedSlices).toBe(1);
    writeFileSync(path, '1\n2\n3\n');
    const second = runJson([path, ...state('changing')]);
    expect(second.job).not.toBe(first.job);
    expect(second.resumedSlices).toBe(0);
    expect(second.result).toEqual({ count: 3, sum: 6, mean: 2 });
  });
});
