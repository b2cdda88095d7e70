/**
 * `rdf`: the radial distribution function g(r) between atom group A (ctx.groups.measure)
 * and group B (ctx.groups.other, default A), with the minimum-image convention in
 * orthorhombic and triclinic boxes: MDAnalysis's `analysis.rdf.InterRDF`, with its
 * parameter names, defaults and normalisation.
 *
 * Per frame, every pair (a, b) of A x B whose minimum-image distance d is at most
 * range[1] is counted in the histogram of `nbins` equal bins over `range` (numpy's
 * `histogram`: bins closed on the left, the last one on both sides). Pairs of an atom
 * with itself count (d = 0), as in InterRDF; `exclusion_block=x,y` leaves out pairs
 * whose indices in A and B fall in the same block (i // x == j // y), e.g. 1,1 for
 * g1 = g2, or 3,3 for the atoms of one water. Counts are integers, summed exactly, so
 * the result is the same whatever the slicing. With norm=rdf (the default)
 *
 *   rdf[i] = count[i] / (frames * 4/3 pi (r[i+1]^3 - r[i]^3) * N / <V>)
 *
 * with N = |A| |B| (less the excluded pairs: x y |A| / x) and <V> the box volume
 * averaged over frames; norm=density leaves out N / <V>, norm=none divides by frames.
 *
 * **The same bins as MDAnalysis, to the last count.** A distance within a rounding of a
 * bin edge falls on either side depending on how it was computed, so each frame does
 * MDAnalysis 2.4.2's arithmetic (lib/include/calc_distances.h, lib/nsgrid.pyx): float32
 * positions and box (lib/core/box.ts), float32 differences, the minimum image in double;
 * in a triclinic box both groups first wrapped into the box (`_triclinic_pbc`, float32)
 * and the best of the 27 neighbouring images; in an orthorhombic box either the
 * unwrapped difference minus round(s) boxes (what `capped_distance` does by brute force)
 * or both groups wrapped (`_ortho_pbc`) and one box added or taken away (its grid search),
 * chosen per frame by `capped_distance`'s own rule. Every pair is visited (no cell
 * list); when B is A, each unordered pair is computed once and counted twice (the
 * distance is the same both ways, bit for bit).
 */
import type { Analysis, AnalysisContext } from '../analysis.ts';
import { jsonNumber } from '../analysis.ts';
import { boxVolume, triclinicVectors } from '../box.ts';
import { FrameProblemError, IncompleteFrameError, UsageError } from '../errors.ts';
import { ExactSum } from '../exact-sum.ts';
import { eachFrame } from './frame-series.ts';

export interface RdfSettings {
  nbins: number;
  range: [number, number];
  norm: 'rdf' | 'density' | 'none';
  exclusionBlock?: [number, number];
  /** a fixed box for every frame (lengths and angles), from the `box` option */
  box?: Float64Array;
}

export interface RdfState {
  counts: Float64Array;
  frames: number;
  /** the sum of the frames' box volumes */
  volume: ExactSum;
  /** boxes given for frames whose rows have not come yet: [firstRow, dims], from boxes[nextBox] on */
  boxes: [number, Float64Array][];
  nextBox: number;
  /** rows of a frame not yet complete (a block of rows may end inside a frame) */
  pendingRows: number;
  pending?: Float64Array;
}

export interface RdfResult {
  frames: number;
  nbins: number;
  range: [number, number];
  norm: RdfSettings['norm'];
  exclusionBlock: [number, number] | null;
  /** atoms in group A and in group B */
  atoms: [number, number];
  /** bin centres */
  bins: number[];
  edges: number[];
  /** pairs counted in each bin, over all frames */
  count: number[];
  rdf: (number | null)[];
  /** the box volume averaged over frames */
  volume: number | null;
}

const f32 = Math.fround;

function numbers(text: string, what: string): number[] {
  const parts = text.split(',').map((t) => t.trim());
  const values = parts.map(Number);
  if (parts.some((t) => t === '') || values.some((v) => !Number.isFinite(v))) throw new UsageError(`rdf: ${what} takes numbers separated by commas, got ${JSON.stringify(text)}`);
  return values;
}

