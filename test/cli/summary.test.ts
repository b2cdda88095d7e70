/** The human summary printed without --json: what a first-time user reads. */
import { describe, expect, it } from 'vitest';
import type { ResultDocument } from '../../lib/core/job.ts';
import { summarize } from '../../lib/cli/summary.ts';
import { ResultArray } from '../../lib/core/result-array.ts';

const box = { a: 35.44, b: 35.06, c: 34.16, alpha: 91.3, beta: 61.7, gamma: 44.4 };

function doc(over: Partial<ResultDocument>): ResultDocument {
  return {
    analysis: 'sum',
    job: '0123456789abcdef0123',
    input: { path: 'data.csv', bytes: 17, format: 'text' },
    slices: 16,
    records: 2,
    skipped: 0,
    resumedSlices: 0,
    elapsedMs: 20,
    result: { count: 4, sum: 10.75, mean: 2.6875 },
    ...over,
  };
}

const xtc = (analysis: string, result: unknown): ResultDocument =>
  doc({
    analysis,
    input: { path: 'md.xtc', bytes: 1651716, format: 'xtc' },
    slices: 2,
    records: 10,
    trajectory: { format: 'xtc', atoms: 47681, lengthUnit: 'Å', storedLengthUnit: 'nm', warnings: [] } as unknown as ResultDocument['trajectory'],
    result,
  });

describe('summary', () => {
  it('says 1 slice and 1 record, not 1 slices', () => {
    const first = summarize(doc({ slices: 1, records: 1 })).split('\n')[0];
    expect(first).toMatch(/, 1 record, 1 slice, /);
  });

  it('names the job, so that fanout report can be given it', () => {
    expect(summarize(doc({})).split('\n')[0]).toMatch(/, job 0123456789abcdef0123$/);
  });

  it('gives a trajectory without a shape (XTC, TRR) its frames and atoms, and counts frames, not records', () => {
    const first = summarize(xtc('rg', { frames: 10, rg: [], mean: 1, min: 1, max: 1 })).split('\n')[0];
    expect(first).toContain('md.xtc: 1.7 MB xtc (10 x 47681 x 3), 10 frames, 2 slices');
  });

  it('prints rmsd as a summary in Å, not as raw JSON', () => {
    const out = summarize(xtc('rmsd', { frames: 10, rmsd: [0, 2.5, 4.2], mean: 4.8367, min: 0, max: 7.1682, box: { first: box, last: box } }));
    expect(out).toContain('RMSD after superposition on the reference, over 10 frames (Å): mean 4.8367  min 0  max 7.1682 (per frame: --json)');
    expect(out).toContain('box (first frame): a 35.44');
    expect(out).not.toContain('{');
  });

  it('prints rmsf per atom, numbered by atom index of the measured selection, not as raw JSON', () => {
    const rmsf = Array.from({ length: 12 }, (_, i) => 1 + i / 8);
    const out = summarize(
      xtc('rmsf', {
        frames: 10,
        atoms: 12,
        rmsf,
        selection: { atoms: { count: 12, ranges: '100-111' }, fitAtoms: { count: 3, ranges: '0-2' } },
        box: { first: box, last: box },
      }),
    );
    expect(out).toContain('RMSF of 12 atoms over 10 frames (Å), after fitting every frame to the average structure: mean 1.6875  min 1 (atom 100)  max 2.375 (atom 111)');
    expect(out).toMatch(/\n {3}100: 1 {11}/);
    expect(out).toContain('... 2 more atoms (use --json or --out for all)');
    expect(out).not.toContain('{');
  });

  it('prints a large rmsf kept in a .npy file (a ResultArray) the same way, pointing to the file', () => {
    const values = Float64Array.from({ length: 12 }, (_, i) => 1 + i / 8);
    const rmsf = new ResultArray(values, [12]);
    rmsf.file = 'job.rmsf.npy';
    const out = summarize(xtc('rmsf', { frames: 10, atoms: 12, rmsf }), '/state/jobs/x');
    expect(out).toContain('mean 1.6875  min 1 (atom 0)  max 2.375 (atom 11)');
    expect(out).toContain('arrays as .npy files in /state/jobs/x: job.rmsf.npy');
    expect(out).toContain('... 2 more atoms (all of them in the .npy file)');
  });
});
