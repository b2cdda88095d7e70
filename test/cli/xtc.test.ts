import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fanout, runJson, tempDir } from '../helpers/cli.ts';
import { MD_DATA, mdaMissing, mdaOracle, mdaPython, mdaWriteTrajectory, mdDataMissing, missing, skipNote } from '../helpers/md.ts';

const tmp = tempDir('fanout-cli-xtc-');
afterAll(() => tmp.cleanup());

const oracle = mdaOracle;

function expectRg(got: number[], want: number[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((v, f) => expect(Math.abs(v - want[f]!)).toBeLessThan(1e-12 * want[f]!));
}

describe('fanout run on XTC trajectories', () => {
  const lacking = [mdDataMissing, mdaMissing];
  it.skipIf(missing(...lacking)).each([
    [1, 1],
    [13, 2],
  ])(skipNote('adk_oplsaa.xtc --slices %i --workers %i: exact mean structure and numpy rg, in Å, nothing written beside the file', ...lacking), (slices, workers) => {
    if (lacking.some(Boolean)) return;
    const path = join(MD_DATA, 'adk_oplsaa.xtc');
    const want = oracle(path);
    const before = readdirSync(MD_DATA);
    const args = [path, '--slices', String(slices), '--workers', String(workers), '--state-dir', join(tmp.path, 'state')];
    const mean = runJson([...args, '--analysis', 'mean-structure']);
    expect(mean.input).toMatchObject({ format: 'xtc' });
    expect(mean.records).toBe(10);
    expect(mean.result).toMatchObject({ frames: 10, atoms: 47681 });
    expect(mean.result.mean).toEqual(want.mean);
    expect(mean.trajectory).toMatchObject({ format: 'xtc', atoms: 47681, lengthUnit: 'Å', storedLengthUnit: 'nm', precision: 1000, precisionMeaning: 'coordinates are stored rounded to multiples of 1/1000 nm (0.01 Å)', first: { step: 0, timePs: 0 }, last: { timePs: Math.fround(900.00006) } });
    const box = mean.result.box as { first: Record<string, number> };
    [80.017, 80.017, 80.017, 60, 60, 90].forEach((v, i) => expect([box.first.a, box.first.b, box.first.c, box.first.alpha, box.first.beta, box.first.gamma][i]).toBeCloseTo(v, 4));
    const rg = runJson([...args, '--analysis', 'rg']);
    expectRg(rg.result.rg as number[], want.rg);
    expect(readdirSync(MD_DATA)).toEqual(before);
  });

  it.skipIf(missing(mdaMissing))(skipNote('a 5000-frame XTC written by MDAnalysis: the same answer for 1, 7 and 4999 slices on 2 workers', mdaMissing), () => {
    if (mdaMissing) return;
    const path = join(tmp.path, 'long.xtc');
    mdaWriteTrajectory(path, 5000, 20, { seed: 5 });
    const want = oracle(path);
    for (const slices of [1, 7, 4999]) {
      const args = [path, '--slices', String(slices), '--workers', '2', '--state-dir', join(tmp.path, 'state')];
      const mean = runJson([...args, '--analysis', 'mean-structure']);
      expect(mean.result.mean).toEqual(want.mean);
      expect(mean.records).toBe(5000);
      expectRg(runJson([...args, '--analysis', 'rg']).result.rg as number[], want.rg);
    }
  });

  it.skipIf(missing(...lacking))(skipNote("adk_oplsaa.xtc's first frame: within half a float32 ulp of MDAnalysis's own Å (it converts in float32)", ...lacking), () => {
    if (lacking.some(Boolean)) return;
    // One frame: its mean structure is its coordinates, in Å.
    const path = join(tmp.path, 'one-frame.xtc');
    writeFileSync(path, readFileSync(join(MD_DATA, 'adk_oplsaa.xtc')).subarray(0, 165188));
    const ours = (runJson([path, '--analysis', 'mean-structure', '--state-dir', join(tmp.path, 'state')]).result.mean as number[][]).flat();
    const theirs = mdaPython<number[]>(
      `
import shutil, tempfile
d = tempfile.mkdtemp()
u = mda.coordinates.XTC.XTCReader(shutil.copy(args, d))
print(json.dumps(u[0].positions.astype(np.float64).ravel().tolist()))
shutil.rmtree(d)`,
      path,
    );
    expect(ours).toHaveLength(theirs.length);
    const halfUlp = (x: number) => {
      const f = new Float32Array([Math.abs(x)]);
      const bits = new Uint32Array(f.buffer);
      bits[0]! += 1;
      return (f[0]! - Math.abs(x)) / 2;
    };
    let differ = 0;
    ours.forEach((v, i) => {
      expect(Math.abs(v - theirs[i]!)).toBeLessThanOrEqual(halfUlp(theirs[i]!));
      if (v !== theirs[i]) differ++;
    });
    // MDAnalysis rounds x * 10 to float32; fanout keeps it exact in float64, so some values differ in the last bit.
    expect(differ).toBeGreaterThan(0);
  });

  it('gives lengths in Å, 10 times the nm the file stores, and says so in the summary', () => {
    // Two raw frames of 5 atoms (116 bytes each) at x = 0.25 nm and 0.75 nm, in a box of 3 nm.
    const frame = (x: number) => {
      const f = new Uint8Array(116);
      const v = new DataView(f.buffer);
      v.setInt32(0, 1995);
      v.setInt32(4, 5);
      for (const i of [0, 4, 8]) v.setFloat32(16 + 4 * i, 3);
      v.setInt32(52, 5);
      for (let a = 0; a < 5; a++) v.setFloat32(56 + 12 * a, x);
      return f;
    };
    const path = join(tmp.path, 'units.xtc');
    writeFileSync(path, Uint8Array.from([...frame(0.25), ...frame(0.75)]));
    const doc = runJson([path, '--analysis', 'mean-structure', '--state-dir', join(tmp.path, 'state')]);
    expect((doc.result.mean as number[][])[0]).toEqual([5, 0, 0]);
    expect((doc.result.box as { first: { a: number } }).first.a).toBe(30);
    expect(doc.trajectory).toMatchObject({ lengthUnit: 'Å', storedLengthUnit: 'nm', precision: null });
    const r = fanout(['run', path, '--analysis', 'mean-structure', '--state-dir', join(tmp.path, 'state')]);
    expect(r.stdout).toContain('lengths in Å (the file stores nm)');
  });

  it('resumes a mean-structure job whose slices hold no frame start on another worker count (their partials have empty binary fields)', () => {
    // Three raw frames of 5 atoms (116 bytes each) and 7 slices: most slices start no frame.
    const frame = (x: number) => {
      const f = new Uint8Array(116);
      const v = new DataView(f.buffer);
      v.setInt32(0, 1995);
      v.setInt32(4, 5);
      v.setInt32(52, 5);
      for (let a = 0; a < 5; a++) v.setFloat32(56 + 12 * a, x + a);
      return f;
    };
    const path = join(tmp.path, 'resume.xtc');
    writeFileSync(path, Uint8Array.from([...frame(1), ...frame(2), ...frame(4)]));
    const state = join(tmp.path, 'state-resume');
    const first = runJson([path, '--analysis', 'mean-structure', '--slices', '7', '--workers', '1', '--state-dir', state]);
    const again = runJson([path, '--analysis', 'mean-structure', '--slices', '7', '--workers', '2', '--state-dir', state]);
    expect(again.resumedSlices).toBe(7);
    expect(again.result).toEqual(first.result);
    expect((again.result.mean as number[][])[0]).toEqual([70 / 3, 0, 0]);
  });

  it('exits 2 with the byte offset when a frame in the middle is damaged', () => {
    // Three raw frames of 5 atoms (116 bytes each); the second one's magic is broken.
    const frame = new Uint8Array(116);
    const v = new DataView(frame.buffer);
    v.setInt32(0, 1995);
    v.setInt32(4, 5);
    v.setInt32(52, 5);
    const bytes = Uint8Array.from([...frame, ...frame, ...frame]);
    new DataView(bytes.buffer).setInt32(116, 1996);
    const path = join(tmp.path, 'broken.xtc');
    writeFileSync(path, bytes);
    for (const slices of ['1', '3']) {
      const r = fanout(['run', path, '--slices', slices, '--workers', '1', '--state-dir', join(tmp.path, 'state'), '--quiet']);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(`fanout: ${path}: at byte 116: not an XTC frame header: the magic number is 1996, expected 1995, where the frame at byte 0 ends`);
    }
    expect(readFileSync(path).length).toBe(348);
  });

  it('names a TNG file (GROMACS compressed trajectory) as such, by its first block or its extension, exit 2', () => {
    // A TNG file's first block is GENERAL INFO: three int64 sizes and id, a 16-byte hash, then the block's name.
    const bytes = new Uint8Array(256);
    bytes.set([0x3d], 0);
    bytes.set(new TextEncoder().encode('GENERAL INFO\0'), 40);
    for (const name of ['traj.tng', 'traj.bin']) {
      const path = join(tmp.path, name);
      writeFileSync(path, bytes);
      const r = fanout(['run', path, '--analysis', 'rg', '--state-dir', join(tmp.path, 'state'), '--quiet']);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(`fanout: ${path}: at byte 0: this is a TNG file (GROMACS' compressed trajectory format), which fanout does not read; convert it: gmx trjconv -f ${name} -o ${name.replace(/\.\w+$/, '')}.xtc`);
    }
  });
});