/** The options, checked: `nbins`, `range`, `norm`, `exclusion_block` (InterRDF's names) and `box`. */
export function rdfSettings(options: Record<string, string>): RdfSettings {
  const known = new Set(['nbins', 'range', 'norm', 'exclusion_block', 'box']);
  for (const key of Object.keys(options)) if (!known.has(key)) throw new UsageError(`rdf: unknown option ${JSON.stringify(key)} (rdf takes nbins, range, norm, exclusion_block, box)`);
  const nbins = options.nbins === undefined ? 75 : Number(options.nbins);
  if (!Number.isInteger(nbins) || nbins < 1 || nbins > 1e7) throw new UsageError(`rdf: nbins takes a positive integer, got ${JSON.stringify(options.nbins)}`);
  const range = options.range === undefined ? [0, 15] : numbers(options.range, 'range');
  if (range.length !== 2 || !(range[0]! < range[1]!) || range[0]! < 0) throw new UsageError(`rdf: range takes two distances, the smaller first and not negative: range=0,15, got ${JSON.stringify(options.range)}`);
  const norm = (options.norm ?? 'rdf').toLowerCase();
  if (norm !== 'rdf' && norm !== 'density' && norm !== 'none') throw new UsageError(`rdf: norm is rdf, density or none, got ${JSON.stringify(options.norm)}`);
  let exclusionBlock: [number, number] | undefined;
  if (options.exclusion_block !== undefined) {
    const b = numbers(options.exclusion_block, 'exclusion_block');
    if (b.length !== 2 || !b.every((x) => Number.isInteger(x) && x >= 1)) throw new UsageError(`rdf: exclusion_block takes two positive integers: exclusion_block=1,1, got ${JSON.stringify(options.exclusion_block)}`);
    exclusionBlock = [b[0]!, b[1]!];
  }
  let box: Float64Array | undefined;
  if (options.box !== undefined) {
    const b = numbers(options.box, 'box');
    if (b.length !== 3 && b.length !== 6) throw new UsageError(`rdf: box takes a,b,c or a,b,c,alpha,beta,gamma, got ${JSON.stringify(options.box)}`);
    box = Float64Array.from([...b, ...(b.length === 3 ? [90, 90, 90] : [])], f32);
    if (!validBox(box)) throw new UsageError(`rdf: box ${options.box} is not a unit cell: lengths must be positive and the angles make a box`);
  }
  return { nbins, range: [range[0]!, range[1]!], norm, ...(exclusionBlock ? { exclusionBlock } : {}), ...(box ? { box } : {}) };
}

function validBox(dims: Float64Array): boolean {
  return triclinicVectors(dims)[8]! > 0;
}

/** numpy's linspace(first, last, nbins + 1): i * step + first, the last edge exactly `last`. */
export function histogramEdges(nbins: number, first: number, last: number): Float64Array {
  const step = (last - first) / nbins;
  const edges = new Float64Array(nbins + 1);
  for (let i = 0; i < nbins; i++) edges[i] = i * step + first;
  edges[nbins] = last;
  return edges;
}

/** The bins and what each frame needs, prepared once per state. */
interface Kernel {
  settings: RdfSettings;
  edges: Float64Array;
  norm: number;
  maxCutoff: number;
  maxCutoff32: number;
  a: Float64Array;
  b: Float64Array;
  groupA: Int32Array | undefined;
  groupB: Int32Array | undefined;
  same: boolean;
}

const kernels = new WeakMap<AnalysisContext, Kernel>();

