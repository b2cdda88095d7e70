/** `fanout plan` against what a run actually does. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJob } from '../../lib/cloud/coordinator.ts';
import { DEFAULT_MERGE_FAN_IN } from '../../lib/job/options.ts';
import { fanout, runJson, tempDir } from '../helpers/cli.ts';
import { encodeDcd, randomCoords } from '../helpers/dcd.ts';
import { python } from '../helpers/python.ts';
import { CountingStore, MemoryInputs } from '../cloud/fakes.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const csv = join(tmp.path, 'data.csv');
const npy = join(tmp.path, 'frames.npy');

beforeAll(() => {
  python(`rng = np.random.default_rng(3)
np.savetxt(${JSON.stringify(csv)}, rng.standard_normal((4000, 3)), delimiter=",")
np.save(${JSON.stringify(npy)}, rng.standard_normal((90, 4, 5)))
print("null")`);
});

function plan(args: string[]) {
  const r = fanout(['plan', ...args, '--json']);
  if (r.code !== 0) throw new Error(`fanout plan failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('fanout plan', () => {
  it.each([
    ['text, default slicing', csv, ['--workers', '2']],
    ['text, --slices', csv, ['--slices', '7']],
    ['text, --slice-bytes', csv, ['--slice-bytes', '10000']],
    ['npy frames, whole-frame analysis', npy, ['--slices', '8', '--analysis', 'row-sums']],
  ])('plans as many local slices as a run of the same options scans (%s)', (_, input, args) => {
    const p = plan([input, ...args]);
    const doc = runJson([input, ...args, '--state-dir', join(tmp.path, `state-${args.join('')}`)]);
    expect(p.local.slices).toBe(doc.slices);
    expect(p.input.bytes).toBe((doc.input as { bytes: number }).bytes);
    expect(p.local.totalBytes).toBeLessThanOrEqual(p.input.bytes);
  });

  it('plans as many cloud slices as the coordinator starts for the same slice size', async () => {
    const p = plan([csv, '--slice-bytes', '8KiB']);
    const store = new CountingStore();
    const inputs = new MemoryInputs();
    inputs.add('b', 'input/data.csv', readFileSync(csv));
    const invoked: number[] = [];
    const start = await startJob(
      { store, inputs, invoker: { invoke: async (t) => void invoked.push(t.index) }, defaults: { sliceBytes: 8192 }, fanin: DEFAULT_MERGE_FAN_IN },
      { bucket: 'b', key: 'input/data.csv' },
    );
    expect(start).toMatchObject({ outcome: 'started', slices: p.cloud.slices });
    expect(invoked).toHaveLength(p.cloud.invocations.workers);
  });

  it('plans a size without a file, and prices it in the region asked for', () => {
    const p = plan(['--bytes', '1G', '--region', 'eu-central-1', '--memory', '2048']);
    // 64 MiB slices by default on AWS
    expect(p.cloud.slices).toBe(16);
    expect(p.cloud.memoryMb).toBe(2048);
    expect(p.cloud.cost).toMatchObject({ region: 'eu-central-1', pricesKnown: true });
    // the slices' groups (merged by their workers), then the result's
    expect(p.cloud.levels).toEqual([16, 1]);
  });

  it('prints a readable plan without --json', () => {
    const r = fanout(['plan', csv, '--slices', '3']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Local \(fanout run, \d+ worker threads?\): 3 slices/);
    expect(r.stdout).toMatch(/estimated cost {3}\$/);
  });

  it('plans a trajectory in parts as run runs it: one job, its slices across the parts', () => {
    const atoms = 7;
    const frameBytes = 3 * (atoms * 4 + 8);
    const parts = [5, 1, 9].map((frames, i) => {
      const path = join(tmp.path, `part${i + 1}.dcd`);
      writeFileSync(path, encodeDcd({ atoms, coords: randomCoords(frames, atoms, i + 1) }));
      return { path, frames, bytes: readFileSync(path).length };
    });
    const paths = parts.map((p) => p.path);
    for (const slices of ['1', '4', '15']) {
      const p = plan([...paths, '--analysis', 'rg', '--slices', slices]);
      const doc = runJson([...paths, '--analysis', 'rg', '--slices', slices, '--state-dir', join(tmp.path, 'state-parts')]);
      expect(p.input).toMatchObject({ bytes: parts.reduce((n, q) => n + q.bytes, 0), format: 'dcd', shape: [15, atoms, 3], parts: parts.map((q) => ({ path: q.path, bytes: q.bytes })) });
      expect(p.local.slices).toBe(doc.slices);
      // every frame's bytes in the slices (and the headers of later parts where a slice runs across them), never the first part's header
      expect(p.local.totalBytes).toBeGreaterThanOrEqual(15 * frameBytes);
      expect(p.local.totalBytes).toBeLessThanOrEqual(p.input.bytes - (parts[0]!.bytes - 5 * frameBytes));
      // which slices hold frames of each part: in order, every slice in one part at least
      const ranges = p.local.parts as { path: string; slices: [number, number] }[];
      expect(ranges.map((r) => r.path)).toEqual(paths);
      expect(ranges[0]!.slices[0]).toBe(0);
      expect(ranges[2]!.slices[1]).toBe(p.local.slices - 1);
      for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.slices[0]).toBeGreaterThanOrEqual(ranges[i - 1]!.slices[1]);
    }
    // one frame a slice: part i's slices are its frames
    expect(plan([...paths, '--analysis', 'rg', '--slices', '15']).local.parts.map((r: { slices: number[] }) => r.slices)).toEqual([
      [0, 4],
      [5, 5],
      [6, 14],
    ]);
    const text = fanout(['plan', ...paths, '--analysis', 'rg', '--slices', '4']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/rg of .*part1\.dcd \(\+2 more parts\): .* dcd \(15 x 7 x 3\)/);
    for (const q of paths) expect(text.stdout).toContain(q);
    // what run refuses, plan refuses: parts on S3 on the command line, text in parts
    const s3 = fanout(['plan', 's3://bucket/a.dcd', paths[0]!]);
    expect(s3.code).toBe(2);
    expect(s3.stderr).toMatch(/an input in parts is read from local files only/);
    const textParts = fanout(['plan', csv, csv]);
    expect(textParts.code).toBe(2);
    expect(textParts.stderr).toMatch(/make one job only as trajectories/);
  });

  it('exits 2 on a bad --fanin and on a missing input', () => {
    const bad = fanout(['plan', csv, '--fanin', '1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--fanin takes an integer from 2 to 1000/);
    const none = fanout(['plan']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/an input file \(or the parts of one trajectory\), an s3:\/\/ object, or --bytes N/);
  });
});
