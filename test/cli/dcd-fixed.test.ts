/**
 * DCD with fixed atoms (NAMNF > 0), as CHARMM writes them: frame 0 holds every atom, later
 * frames only the free ones, and the fixed atoms keep frame 0's coordinates. Checked against
 * MDAnalysis's DCDReader (libdcd) on files the test writes, at every slicing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fanout, runJson, tempDir } from '../helpers/cli.ts';
import { encodeDcd, randomCoords, type SyntheticDcd } from '../helpers/dcd.ts';
import { mdaMissing, mdaPython, missing, skipNote } from '../helpers/md.ts';

const tmp = tempDir('fanout-cli-dcd-fixed-');
afterAll(() => tmp.cleanup());

interface Oracle {
  frames: number;
  mean: number[][];
  rg: number[];
  /** RMSD of every frame to frame 3 after superposition (MDAnalysis.analysis.rms.rmsd) */
  rmsd: number[];
  box: { first: number[]; last: number[] } | null;
}

/** What MDAnalysis reads from the DCD, reduced by math.fsum and numpy. */
function mdaDcd(path: string): Oracle {
  return mdaPython<Oracle>(
    `
from MDAnalysis.coordinates.DCD import DCDReader
from MDAnalysis.analysis.rms import rmsd
r = DCDReader(args)
dims = [None if ts.dimensions is None else [float(v) for v in ts.dimensions] for ts in r]
x = np.array([ts.positions.copy() for ts in r]).astype(np.float64)
F = x.shape[0]
c = x - x.mean(axis=1, keepdims=True)
print(json.dumps({'frames': F, 'mean': [[math.fsum(x[:, i, k]) / F for k in range(3)] for i in range(x.shape[1])],
  'rg': np.sqrt((c ** 2).sum(axis=2).mean(axis=1)).tolist(),
  'rmsd': [float(rmsd(x[f], x[3], center=True, superposition=True)) for f in range(F)],
  'box': None if dims[0] is None else {'first': dims[0], 'last': dims[-1]}}))`,
    path,
  );
}

const ATOMS = 10;
const FREE = [1, 3, 4, 7, 9];

function fixedDcd(name: string, change: Partial<SyntheticDcd> = {}): { path: string; bytes: Uint8Array } {
  const frames = 13;
  const cells = Array.from({ length: frames }, (_, f) => [30 + 0.1 * f, 0, 31, 0, 0, 32]);
  const bytes = encodeDcd({ atoms: ATOMS, coords: randomCoords(frames, ATOMS, 7), cells, charmmVersion: 37, freeAtoms: FREE, ...change });
  const path = join(tmp.path, name);
  writeFileSync(path, bytes);
  return { path, bytes };
}

describe('DCD with fixed atoms', () => {
  it.skipIf(missing(mdaMissing)).each([
    ['little-endian, with a unit cell', {}],
    ['big-endian, without a unit cell', { littleEndian: false, cells: undefined }],
  ] as [string, Partial<SyntheticDcd>][])(skipNote('%s: the frames MDAnalysis reads (fixed atoms at their frame-0 place), at 1 to 13 slices on 1 and 2 workers', mdaMissing), (label, change) => {
    if (mdaMissing) return;
    const { path } = fixedDcd(`fixed-${label.slice(0, 3)}.dcd`, change);
    const want = mdaDcd(path);
    expect(want.frames).toBe(13);
    for (const [slices, workers] of [
      [1, 1],
      [5, 2],
      [13, 2],
    ]) {
      const args = [path, '--slices', String(slices), '--workers', String(workers), '--state-dir', join(tmp.path, 'state')];
      const mean = runJson([...args, '--analysis', 'mean-structure']);
      expect(mean.records).toBe(13);
      expect(mean.result.mean, `${slices} slices`).toEqual(want.mean);
      expect(mean.input).toMatchObject({ format: 'dcd', shape: [13, ATOMS, 3] });
      expect(mean.trajectory).toMatchObject({ atoms: ATOMS, frames: 13, fixedAtoms: ATOMS - FREE.length });
      const box = mean.result.box as Record<'first' | 'last', Record<string, number>> | undefined;
      if (want.box) for (const end of ['first', 'last'] as const) ['a', 'b', 'c', 'alpha', 'beta', 'gamma'].forEach((k, i) => expect(box![end][k]!, `${end} ${k}`).toBeCloseTo(want.box![end][i]!, 4));
      else expect(box).toBeUndefined();
      const rg = runJson([...args, '--analysis', 'rg']).result.rg as number[];
      rg.forEach((v, f) => expect(Math.abs(v - want.rg[f]!), `rg of frame ${f}`).toBeLessThan(1e-12 * want.rg[f]!));
      // frame 3 as the reference: read by itself, in any slice
      const rmsd = runJson([...args, '--analysis', 'rmsd', '--option', 'ref-frame=3']).result.rmsd as number[];
      rmsd.forEach((v, f) => expect(Math.abs(v - want.rmsd[f]!), `rmsd of frame ${f}`).toBeLessThan(5e-6));
    }
  });

  it('a damaged frame names its offset; a truncated free-atom list or frame 0 too', () => {
    const { bytes } = fixedDcd('damage-base.dcd');
    const headerBytes = 92 + 4 + 80 * 2 + 8 + 12;
    const listAt = headerBytes;
    const frame0At = listAt + 8 + 4 * FREE.length;
    const frame0Bytes = 56 + 3 * (ATOMS * 4 + 8);
    const frameBytes = 56 + 3 * (FREE.length * 4 + 8);
    const cases: [string, (b: Uint8Array) => Uint8Array, number, RegExp][] = [
      ['a marker of frame 6', (b) => (new DataView(b.buffer).setInt32(frame0At + frame0Bytes + 5 * frameBytes + 56, 7, true), b), frame0At + frame0Bytes + 5 * frameBytes + 56, /corrupted DCD record marker in frame 6 \(X\): 7, expected 20/],
      ['a marker of frame 0', (b) => (new DataView(b.buffer).setInt32(frame0At + 56, 7, true), b), frame0At + 56, /corrupted DCD record marker in frame 0 \(X\): 7, expected 40/],
      ['the free-atom list marker', (b) => (new DataView(b.buffer).setInt32(listAt, 8, true), b), listAt, /free atom/],
      ['a free atom index', (b) => (new DataView(b.buffer).setInt32(listAt + 8, 11, true), b), listAt + 8, /free atom index 11/],
      ['a truncated last frame', (b) => b.subarray(0, b.length - 9), frame0At + frame0Bytes + 11 * frameBytes, /truncated last frame/],
    ];
    for (const [what, damage, offset, message] of cases) {
      const path = join(tmp.path, 'damaged.dcd');
      writeFileSync(path, damage(bytes.slice()));
      for (const slices of ['1', '13']) {
        const r = fanout(['run', path, '--analysis', 'mean-structure', '--slices', slices, '--state-dir', join(tmp.path, 'state')]);
        expect(r.code, `${what}: ${r.stderr}`).toBe(2);
        expect(r.stderr.trimEnd().split('\n'), what).toHaveLength(1);
        expect(r.stderr, what).toMatch(new RegExp(`^fanout: ${path}: at byte ${offset}: `));
        expect(r.stderr, what).toMatch(message);
      }
    }
  });
});