function kernelFor(ctx: AnalysisContext): Kernel {
  let k = kernels.get(ctx);
  if (k) return k;
  const settings = rdfSettings(ctx.options);
  const n = ctx.frameRows;
  const groupA = ctx.groups?.measure;
  const groupB = ctx.groups?.other ?? groupA;
  for (const [g, name] of [
    [groupA, 'A'],
    [groupB, 'B'],
  ] as const) {
    if (g && g.some((i) => i < 0 || i >= n)) throw new UsageError(`rdf: group ${name} names an atom past the ${n} atoms of a frame`);
  }
  const nA = groupA?.length ?? n;
  const nB = groupB?.length ?? n;
  const [first, last] = settings.range;
  k = {
    settings,
    edges: histogramEdges(settings.nbins, first, last),
    norm: settings.nbins / (last - first),
    maxCutoff: last,
    maxCutoff32: f32(last),
    a: new Float64Array(3 * nA),
    b: new Float64Array(3 * nB),
    groupA,
    groupB,
    same: groupA === groupB || (groupA !== undefined && groupB !== undefined && groupA.length === groupB.length && groupA.every((x, i) => x === groupB[i])),
  };
  kernels.set(ctx, k);
  return k;
}

/** C's round(): halves away from zero. */
function cRound(x: number): number {
  const r = Math.round(x);
  return x < 0 && r - x === 0.5 ? r - 1 : r;
}

/** The bin of d (first <= d <= last), as numpy's histogram finds it. */
function binOf(d: number, k: Kernel): number {
  const edges = k.edges;
  const nbins = edges.length - 1;
  let i = Math.trunc((d - edges[0]!) * k.norm);
  if (i === nbins) i--;
  if (d < edges[i]!) i--;
  if (d >= edges[i + 1]! && i !== nbins - 1) i++;
  return i;
}

/** MDAnalysis's `_ortho_pbc`: every position into [0, L) along each axis, in float32. */
function orthoWrap(xyz: Float64Array, box: Float64Array): void {
  if (!box[0] && !box[1] && !box[2]) return;
  for (let i = 0; i < xyz.length; i += 3) {
    for (let j = 0; j < 3; j++) {
      const L = box[j]!;
      const inv = 1 / L;
      let crd = xyz[i + j]!;
      if (crd < 0) {
        crd = f32(crd + L);
        if (crd < 0) {
          const s = Math.floor(xyz[i + j]! * inv);
          let c = f32(xyz[i + j]! - f32(f32(s) * L));
          if (c < 0) c = f32(c + L);
          xyz[i + j] = c;
        } else xyz[i + j] = crd;
      }
      if (crd >= L) {
        crd = f32(crd - L);
        if (crd >= L) {
          const s = Math.floor(xyz[i + j]! * inv);
          let c = f32(xyz[i + j]! - f32(f32(s) * L));
          if (c >= L) c = f32(c - L);
          xyz[i + j] = c;
        } else xyz[i + j] = crd;
      }
    }
  }
}

