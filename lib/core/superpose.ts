/**
 * Optimal superposition of two sets of points by the quaternion characteristic
 * polynomial (QCP) method: D. L. Theobald, "Rapid calculation of RMSDs using a
 * quaternion-based characteristic polynomial", Acta Cryst. A61 (2005) 478-480, with the
 * rotation from the eigenvector as in Liu, Agrafiotis and Theobald, J. Comput. Chem. 31
 * (2010) 1561-1563. Written here from the papers' equations; unweighted.
 *
 * For centred coordinates A (the reference) and B (the mobile set), of N points each:
 *
 * - the inner product E0 = (|A|^2 + |B|^2) / 2 and the 3 x 3 matrix M = sum_i b_i a_i^T
 *   (M[j][k] = sum_i b_ij a_ik: S_xy is sum of x of B times y of A);
 * - the symmetric, traceless 4 x 4 key matrix K built from M (Horn's matrix, eq. 6 of
 *   Theobald), whose largest eigenvalue lambda_max gives the least RMSD,
 *   sqrt(2 (E0 - lambda_max) / N);
 * - lambda_max is the largest root of the characteristic polynomial
 *   P(l) = l^4 + C2 l^2 + C1 l + C0 with C2 = -2 tr(M^T M), C1 = -8 det(M), C0 = det(K),
 *   found by Newton's method from l = E0, an upper bound of it (eq. 12);
 * - the rotation is the unit quaternion of the eigenvector of K for lambda_max: any
 *   non-zero column of the adjugate of K - lambda_max I.
 */

/** Newton stops when a step changes lambda by less than this part of it (as qcprot does). */
const EVAL_PRECISION = 1e-11;
const MAX_ITERATIONS = 50;

/** The centroid of rows `rows` (positions within the frame, or all rows when undefined) of a frame stored row-major, 3 values a row, from `from`. */
export function centroid(values: Float64Array, from: number, rows: Int32Array | undefined, count: number, out: Float64Array): void {
  let x = 0;
  let y = 0;
  let z = 0;
  if (rows) {
    for (let k = 0; k < rows.length; k++) {
      const i = from + rows[k]! * 3;
      x += values[i]!;
      y += values[i + 1]!;
      z += values[i + 2]!;
    }
  } else {
    for (let i = from, end = from + count * 3; i < end; i += 3) {
      x += values[i]!;
      y += values[i + 1]!;
      z += values[i + 2]!;
    }
  }
  const n = rows ? rows.length : count;
  out[0] = x / n;
  out[1] = y / n;
  out[2] = z / n;
}

/**
 * Centred copies of the chosen rows of a frame, packed: `out` gets (x - cx, y - cy, z - cz)
 * for each row in order. Returns |out|^2.
 */
export function centredRows(values: Float64Array, from: number, rows: Int32Array | undefined, count: number, centre: Float64Array, out: Float64Array): number {
  const cx = centre[0]!;
  const cy = centre[1]!;
  const cz = centre[2]!;
  const n = rows ? rows.length : count;
  let squares = 0;
  for (let k = 0; k < n; k++) {
    const i = from + (rows ? rows[k]! : k) * 3;
    const x = values[i]! - cx;
    const y = values[i + 1]! - cy;
    const z = values[i + 2]! - cz;
    out[k * 3] = x;
    out[k * 3 + 1] = y;
    out[k * 3 + 2] = z;
    squares += x * x + y * y + z * z;
  }
  return squares;
}

/**
 * The 3 x 3 inner product matrix of the mobile rows (chosen rows of a frame, centred on
 * `centre`) against the packed, centred reference: m[3j + k] = sum_i b_ij a_ik. Returns
 * |B|^2. Reads the frame in place, so that a frame is not copied before it is measured.
 */
export function innerProduct(ref: Float64Array, values: Float64Array, from: number, rows: Int32Array | undefined, count: number, centre: Float64Array, m: Float64Array): number {
  const cx = centre[0]!;
  const cy = centre[1]!;
  const cz = centre[2]!;
  const n = rows ? rows.length : count;
  let sxx = 0,
    sxy = 0,
    sxz = 0,
    syx = 0,
    syy = 0,
    syz = 0,
    szx = 0,
    szy = 0,
    szz = 0,
    squares = 0;
  for (let k = 0; k < n; k++) {
    const i = from + (rows ? rows[k]! : k) * 3;
    const bx = values[i]! - cx;
    const by = values[i + 1]! - cy;
    const bz = values[i + 2]! - cz;
    const ax = ref[k * 3]!;
    const ay = ref[k * 3 + 1]!;
    const az = ref[k * 3 + 2]!;
    squares += bx * bx + by * by + bz * bz;
    sxx += bx * ax;
    sxy += bx * ay;
    sxz += bx * az;
    syx += by * ax;
    syy += by * ay;
    syz += by * az;
    szx += bz * ax;
    szy += bz * ay;
    szz += bz * az;
  }
  m[0] = sxx;
  m[1] = sxy;
  m[2] = sxz;
  m[3] = syx;
  m[4] = syy;
  m[5] = syz;
  m[6] = szx;
  m[7] = szy;
  m[8] = szz;
  return squares;
}

