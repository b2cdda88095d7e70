import { describe, expect, it } from 'vitest';
import { centroid, centredRows, innerProduct, qcp } from '../../lib/core/superpose.ts';
import { python } from '../helpers/python.ts';

/** Kabsch by numpy's SVD: the least RMSD and the rotation R with ref ~ R mobile, for centred copies. */
const KABSCH = `
a = np.array(args['ref']).reshape(-1, 3); b = np.array(args['mobile']).reshape(-1, 3)
a = a - a.mean(axis=0); b = b - b.mean(axis=0)
u, s, vt = np.linalg.svd(b.T @ a)
d = np.sign(np.linalg.det(u @ vt))
r = (u @ np.diag([1, 1, d]) @ vt).T
print(json.dumps({'rmsd': float(np.sqrt(((a - b @ r.T) ** 2).sum() / len(a))), 'rotation': r.reshape(-1).tolist()}))`;

function superpose(ref: Float64Array, mobile: Float64Array, rows?: Int32Array) {
  const n = rows ? rows.length : ref.length / 3;
  const c = new Float64Array(3);
  const a = new Float64Array(n * 3);
  centroid(ref, 0, rows, ref.length / 3, c);
  const refSquares = centredRows(ref, 0, rows, ref.length / 3, c, a);
  centroid(mobile, 0, rows, mobile.length / 3, c);
  const m = new Float64Array(9);
  const mobileSquares = innerProduct(a, mobile, 0, rows, mobile.length / 3, c, m);
  const rotation = new Float64Array(9);
  return { ...qcp(m, refSquares, mobileSquares, n, rotation), rotation };
}

function cloud(seed: number, n: number, scale = 10): Float64Array {
  let s = seed;
  return Float64Array.from({ length: n * 3 }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648 - 0.5) * scale;
  });
}

/** mobile = R0 ref + t + noise */
function moved(ref: Float64Array, angle: number, noise: number, seed: number): Float64Array {
  const jitter = cloud(seed, ref.length / 3, noise);
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  const out = new Float64Array(ref.length);
  for (let i = 0; i < ref.length; i += 3) {
    const [x, y, z] = [ref[i]!, ref[i + 1]!, ref[i + 2]!];
    out[i] = c * x - s * z + 3 + jitter[i]!;
    out[i + 1] = 0.6 * y - 0.8 * (s * x + c * z) - 7 + jitter[i + 1]!;
    out[i + 2] = 0.8 * y + 0.6 * (s * x + c * z) + 1 + jitter[i + 2]!;
  }
  return out;
}

describe('qcp', () => {
  it.each([
    [50, 0.3, 0.5],
    [7, 2.5, 2],
    [1000, -1.2, 0.01],
    [3, 1, 0],
  ])('gives the least RMSD and the rotation of an SVD (Kabsch) superposition: %i points, angle %f, noise %f', (n, angle, noise) => {
    const ref = cloud(n, n);
    const mobile = moved(ref, angle, noise, n + 1);
    const want = python<{ rmsd: number; rotation: number[] }>(KABSCH, { ref: Array.from(ref), mobile: Array.from(mobile) });
    const got = superpose(ref, mobile);
    expect(Math.abs(got.rmsd - want.rmsd)).toBeLessThan(1e-9);
    got.rotation.forEach((v, i) => expect(Math.abs(v - want.rotation[i]!)).toBeLessThan(1e-8));
  });

  it('is zero for a set against itself, and against a rigidly moved copy, with the rotation that undoes the move', () => {
    const ref = cloud(3, 200);
    expect(superpose(ref, ref).rmsd).toBeLessThan(1e-6);
    const mobile = moved(ref, 0.7, 0, 5);
    const got = superpose(ref, mobile);
    expect(got.rmsd).toBeLessThan(1e-6);
    const want = python<{ rotation: number[] }>(KABSCH, { ref: Array.from(ref), mobile: Array.from(mobile) });
    got.rotation.forEach((v, i) => expect(Math.abs(v - want.rotation[i]!)).toBeLessThan(1e-8));
  });

  it('fits on the rows chosen, in their order, ignoring the others', () => {
    const ref = cloud(11, 40);
    const mobile = moved(ref, 1.1, 0.3, 12);
    const rows = Int32Array.from([0, 3, 4, 9, 20, 39]);
    const pick = (a: Float64Array) => Float64Array.from(Array.from(rows).flatMap((r) => [a[r * 3]!, a[r * 3 + 1]!, a[r * 3 + 2]!]));
    const want = python<{ rmsd: number }>(KABSCH, { ref: Array.from(pick(ref)), mobile: Array.from(pick(mobile)) });
    expect(Math.abs(superpose(ref, mobile, rows).rmsd - want.rmsd)).toBeLessThan(1e-9);
  });
});
