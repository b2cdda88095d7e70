/**
 * `fanout demo`: writes a trajectory-like .npy (frames of 50 x 100 float64, where row i
 * of every frame scatters around i / 10) and runs row-sums over it.
 */
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { npyHeader } from '../core/npy.ts';

/** True when the file is there already (written by an earlier demo, whole), so nothing was written. */
export async function demoTrajectoryExists(path: string, frames: number, rows = 50, columns = 100): Promise<boolean> {
  const existing = await stat(path).catch(() => undefined);
  return existing !== undefined && existing.size === npyHeader('<f8', [frames, rows, columns]).length + frames * rows * columns * 8;
}

export async function writeDemoTrajectory(path: string, frames: number, rows = 50, columns = 100): Promise<void> {
  const header = npyHeader('<f8', [frames, rows, columns]);
  if (await demoTrajectoryExists(path, frames, rows, columns)) return;
  await mkdir(dirname(path), { recursive: true });
  const file = await open(path, 'w');
  try {
    await file.write(header);
    // A small deterministic generator (xorshift), so every demo file is identical.
    let seed = 0x9e3779b9;
    const frameValues = new Float64Array(rows * columns);
    const framesPerWrite = 64;
    const block = new Float64Array(rows * columns * framesPerWrite);
    for (let f = 0; f < frames; f += framesPerWrite) {
      const n = Math.min(framesPerWrite, frames - f);
      for (let k = 0; k < n; k++) {
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < columns; c++) {
            seed ^= seed << 13;
            seed ^= seed >>> 17;
            seed ^= seed << 5;
            frameValues[r * columns + c] = r / 10 + ((seed >>> 0) / 4294967296 - 0.5);
          }
        }
        block.set(frameValues, k * rows * columns);
      }
      await file.write(new Uint8Array(block.buffer, 0, n * rows * columns * 8));
    }
  } finally {
    await file.close();
  }
}