const det3 = (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number): number => a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);

const key = new Float64Array(16);
const adj = new Float64Array(16);

/** Horn's key matrix of M (row-major 4 x 4 into `key`). */
function keyMatrix(m: Float64Array): void {
  const [sxx, sxy, sxz, syx, syy, syz, szx, szy, szz] = m as unknown as number[];
  key.set([
    sxx! + syy! + szz!, syz! - szy!, szx! - sxz!, sxy! - syx!,
    syz! - szy!, sxx! - syy! - szz!, sxy! + syx!, szx! + sxz!,
    szx! - sxz!, sxy! + syx!, -sxx! + syy! - szz!, syz! + szy!,
    sxy! - syx!, szx! + sxz!, syz! + szy!, -sxx! - syy! + szz!,
  ]); // prettier-ignore
}

/** The cofactor of entry (r, c) of a 4 x 4 row-major matrix. */
function cofactor(k: Float64Array, r: number, c: number): number {
  const e: number[] = [];
  for (let i = 0; i < 4; i++) if (i !== r) for (let j = 0; j < 4; j++) if (j !== c) e.push(k[i * 4 + j]!);
  const d = det3(e[0]!, e[1]!, e[2]!, e[3]!, e[4]!, e[5]!, e[6]!, e[7]!, e[8]!);
  return (r + c) % 2 === 0 ? d : -d;
}

export interface Superposition {
  /** the least RMSD over rotations */
  rmsd: number;
  /** the largest eigenvalue of the key matrix */
  lambda: number;
}

/**
 * The least RMSD between two centred sets of `n` points from their inner product `m`
 * and squared norms, and, when `rotation` is given, the rotation (row-major 3 x 3) that
 * takes the mobile set onto the reference: a_i ~ R b_i.
 */
export function qcp(m: Float64Array, refSquares: number, mobileSquares: number, n: number, rotation?: Float64Array): Superposition {
  const e0 = (refSquares + mobileSquares) / 2;
  keyMatrix(m);
  let c2 = 0;
  for (let i = 0; i < 9; i++) c2 += m[i]! * m[i]!;
  c2 *= -2;
  const c1 = -8 * det3(m[0]!, m[1]!, m[2]!, m[3]!, m[4]!, m[5]!, m[6]!, m[7]!, m[8]!);
  let c0 = 0;
  for (let c = 0; c < 4; c++) c0 += key[c]! * cofactor(key, 0, c);
  let lambda = e0;
  for (let it = 0; it < MAX_ITERATIONS; it++) {
    const previous = lambda;
    const l2 = lambda * lambda;
    const b = (l2 + c2) * lambda;
    const a = b + c1;
    const step = (a * lambda + c0) / (2 * l2 * lambda + b + a);
    // 0 / 0: lambda is a multiple root already (a perfect fit of collinear points).
    if (!Number.isFinite(step)) break;
    lambda -= step;
    if (Math.abs(lambda - previous) < Math.abs(EVAL_PRECISION * lambda)) break;
  }
  const rmsd = Math.sqrt(Math.abs((2 * (e0 - lambda)) / n));
  if (rotation) rotationOf(lambda, rotation);
  return { rmsd, lambda };
}

/** The rotation of the eigenvector of the key matrix (in `key`) for `lambda`. */
function rotationOf(lambda: number, r: Float64Array): void {
  for (let i = 0; i < 4; i++) key[i * 5] = key[i * 5]! - lambda;
  // Every column of adj(K - lambda I) is a multiple of the eigenvector (rank 3): take the longest.
  let best = -1;
  let bestNorm = 0;
  for (let c = 0; c < 4; c++) {
    let norm = 0;
    for (let i = 0; i < 4; i++) {
      const v = cofactor(key, c, i); // adj[i][c] = cofactor(c, i)
      adj[i * 4 + c] = v;
      norm += v * v;
    }
    if (norm > bestNorm) {
      bestNorm = norm;
      best = c;
    }
  }
  // No rotation is determined (identical or degenerate sets): the identity, as qcprot returns.
  if (best < 0 || !(bestNorm > 0) || !Number.isFinite(bestNorm)) {
    r.set([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    return;
  }
  const s = 1 / Math.sqrt(bestNorm);
  const q1 = adj[best]! * s;
  const q2 = adj[4 + best]! * s;
  const q3 = adj[8 + best]! * s;
  const q4 = adj[12 + best]! * s;
  const a2 = q1 * q1,
    x2 = q2 * q2,
    y2 = q3 * q3,
    z2 = q4 * q4;
  const xy = q2 * q3,
    az = q1 * q4,
    zx = q4 * q2,
    ay = q1 * q3,
    yz = q3 * q4,
    ax = q1 * q2;
  r[0] = a2 + x2 - y2 - z2;
  r[1] = 2 * (xy - az);
  r[2] = 2 * (zx + ay);
  r[3] = 2 * (xy + az);
  r[4] = a2 - x2 + y2 - z2;
  r[5] = 2 * (yz - ax);
  r[6] = 2 * (zx - ay);
  r[7] = 2 * (yz + ax);
  r[8] = a2 - x2 - y2 + z2;
}

const sameRows = (a: Int32Array | undefined, b: Int32Array | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]));