/** MDAnalysis's `_triclinic_pbc`: every position into the primary cell of the box matrix m (float32, lower triangular). */
function triclinicWrap(xyz: Float64Array, m: Float64Array): void {
  const [m0, m3, m4, m6, m7, m8] = [m[0]!, m[3]!, m[4]!, m[6]!, m[7]!, m[8]!];
  if (!m0 && !m4 && !m8) return;
  const bi0 = 1 / m0;
  const bi4 = 1 / m4;
  const bi8 = 1 / m8;
  const bi3 = -m3 * bi0 * bi4;
  const bi6 = (-bi3 * m7 - m6 * bi0) * bi8;
  const bi7 = -m7 * bi4 * bi8;
  const ay = m3 * bi4;
  const az = m6 * bi8;
  const bz = m7 * bi8;
  for (let i = 0; i < xyz.length; i += 3) {
    let msr = false;
    let c0 = xyz[i]!;
    let c1 = xyz[i + 1]!;
    let c2 = xyz[i + 2]!;
    if (c2 < 0) {
      c0 = f32(c0 + m6);
      c1 = f32(c1 + m7);
      c2 = f32(c2 + m8);
      if (c2 < 0) msr = true;
    }
    if (c2 >= m8) {
      c0 = f32(c0 - m6);
      c1 = f32(c1 - m7);
      c2 = f32(c2 - m8);
      if (c2 >= m8) msr = true;
    }
    if (!msr) {
      let lb = c2 * bz;
      let ub = lb + m4;
      if (c1 < lb) {
        c0 = f32(c0 + m3);
        c1 = f32(c1 + m4);
        if (c1 < lb) msr = true;
      }
      if (c1 >= ub) {
        c0 = f32(c0 - m3);
        c1 = f32(c1 - m4);
        if (c1 >= ub) msr = true;
      }
      if (!msr) {
        lb = c1 * ay + c2 * az;
        ub = lb + m0;
        if (c0 < lb) {
          c0 = f32(c0 + m0);
          if (c0 < lb) msr = true;
        }
        if (c0 >= ub) {
          c0 = f32(c0 - m0);
          if (c0 >= ub) msr = true;
        }
      }
    }
    if (msr) {
      c0 = xyz[i]!;
      c1 = xyz[i + 1]!;
      c2 = xyz[i + 2]!;
      let s = Math.floor(c2 * bi8);
      c2 = f32(c2 - f32(f32(s) * m8));
      c1 = f32(c1 - f32(f32(s) * m7));
      c0 = f32(c0 - f32(f32(s) * m6));
      s = Math.floor(c1 * bi4 + c2 * bi7);
      c1 = f32(c1 - f32(f32(s) * m4));
      c0 = f32(c0 - f32(f32(s) * m3));
      s = Math.floor(c0 * bi0 + c1 * bi3 + c2 * bi6);
      c0 = f32(c0 - f32(f32(s) * m0));
      if (c2 < 0) {
        c0 = f32(c0 + m6);
        c1 = f32(c1 + m7);
        c2 = f32(c2 + m8);
      }
      if (c2 >= m8) {
        c0 = f32(c0 - m6);
        c1 = f32(c1 - m7);
        c2 = f32(c2 - m8);
      }
      let lb = c2 * bz;
      let ub = lb + m4;
      if (c1 < lb) {
        c0 = f32(c0 + m3);
        c1 = f32(c1 + m4);
      }
      if (c1 >= ub) {
        c0 = f32(c0 - m3);
        c1 = f32(c1 - m4);
      }
      lb = c1 * ay + c2 * az;
      ub = lb + m0;
      if (c0 < lb) c0 = f32(c0 + m0);
      if (c0 >= ub) c0 = f32(c0 - m0);
    }
    xyz[i] = c0;
    xyz[i + 1] = c1;
    xyz[i + 2] = c2;
  }
}

type Method = 'brute' | 'grid';

/** `capped_distance`'s choice of method (its `_determine_method`), which decides the arithmetic of orthorhombic boxes. */
function methodOf(nA: number, nB: number, dims: Float64Array, m: Float64Array, maxCutoff32: number, ortho: boolean): Method {
  if (nA < 10 || nB < 10) return 'brute';
  if (nA * nB >= 1e8) return 'grid';
  const tenth3 = f32(0.3);
  for (let k = 0; k < 3; k++) {
    let size: number;
    if (ortho) size = dims[k]!;
    else {
      const col = [m[k]!, m[3 + k]!, m[6 + k]!];
      size = f32(Math.max(...col) - Math.min(...col));
    }
    if (maxCutoff32 > f32(tenth3 * size)) return 'brute';
  }
  return 'grid';
}

/**
 * minimum_image_triclinic: the squared length of the shortest of the 27 images of
 * (dx, dy, dz) around the primary one, each computed as MDAnalysis computes it, when it
 * is at most `limit`; otherwise some value above `limit`. Images are skipped when a part
 * of their sum of squares already passes `limit`: a rounded sum of non-negative terms is
 * never below one of them, so no image that could be the nearest within `limit` is skipped.
 */
