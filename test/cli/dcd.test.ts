import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fanout, runJson, tempDir } from '../helpers/cli.ts';
import { randomCoords, writeCoordsNpy, writeDcd } from '../helpers/dcd.ts';
import { describeMd, mdFile } from '../helpers/md.ts';
import { python } from '../helpers/python.ts';
import { statePartials } from '../helpers/state-dir.ts';

const tmp = tempDir('fanout-cli-dcd-');
afterAll(() => tmp.cleanup());

/** numpy's view of a DCD with the header size and cell flag the data README states. */
const ORACLE = `
raw = np.fromfile(args['path'], dtype=args.get('dtype', '<f4'), offset=args['header']).astype('<f4') if args['header'] else None
if args.get('npy'):
    d = np.load(args['npy']).astype(np.float64)
else:
    n, o = args['natom'], (14 if args['cell'] else 0)
    raw = raw.reshape(-1, o + 3 * (n + 2))
    d = np.stack([raw[:, o + 1:o + 1 + n], raw[:, o + n + 3:o + 2 * n + 3], raw[:, o + 2 * n + 5:o + 3 * n + 5]], -1).astype(np.float64)
F = d.shape[0]
c = d - d.mean(axis=1, keepdims=True)
print(json.dumps({'frames': F, 'mean': [[math.fsum(d[:, i, k]) / F for k in range(3)] for i in range(d.shape[1])], 'rg': np.sqrt((c ** 2).sum(axis=2).mean(axis=1)).tolist(), 'sum': math.fsum(d.ravel())}))`;

interface Oracle {
  frames: number;
  mean: number[][];
  rg: number[];
  sum: number;
}

function expectRg(got: number[], want: number[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((v, f) => expect(Math.abs(v - want[f]!)).toBeLessThan(1e-12 * want[f]!));
}

describeMd('fanout run on the real DCD trajectories', () => {
  let adk: Oracle;
  let c36: Oracle;
  beforeAll(() => {
    adk = python<Oracle>(ORACLE, { path: mdFile('adk_dims.dcd'), header: 356, natom: 3341, cell: false });
    c36 = python<Oracle>(ORACLE, { path: mdFile('tip125_tric_C36.dcd'), header: 596, natom: 375, cell: true });
  });

  it.each([
    [1, 1],
    [13, 2],
  ])('gives the exact mean structure and numpy rg of adk_dims.dcd with --slices %i --workers %i', (slices, workers) => {
    const args = [mdFile('adk_dims.dcd'), '--slices', String(slices), '--workers', String(workers), '--state-dir', join(tmp.path, 'state')];
    const mean = runJson([...args, '--analysis', 'mean-structure']);
    expect(mean.result).toMatchObject({ frames: 98, atoms: 3341 });
    expect(mean.result.mean).toEqual(adk.mean);
    expect(mean.records).toBe(98);
    expect((mean.trajectory as { warnings: string[] }).warnings[0]).toMatch(/500 frames \(NSET\).*holds 98/);
    const rg = runJson([...args, '--analysis', 'rg']);
    expectRg(rg.result.rg as number[], adk.rg);
  });

  it('carries the first and last box of tip125_tric_C36.dcd in the result', () => {
    const doc = runJson([mdFile('tip125_tric_C36.dcd'), '--analysis', 'rg', '--slices', '4', '--workers', '2', '--state-dir', join(tmp.path, 'state')]);
    expectRg(doc.result.rg as number[], c36.rg);
    const box = doc.result.box as { first: Record<string, number>; last: Record<string, number> };
    const first = [box.first.a, box.first.b, box.first.c, box.first.alpha, box.first.beta, box.first.gamma];
    const last = [box.last.a, box.last.b, box.last.c, box.last.alpha, box.last.beta, box.last.gamma];
    [35.44604, 35.06156, 34.1585, 91.32802, 61.73521, 44.40703].forEach((v, i) => expect(first[i]).toBeCloseTo(v, 4));
    [31.99748, 30.21518, 35.24292, 95.85821, 71.08429, 31.85939].forEach((v, i) => expect(last[i]).toBeCloseTo(v, 4));
  });

  it('prints the NSET warning and the mean structure in the summary', () => {
    const r = fanout(['run', mdFile('adk_dims.dcd'), '--analysis', 'mean-structure', '--workers', '1', '--state-dir', join(tmp.path, 'state')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/warning: the header says 500 frames/);
    expect(r.stdout).toMatch(/mean structure of 98 frames, 3341 atoms/);
  });

});

describe('fanout run on DCD trajectories', () => {
  it('streams a 100,000-frame trajectory: exact means, rg in frame order, each slice holding only its own series', () => {
    const frames = 100_000;
    const atoms = 4;
    const d = { atoms, coords: randomCoords(frames, atoms, 42), littleEndian: false, cells: Array.from({ length: frames }, (_, f) => [40 + f * 1e-4, 0, 40, 0, 0, 40]) };
    const dcd = join(tmp.path, 'long.dcd');
    const npy = join(tmp.path, 'long.npy');
    writeDcd(dcd, d);
    writeCoordsNpy(npy, d);
    const want = python<Oracle>(ORACLE, { npy, header: 0 });
    const state = join(tmp.path, 'long-state');
    const args = [dcd, '--slices', '16', '--workers', '2', '--state-dir', state];
    const mean = runJson([...args, '--analysis', 'mean-structure']);
    expect(mean.result.mean).toEqual(want.mean);
    const rg = runJson([...args, '--analysis', 'rg']);
    expectRg(rg.result.rg as number[], want.rg);
    expect(rg.result.frames).toBe(frames);
    // A partial covers one slice or a run of consecutive slices, and holds their frames' series only.
    const ps = statePartials(state, rg.job as string);
    expect(ps.reduce((a, p) => a + (p.slices ?? 1), 0)).toBe(16);
    expect(ps.reduce((a, p) => a + (p.state as { rg: number[] }).rg.length, 0)).toBe(frames);
    for (const p of ps) expect((p.state as { rg: number[] }).rg.length).toBeLessThanOrEqual(Math.ceil(frames / 16) * (p.slices ?? 1));
    expect(runJson([...args, '--analysis', 'sum']).result.sum).toBe(want.sum);
  });

  it('reads --format dcd whatever the file is called, and fails on a corrupted frame with exit code 2 and the byte offset', () => {
    const d = { atoms: 3, coords: randomCoords(20, 3, 7) };
    const good = join(tmp.path, 'frames.bin');
    const bytes = writeDcd(good, d);
    expect(runJson([good, '--format', 'dcd', '--workers', '1', '--state-dir', join(tmp.path, 'state')]).input).toMatchObject({ format: 'dcd', shape: [20, 3, 3] });
    const bad = join(tmp.path, 'bad.dcd');
    const at = bytes.length - 4;
    const broken = bytes.slice();
    new DataView(broken.buffer).setInt32(at, 99, true);
    writeFileSync(bad, broken);
    const r = fanout(['run', bad, '--slices', '3', '--workers', '2', '--state-dir', join(tmp.path, 'state')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`at byte ${at}: corrupted DCD record marker in frame 19 (Z): 99, expected 12`);
  });
});
