/**
 * Unit cells per frame, for analyses that ask for them (the `needsBox` trait).
 *
 * A frame's box reaches an analysis as `dimensions`: a Float64Array of six values
 * (a, b, c, alpha, beta, gamma), lengths in the trajectory's length unit, angles in
 * degrees, exactly as MDAnalysis's `Timestep.dimensions` holds them: float32 values,
 * derived from what the file stores with MDAnalysis's own arithmetic (box vectors of
 * XTC and TRR through `triclinic_box`, CHARMM box matrices the same way, NAMD angle
 * cosines through arcsin). An analysis that must agree with MDAnalysis to the last
 * bit (rdf: which bin a distance on a bin edge falls in) then starts from the same box.
 */

const DEG_PER_RAD = 180 / Math.PI;

const f32 = Math.fround;

/** The six float32 dimensions, or zeros for an impossible box (MDAnalysis's `triclinic_box`). */
function checked(lx: number, ly: number, lz: number, alpha: number, beta: number, gamma: number): Float64Array {
  const box = Float64Array.of(f32(lx), f32(ly), f32(lz), f32(alpha), f32(beta), f32(gamma));
  if (box.every((x) => x > 0) && alpha < 180 && beta < 180 && gamma < 180) return box;
  return new Float64Array(6);
}

/** (a, b, c, alpha, beta, gamma) from three box vectors (a row each, 9 values): MDAnalysis's `lib.mdamath.triclinic_box`. */
export function dimensionsFromVectors(m: ArrayLike<number>): Float64Array {
  const dot = (i: number, j: number): number => m[i]! * m[j]! + m[i + 1]! * m[j + 1]! + m[i + 2]! * m[j + 2]!;
  const lx = Math.sqrt(dot(0, 0));
  const ly = Math.sqrt(dot(3, 3));
  const lz = Math.sqrt(dot(6, 6));
  const alpha = Math.acos(dot(3, 6) / (ly * lz)) * DEG_PER_RAD;
  const beta = Math.acos(dot(0, 6) / (lx * lz)) * DEG_PER_RAD;
  const gamma = Math.acos(dot(0, 3) / (lx * ly)) * DEG_PER_RAD;
  return checked(lx, ly, lz, alpha, beta, gamma);
}

/** From box lengths and angles as a file stores them (AMBER NetCDF): rounded to float32, as MDAnalysis keeps them. */
export function dimensionsFromLengths(a: number, b: number, c: number, alpha: number, beta: number, gamma: number): Float64Array {
  return Float64Array.of(f32(a), f32(b), f32(c), f32(alpha), f32(beta), f32(gamma));
}

/**
 * From a DCD unit-cell record [c0..c5], read the way lib/core/dcd.ts's cellToBox reads it
 * (a CHARMM box matrix, or NAMD's A, cos gamma, B, cos beta, cos alpha, C), with
 * MDAnalysis's arithmetic for each (its DCD reader guesses the convention from the
 * values instead; they agree on every file that follows its writer's convention).
 */
export function dimensionsFromDcdCell(cell: ArrayLike<number>, matrix: boolean): Float64Array {
  const [c0, c1, c2, c3, c4, c5] = [cell[0]!, cell[1]!, cell[2]!, cell[3]!, cell[4]!, cell[5]!];
  if (matrix) return dimensionsFromVectors([c0, c1, c3, c1, c2, c4, c3, c4, c5]);
  const halfPi = Math.PI / 2;
  // MDAnalysis: 90 - arcsin(x) * 90 / (pi / 2) for cosines; degrees as they are.
  const angle = (x: number): number => (x >= -1 && x <= 1 ? 90 - (Math.asin(x) * 90) / halfPi : x);
  const cosines = [c4, c3, c1].every((x) => x >= -1 && x <= 1);
  return cosines ? Float64Array.of(f32(c0), f32(c2), f32(c5), f32(angle(c4)), f32(angle(c3)), f32(angle(c1))) : Float64Array.of(f32(c0), f32(c2), f32(c5), f32(c4), f32(c3), f32(c1));
}

/**
 * The box matrix (a row per vector, lower triangular) of float32 dimensions, rounded to
 * float32 (`float32: true`, MDAnalysis's `triclinic_vectors` default, what its distance
 * kernels use) or kept in float64 (what its `box_volume` uses). Zeros for an impossible box.
 */
export function triclinicVectors(dims: ArrayLike<number>, float32 = true): Float64Array {
  const [lx, ly, lz, alpha, beta, gamma] = [dims[0]!, dims[1]!, dims[2]!, dims[3]!, dims[4]!, dims[5]!];
  const out = new Float64Array(9);
  if (!(lx > 0 && ly > 0 && lz > 0 && alpha > 0 && beta > 0 && gamma > 0 && alpha < 180 && beta < 180 && gamma < 180)) return out;
  const round = float32 ? f32 : (x: number): number => x;
  if (alpha === 90 && beta === 90 && gamma === 90) {
    out[0] = round(lx);
    out[4] = round(ly);
    out[8] = round(lz);
    return out;
  }
  // numpy's deg2rad is x * (pi / 180)
  const rad = Math.PI / 180;
  const cosAlpha = alpha === 90 ? 0 : Math.cos(alpha * rad);
  const cosBeta = beta === 90 ? 0 : Math.cos(beta * rad);
  const cosGamma = gamma === 90 ? 0 : Math.cos(gamma * rad);
  const sinGamma = gamma === 90 ? 1 : Math.sin(gamma * rad);
  out[0] = lx;
  out[3] = ly * cosGamma;
  out[4] = ly * sinGamma;
  out[6] = lz * cosBeta;
  out[7] = (lz * (cosAlpha - cosBeta * cosGamma)) / sinGamma;
  out[8] = Math.sqrt(lz * lz - out[6] * out[6] - out[7] * out[7]);
  if (!(out[8] > 0)) return new Float64Array(9);
  if (float32) for (let i = 0; i < 9; i++) out[i] = f32(out[i]!);
  return out;
}

/** The volume of a box: MDAnalysis's `lib.mdamath.box_volume` (the product of the float64 matrix's diagonal). */
export function boxVolume(dims: ArrayLike<number>): number {
  const [lx, ly, lz, alpha, beta, gamma] = [dims[0]!, dims[1]!, dims[2]!, dims[3]!, dims[4]!, dims[5]!];
  if (alpha === 90 && beta === 90 && gamma === 90 && lx > 0 && ly > 0 && lz > 0) return lx * ly * lz;
  const m = triclinicVectors(dims, false);
  return m[0]! * m[4]! * m[8]!;
}

/** Lengths scaled by `factor` (a unit conversion), angles kept: the one place a box changes unit. */
export function scaleDimensions(dims: Float64Array, factor: number): Float64Array {
  if (factor === 1) return dims;
  return Float64Array.of(dims[0]! * factor, dims[1]! * factor, dims[2]! * factor, dims[3]!, dims[4]!, dims[5]!);
}
