/**
 * `fanout run --analysis rdf` through the command: a frame without a usable unit cell is
 * bad input, reported in one line with the file and the byte offset of that frame (exit 2),
 * however the trajectory is sliced and whichever slice holds the frame.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fanout, tempDir } from '../helpers/cli.ts';
import { encodeDcd, randomCoords } from '../helpers/dcd.ts';
import { mdaMissing, mdaOffsets, missing, skipNote, trrWithoutBox } from '../helpers/md.ts';
import { mdaWriteBoxTrajectory } from '../helpers/rdf.ts';

const tmp = tempDir('fanout-cli-rdf-');
afterAll(() => tmp.cleanup());

/** Runs rdf and checks the one-line error: exit 2, the file, the byte offset, the missing cell. */
function expectFrameError(files: string[], slices: number, workers: number, file: string, offset: number, extra: string[] = []): void {
  const r = fanout(['run', ...files, '--analysis', 'rdf', '--slices', String(slices), '--workers', String(workers), '--state-dir', join(tmp.path, 'state'), ...extra]);
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/unit cell/);
  expect(lines[0]).not.toMatch(/of a slice/);
  expect(lines[0]!.startsWith(`fanout: ${file}: at byte ${offset}: `), lines[0]).toBe(true);
}

const SLICINGS: [number, number][] = [
  [1, 1],
  [3, 1],
  [7, 2],
  [40, 2],
];

describe('rdf: a frame without a unit cell', () => {
  it.each(SLICINGS)('DCD whose frame 5 has a zero cell, --slices %i --workers %i: the offset of frame 5', (slices, workers) => {
    const frames = 12;
    const atoms = 9;
    const cells = Array.from({ length: frames }, (_, f) => (f === 5 ? [0, 0, 0, 0, 0, 0] : [20, 90, 20, 90, 90, 20]));
    const bytes = encodeDcd({ atoms, coords: randomCoords(frames, atoms, 3), cells });
    const path = join(tmp.path, 'zero-cell.dcd');
    writeFileSync(path, bytes);
    const frameBytes = 56 + 3 * (atoms * 4 + 8);
    expectFrameError([path], slices, workers, path, bytes.length - (frames - 5) * frameBytes);
  });

  it('DCD in parts, with an atom selection: the part that holds the frame, and the offset in it', () => {
    const atoms = 9;
    const cell = [20, 90, 20, 90, 90, 20];
    const first = join(tmp.path, 'p1.dcd');
    const second = join(tmp.path, 'p2.dcd');
    writeFileSync(first, encodeDcd({ atoms, coords: randomCoords(6, atoms, 4), cells: Array.from({ length: 6 }, () => cell) }));
    const bytes = encodeDcd({ atoms, coords: randomCoords(8, atoms, 5), cells: Array.from({ length: 8 }, (_, f) => (f === 2 ? [0, 0, 0, 0, 0, 0] : cell)) });
    writeFileSync(second, bytes);
    const frameBytes = 56 + 3 * (atoms * 4 + 8);
    for (const [slices, workers] of SLICINGS) expectFrameError([first, second], slices, workers, second, bytes.length - 6 * frameBytes, ['--atoms', '2-6']);
  });

  it.skipIf(missing(mdaMissing)).each(SLICINGS)(skipNote('XTC written by MDAnalysis whose frame 7 has a zero box, --slices %i --workers %i: the offset of frame 7', mdaMissing), (slices, workers) => {
    if (mdaMissing) return;
    const path = join(tmp.path, 'zero-box.xtc');
    mdaWriteBoxTrajectory(path, 20, 30, [20, 21, 22, 90, 90, 90], 4);
    const offsets = mdaOffsets(path);
    const bytes = new Uint8Array(readFileSync(path));
    // the box: 9 float32 after magic, natoms, step and time
    bytes.fill(0, offsets[7]! + 16, offsets[7]! + 52);
    writeFileSync(path, bytes);
    expectFrameError([path], slices, workers, path, offsets[7]!);
  });

  it.skipIf(missing(mdaMissing)).each(SLICINGS)(skipNote('TRR written by MDAnalysis whose frame 11 has no box block, --slices %i --workers %i: the offset of frame 11', mdaMissing), (slices, workers) => {
    if (mdaMissing) return;
    const path = join(tmp.path, 'no-box.trr');
    mdaWriteBoxTrajectory(path, 20, 30, [20, 21, 22, 90, 90, 90], 5);
    const offsets = mdaOffsets(path);
    writeFileSync(path, trrWithoutBox(new Uint8Array(readFileSync(path)), offsets[11]!));
    expectFrameError([path], slices, workers, path, offsets[11]!);
  });

  it.skipIf(missing(mdaMissing))(skipNote('XTC in parts: the part that holds the frame, and the offset in it', mdaMissing), () => {
    if (mdaMissing) return;
    const first = join(tmp.path, 'part1.xtc');
    const second = join(tmp.path, 'part2.xtc');
    mdaWriteBoxTrajectory(first, 10, 30, [20, 21, 22, 90, 90, 90], 6);
    mdaWriteBoxTrajectory(second, 10, 30, [20, 21, 22, 90, 90, 90], 7);
    const offsets = mdaOffsets(second);
    const bytes = new Uint8Array(readFileSync(second));
    bytes.fill(0, offsets[3]! + 16, offsets[3]! + 52);
    writeFileSync(second, bytes);
    for (const [slices, workers] of SLICINGS) expectFrameError([first, second], slices, workers, second, offsets[3]!);
  });
});