function triclinicD2(dx: number, dy: number, dz: number, m0: number, m3: number, m4: number, m6: number, m7: number, m8: number, limit: number): number {
  let best = Infinity;
  for (let iz = -1; iz < 2; iz++) {
    const r2 = dz + m8 * iz;
    const q2 = r2 * r2;
    if (q2 > limit) continue;
    for (let iy = -1; iy < 2; iy++) {
      const r1 = dy + m4 * iy + m7 * iz;
      const q1 = r1 * r1;
      if (q1 + q2 > limit) continue;
      for (let ix = -1; ix < 2; ix++) {
        const r0 = dx + m0 * ix + m3 * iy + m6 * iz;
        const q = r0 * r0 + q1 + q2;
        if (q < best) best = q;
      }
    }
  }
  return best;
}

/** Squared distances above this are past the cutoff however they round (sqrt(q) > range[1]): images beyond it need not be computed. */
const pruneLimit = (k: Kernel): number => k.maxCutoff * k.maxCutoff * (1 + 1e-12);

/** Adds the pair at squared distance d2 (of a distance within the cutoff) to its bin. */
function count(k: Kernel, counts: Float64Array, d2: number, times: number): void {
  const d = Math.sqrt(d2);
  if (!(d <= k.maxCutoff) || d < k.edges[0]!) return;
  counts[binOf(d, k)]! += times;
}

/** Counts one frame's pairs into counts; k.a and k.b hold the groups' float32 positions. */
function countFrame(k: Kernel, counts: Float64Array, dims: Float64Array): void {
  const nA = k.a.length / 3;
  const nB = k.b.length / 3;
  const ortho = dims[3] === 90 && dims[4] === 90 && dims[5] === 90;
  const m = triclinicVectors(dims);
  if (methodOf(nA, nB, dims, m, k.maxCutoff32, ortho) === 'grid') gridFrame(k, counts, dims, m);
  else bruteFrame(k, counts, dims, m, ortho);
}

/** What the brute force of `capped_distance` finds: `distance_array` with the box, every pair. */
function bruteFrame(k: Kernel, counts: Float64Array, dims: Float64Array, m: Float64Array, ortho: boolean): void {
  const a = k.a;
  const same = k.same;
  const b = same ? a : k.b;
  const nA = a.length / 3;
  const nB = b.length / 3;
  const block = k.settings.exclusionBlock;
  const xA = block?.[0] ?? 1;
  const xB = block?.[1] ?? 1;
  // One distance of each unordered pair when B is A and the exclusion is symmetric: d(a, b) == d(b, a) bit for bit.
  const half = same && (!block || xA === xB);
  if (!ortho) {
    triclinicWrap(a, m);
    if (!same) triclinicWrap(b, m);
  }
  const L0 = dims[0]!;
  const L1 = dims[1]!;
  const L2 = dims[2]!;
  const inv0 = f32(1 / L0);
  const inv1 = f32(1 / L1);
  const inv2 = f32(1 / L2);
  const eps = 1.1920928955078125e-7; // FLT_EPSILON
  const [m0, m3, m4, m6, m7, m8] = [m[0]!, m[3]!, m[4]!, m[6]!, m[7]!, m[8]!];
  const limit = pruneLimit(k);
  for (let i = 0; i < nA; i++) {
    const ax = a[3 * i]!;
    const ay = a[3 * i + 1]!;
    const az = a[3 * i + 2]!;
    const ib = block ? Math.floor(i / xA) : -1;
    for (let j = half ? i : 0; j < nB; j++) {
      if (block && ib === Math.floor(j / xB)) continue;
      // conf - ref in float32, as MDAnalysis's kernels subtract floats
      let dx = f32(b[3 * j]! - ax);
      let dy = f32(b[3 * j + 1]! - ay);
      let dz = f32(b[3 * j + 2]! - az);
      let d2: number;
      if (ortho) {
        if (L0 > eps) {
          const s = inv0 * dx;
          dx = L0 * (s - cRound(s));
        }
        if (L1 > eps) {
          const s = inv1 * dy;
          dy = L1 * (s - cRound(s));
        }
        if (L2 > eps) {
          const s = inv2 * dz;
          dz = L2 * (s - cRound(s));
        }
        d2 = dx * dx + dy * dy + dz * dz;
      } else d2 = triclinicD2(dx, dy, dz, m0, m3, m4, m6, m7, m8, limit);
      count(k, counts, d2, half && j !== i ? 2 : 1);
    }
  }
}