/**
 * Superposes frames on a reference structure: fitted on the `fit` rows (centres of
 * geometry removed, then the QCP rotation), measured on the `measure` rows. A frame is
 * read in place: rows of 3 values, `frameRows` of them from `from`.
 */
export class Fitter {
  readonly fitCount: number;
  readonly measureCount: number;
  /** the measure rows are the fit rows: the RMSD is QCP's, no rotation needed */
  readonly measureIsFit: boolean;
  /** the reference's fit rows, centred, packed */
  private readonly refFit: Float64Array;
  private readonly refFitSquares: number;
  /** the centre of the reference's fit rows */
  readonly refCentre = new Float64Array(3);
  /** the reference's measure rows less refCentre, packed */
  private readonly refMeasure: Float64Array;
  /** of the last frame superposed: its fit rows' centre, and the rotation onto the reference */
  readonly centre = new Float64Array(3);
  readonly rotation = new Float64Array(9);
  private readonly m = new Float64Array(9);

  constructor(
    reference: Float64Array,
    private readonly frameRows: number,
    private readonly fit?: Int32Array,
    private readonly measure?: Int32Array,
  ) {
    this.fitCount = fit ? fit.length : frameRows;
    this.measureCount = measure ? measure.length : frameRows;
    if (this.fitCount === 0) throw new Error('no atom to fit on');
    this.measureIsFit = sameRows(fit, measure) || (fit === undefined && measure?.length === frameRows) || (measure === undefined && fit?.length === frameRows);
    centroid(reference, 0, fit, frameRows, this.refCentre);
    this.refFit = new Float64Array(this.fitCount * 3);
    this.refFitSquares = centredRows(reference, 0, fit, frameRows, this.refCentre, this.refFit);
    this.refMeasure = this.measureIsFit ? this.refFit : new Float64Array(this.measureCount * 3);
    if (!this.measureIsFit) centredRows(reference, 0, measure, frameRows, this.refCentre, this.refMeasure);
  }

  /** Superposes the frame at values[from]: its least RMSD on the fit rows; with `rotate`, also the rotation. */
  superpose(values: Float64Array, from: number, rotate: boolean): number {
    centroid(values, from, this.fit, this.frameRows, this.centre);
    const squares = innerProduct(this.refFit, values, from, this.fit, this.frameRows, this.centre, this.m);
    return qcp(this.m, this.refFitSquares, squares, this.fitCount, rotate ? this.rotation : undefined).rmsd;
  }

  /** The RMSD of the frame at values[from] to the reference on the measure rows, after the superposition on the fit rows. */
  rmsd(values: Float64Array, from: number): number {
    if (this.measureIsFit) return this.superpose(values, from, false);
    this.superpose(values, from, true);
    const [c, r, ref, rows] = [this.centre, this.rotation, this.refMeasure, this.measure];
    let squares = 0;
    for (let k = 0; k < this.measureCount; k++) {
      const i = from + (rows ? rows[k]! : k) * 3;
      const x = values[i]! - c[0]!;
      const y = values[i + 1]! - c[1]!;
      const z = values[i + 2]! - c[2]!;
      const dx = r[0]! * x + r[1]! * y + r[2]! * z - ref[k * 3]!;
      const dy = r[3]! * x + r[4]! * y + r[5]! * z - ref[k * 3 + 1]!;
      const dz = r[6]! * x + r[7]! * y + r[8]! * z - ref[k * 3 + 2]!;
      squares += dx * dx + dy * dy + dz * dz;
    }
    return Math.sqrt(squares / this.measureCount);
  }

  /** Every row of the frame at values[from], moved onto the reference (rotated about its fit centre, placed at the reference's), into out[0 ...]. */
  transform(values: Float64Array, from: number, out: Float64Array): void {
    this.superpose(values, from, true);
    const [c, r, t] = [this.centre, this.rotation, this.refCentre];
    for (let k = 0; k < this.frameRows; k++) {
      const i = from + k * 3;
      const x = values[i]! - c[0]!;
      const y = values[i + 1]! - c[1]!;
      const z = values[i + 2]! - c[2]!;
      out[k * 3] = r[0]! * x + r[1]! * y + r[2]! * z + t[0]!;
      out[k * 3 + 1] = r[3]! * x + r[4]! * y + r[5]! * z + t[1]!;
      out[k * 3 + 2] = r[6]! * x + r[7]! * y + r[8]! * z + t[2]!;
    }
  }
}
