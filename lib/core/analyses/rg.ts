/**
 * `rg`: the unweighted radius of gyration of every frame, sqrt(mean over rows of
 * |r - centroid|^2), in frame order, with its mean, min and max (a frame series).
 */
import { frameSeries } from './frame-series.ts';

const scratch: { centre: Float64Array } = { centre: new Float64Array(8) };

/** Two passes in float64: the centroid, then the mean squared distance from it. */
function frameRg(values: Float64Array, from: number, columns: number, rows: number): number {
  if (scratch.centre.length < columns) scratch.centre = new Float64Array(columns);
  const centre = scratch.centre;
  centre.fill(0, 0, columns);
  const end = from + rows * columns;
  for (let i = from; i < end; i += columns) for (let c = 0; c < columns; c++) centre[c]! += values[i + c]!;
  for (let c = 0; c < columns; c++) centre[c]! /= rows;
  let squares = 0;
  for (let i = from; i < end; i += columns) {
    for (let c = 0; c < columns; c++) {
      const d = values[i + c]! - centre[c]!;
      squares += d * d;
    }
  }
  return Math.sqrt(squares / rows);
}

export const rg = frameSeries('rg', 'rg', (values, from, columns, ctx) => frameRg(values, from, columns, ctx.frameRows));