const MAX_GRID_DIM = 1290;

/** sin of degrees in float32, as nsgrid's degsin. */
const degsin = (deg: number): number => f32(Math.sin(f32(deg * (Math.PI / 180))));

/**
 * What the grid search of `capped_distance` (lib/nsgrid.pyx, FastNS.search) finds: the
 * pairs within the cutoff among those in the 27 cells around each atom of A. In a
 * triclinic box its cells can miss a pair near the cutoff (MDAnalysis 2.4.2), and so
 * does this, the same pairs: InterRDF's counts are what is reproduced.
 */
function gridFrame(k: Kernel, counts: Float64Array, dims: Float64Array, m: Float64Array): void {
  const a = k.a;
  const same = k.same;
  const b = same ? a : k.b;
  const nA = a.length / 3;
  const nB = b.length / 3;
  const [m0, m3, m4, m6, m7, m8] = [m[0]!, m[3]!, m[4]!, m[6]!, m[7]!, m[8]!];
  const triclinic = m3 !== 0 || m6 !== 0 || m7 !== 0;
  // _prepare_box
  const cutoff = f32(Math.max(k.maxCutoff, 1));
  let minCell = cutoff;
  if (triclinic) for (let i = 3; i < 6; i++) minCell = Math.max(f32(cutoff / degsin(dims[i]!)), minCell);
  minCell = f32(minCell + 0.001);
  const cells = [m0, m4, m8].map((l) => Math.min(Math.floor(f32(l / minCell)), MAX_GRID_DIM));
  const periodic = cells.map((c) => c > 3);
  for (let i = 0; i < 3; i++) if (!periodic[i]) cells[i] = 1;
  const [n0, n1, n2] = cells as [number, number, number];
  const [p0, p1, p2] = periodic as [boolean, boolean, boolean];
  const csXX = m0 / n0;
  const csXY = f32(m3 / m4);
  const csYY = m4 / n1;
  const csXZ = f32(m6 / m8);
  const csYZ = f32(m7 / m8);
  const csZZ = m8 / n2;
  const off1 = n0;
  const off2 = n0 * n1;
  // _pack_grid and search: both groups wrapped into the box
  if (triclinic) {
    triclinicWrap(a, m);
    if (!same) triclinicWrap(b, m);
  } else {
    orthoWrap(a, dims);
    if (!same) orthoWrap(b, dims);
  }
  const cellOf = (x: number, y: number, z: number, out: Int32Array): void => {
    out[2] = Math.trunc(z / csZZ) % n2;
    out[1] = Math.trunc((y - z * csYZ) / csYY) % n1;
    out[0] = Math.trunc((x - y * csXY - z * csXZ) / csXX) % n0;
  };
  const head = new Int32Array(n0 * n1 * n2).fill(-1);
  const next = new Int32Array(nB);
  const xyz = new Int32Array(3);
  for (let j = 0; j < nB; j++) {
    cellOf(b[3 * j]!, b[3 * j + 1]!, b[3 * j + 2]!, xyz);
    const id = xyz[0]! + xyz[1]! * off1 + xyz[2]! * off2;
    next[j] = head[id]!;
    head[id] = j;
  }
  const block = k.settings.exclusionBlock;
  const xA = block?.[0] ?? 1;
  const xB = block?.[1] ?? 1;
  // The cells' neighbourhood is symmetric, so is the distance: each unordered pair once when B is A.
  const half = same && (!block || xA === xB);
  const cutoff2 = k.maxCutoff * k.maxCutoff;
  const limit = pruneLimit(k);
  const h0 = 0.5 * dims[0]!;
  const h1 = 0.5 * dims[1]!;
  const h2 = 0.5 * dims[2]!;
  const L0 = dims[0]!;
  const L1 = dims[1]!;
  const L2 = dims[2]!;
  const wrapIndex = (c: number, n: number, periodicAxis: boolean): number => (c < 0 ? (periodicAxis ? n - 1 : -1) : c === n ? (periodicAxis ? 0 : -1) : c);
  for (let i = 0; i < nA; i++) {
    const ax = a[3 * i]!;
    const ay = a[3 * i + 1]!;
    const az = a[3 * i + 2]!;
    const ib = block ? Math.floor(i / xA) : -1;
    cellOf(ax, ay, az, xyz);
    const c0 = xyz[0]!;
    const c1 = xyz[1]!;
    const c2 = xyz[2]!;
    for (let xi = 0; xi < 3; xi++) {
      const cx = wrapIndex(c0 - 1 + xi, n0, p0);
      if (cx < 0) continue;
      for (let yi = 0; yi < 3; yi++) {
        const cy = wrapIndex(c1 - 1 + yi, n1, p1);
        if (cy < 0) continue;
        for (let zi = 0; zi < 3; zi++) {
          const cz = wrapIndex(c2 - 1 + zi, n2, p2);
          if (cz < 0) continue;
          for (let j = head[cx + cy * off1 + cz * off2]!; j !== -1; j = next[j]!) {
            if (half && j < i) continue;
            if (block && ib === Math.floor(j / xB)) continue;
            let dx = f32(b[3 * j]! - ax);
            let dy = f32(b[3 * j + 1]! - ay);
            let dz = f32(b[3 * j + 2]! - az);
            let d2: number;
            if (triclinic) d2 = triclinicD2(dx, dy, dz, m0, m3, m4, m6, m7, m8, limit);
            else {
              // _minimum_image_ortho_lazy
              if (dx > h0) dx -= L0;
              else if (dx <= -h0) dx += L0;
              if (dy > h1) dy -= L1;
              else if (dy <= -h1) dy += L1;
              if (dz > h2) dz -= L2;
              else if (dz <= -h2) dz += L2;
              d2 = dx * dx + dy * dy + dz * dz;
            }
            if (d2 <= cutoff2) count(k, counts, d2, half && j !== i ? 2 : 1);
          }
        }
      }
    }
  }
}

