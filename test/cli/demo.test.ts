/** `fanout demo` (npm run demo, the README's first command): writes the sample once, runs row-sums, resumes on a rerun. */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fanout, tempDir } from '../helpers/cli.ts';

const tmp = tempDir('fanout-demo-');
afterAll(() => tmp.cleanup());

describe('fanout demo', () => {
  it('writes the sample trajectory, runs row-sums over it, and on a second run says it reuses both', () => {
    const args = ['demo', '--frames', '40', '--workers', '2', '--state-dir', join(tmp.path, 'state')];
    const first = fanout(args);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('Writing a sample trajectory (40 frames of 50 x 100 float64) to ');
    expect(first.stdout).toMatch(/^row-sums of .*trajectory-40x50x100\.npy: .* \(40 x 50 x 100\), 40 records, /);
    expect(first.stdout).toContain('40 frames of 50 rows; mean over frames of each row\'s sum:');
    const again = fanout(args);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toContain('Writing');
    expect(again.stderr).toContain('Using the sample trajectory written before: ');
    expect(again.stdout).toMatch(/ \(\d+ resumed\)/);
    expect(again.stdout.split('\n').slice(1)).toEqual(first.stdout.split('\n').slice(1));
  });
});
