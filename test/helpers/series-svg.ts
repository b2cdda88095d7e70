/** The points a report's series chart (lib/report/charts.ts, seriesSpec) draws, read back from its SVG. */
import { expect } from 'vitest';

/** `x title: x; y title: y` of every point of a series chart, in drawing order (Vega's labels keep 12 significant digits). */
export function seriesPoints(svg: string): { x: number; y: number }[] {
  return [...svg.matchAll(/aria-label="[^":;]+: ([^;"]+); [^":;]+: ([^;"]+)" role="graphics-symbol" aria-roledescription="point"/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) }));
}

/** The points are the values: x exactly, y to the 12 digits a label keeps. */
export function expectPoints(points: { x: number; y: number }[], xs: readonly number[], ys: readonly number[]): void {
  expect(points.map((p) => p.x)).toEqual([...xs]);
  points.forEach((p, i) => expect(Math.abs(p.y - ys[i]!), `point ${i}: ${p.y} against ${ys[i]}`).toBeLessThanOrEqual(1e-11 * Math.abs(ys[i]!)));
}