function gather(values: Float64Array, from: number, columns: number, group: Int32Array | undefined, out: Float64Array): void {
  const n = out.length / 3;
  for (let k = 0; k < n; k++) {
    const at = from + (group ? group[k]! : k) * columns;
    out[3 * k] = f32(values[at]!);
    out[3 * k + 1] = f32(values[at + 1]!);
    out[3 * k + 2] = f32(values[at + 2]!);
  }
}

function frame(state: RdfState, values: Float64Array, from: number, columns: number, frameFirstRow: number, ctx: AnalysisContext): void {
  const k = kernelFor(ctx);
  let dims = k.settings.box;
  // Boxes come before their rows (a block's boxes, then its rows): pass those of frames already done, take this frame's.
  const boxes = state.boxes;
  while (state.nextBox < boxes.length && boxes[state.nextBox]![0] < frameFirstRow) state.nextBox++;
  const given = state.nextBox < boxes.length && boxes[state.nextBox]![0] === frameFirstRow ? boxes[state.nextBox++]![1] : undefined;
  if (state.nextBox === boxes.length) {
    boxes.length = 0;
    state.nextBox = 0;
  }
  dims ??= given;
  // Bad input at one frame: the runtime names the file and this frame's byte offset (FrameProblemError).
  const at = Math.floor(frameFirstRow / ctx.frameRows);
  if (!dims) throw new FrameProblemError(at, 'rdf needs the unit cell of every frame, and this frame has none: give one with --option box=a,b,c[,alpha,beta,gamma]');
  if (!validBox(dims)) throw new FrameProblemError(at, `rdf needs the unit cell of every frame, and this frame's is not one (${Array.from(dims).join(', ')}): give one with --option box=a,b,c[,alpha,beta,gamma]`);
  gather(values, from, columns, k.groupA, k.a);
  if (!k.same) gather(values, from, columns, k.groupB, k.b);
  countFrame(k, state.counts, dims);
  state.frames++;
  state.volume.add(boxVolume(dims));
}

export const rdf: Analysis<RdfState, RdfResult> = {
  name: 'rdf',
  needsFrames: true,
  wholeFrames: true,
  needsBox: true,
  groups: ['other'],
  empty: (ctx) => {
    const k = kernelFor(ctx);
    if (ctx.columns < 3) throw new UsageError(`rdf needs rows of x, y, z: the input has ${ctx.columns} columns`);
    return { counts: new Float64Array(k.settings.nbins), frames: 0, volume: new ExactSum(), boxes: [], nextBox: 0, pendingRows: 0 };
  },
  addBox(state, firstRow, dims) {
    state.boxes.push([firstRow, Float64Array.from(dims, f32)]);
    return state;
  },
  addRows(state, values, rowCount, columns, firstRow, ctx) {
    eachFrame(state, values, rowCount, columns, ctx.frameRows, (f, from, row) => frame(state, f, from, columns, firstRow + row, ctx));
    return state;
  },
  combine(left, right) {
    if (left.pendingRows > 0 && (right.frames > 0 || right.pendingRows > 0)) throw new Error('rdf: a slice ended inside a frame: slices must be cut at frame boundaries (wholeFrames)');
    for (let i = 0; i < left.counts.length; i++) left.counts[i]! += right.counts[i]!;
    if (left.counts.some((c) => c > Number.MAX_SAFE_INTEGER)) throw new Error('rdf: a bin holds more than 2^53 pairs');
    left.frames += right.frames;
    left.volume.merge(right.volume);
    left.pendingRows = right.pendingRows;
    return left;
  },
  finish(state, rows, ctx) {
    const n = ctx.frameRows;
    if (rows % n !== 0 || state.pendingRows > 0) throw new IncompleteFrameError(rows - (rows % n), rows % n, n);
    const k = kernelFor(ctx);
    const { nbins, range, norm, exclusionBlock } = k.settings;
    const edges = k.edges;
    const frames = state.frames;
    const nA = k.a.length / 3;
    const nB = k.b.length / 3;
    const volume = frames > 0 ? state.volume.value() / frames : NaN;
    const rdfValues: (number | null)[] = [];
    for (let i = 0; i < nbins; i++) {
      // InterRDF's _conclude, in its order of operations
      let denominator = frames;
      if (norm !== 'none') denominator = frames * (((4 / 3) * Math.PI) * (edges[i + 1]! ** 3 - edges[i]! ** 3));
      if (norm === 'rdf') {
        let pairs = nA * nB;
        if (exclusionBlock) pairs -= exclusionBlock[0] * exclusionBlock[1] * (nA / exclusionBlock[0]);
        denominator *= pairs / volume;
      }
      rdfValues.push(jsonNumber(state.counts[i]! / denominator));
    }
    return {
      frames,
      nbins,
      range,
      norm,
      exclusionBlock: exclusionBlock ?? null,
      atoms: [nA, nB],
      bins: Array.from({ length: nbins }, (_, i) => 0.5 * (edges[i]! + edges[i + 1]!)),
      edges: Array.from(edges),
      count: Array.from(state.counts),
      rdf: rdfValues,
      volume: jsonNumber(volume),
    };
  },
  encode: (s) => ({ counts: Array.from(s.counts), frames: s.frames, volume: s.volume.toJSON(), pendingRows: s.pendingRows }),
  decode: (j) => {
    const o = j as { counts: number[]; frames: number; volume: Parameters<typeof ExactSum.fromJSON>[0]; pendingRows: number };
    return { counts: Float64Array.from(o.counts), frames: o.frames, volume: ExactSum.fromJSON(o.volume), boxes: [], nextBox: 0, pendingRows: o.pendingRows };
  },
};
