/**
 * Writes synthetic DCD files, following the record layout of the format (Fortran
 * unformatted, 4-byte markers), and the .npy of the same coordinates for numpy oracles.
 */
import { writeFileSync } from 'node:fs';
import { npyHeader } from '../../lib/core/npy.ts';

export interface SyntheticDcd {
  atoms: number;
  /** (frames, atoms, 3) row-major */
  coords: Float32Array;
  littleEndian?: boolean;
  /** six float64 per frame: writes the unit-cell record and sets ICNTRL[10] */
  cells?: number[][];
  /** adds a W record per frame (filled with `wValue`) and sets ICNTRL[11] */
  fourD?: boolean;
  wValue?: number;
  /** ICNTRL[19]; 0 writes an X-PLOR header (float64 DELTA) */
  charmmVersion?: number;
  /** NSET in the header; defaults to the true frame count */
  nset?: number;
  istart?: number;
  nsavc?: number;
  delta?: number;
  namnf?: number;
  /**
   * Fixed atoms, as CHARMM writes them: the 0-based indices of the free atoms (NAMNF is
   * the rest, unless `namnf` says otherwise), a record of their 1-based indices after
   * NATOM, frame 0 with every atom and later frames with the free atoms only, in this order.
   */
  freeAtoms?: number[];
  title?: string[];
}

export function frameCountOf(d: SyntheticDcd): number {
  return d.coords.length / (d.atoms * 3);
}

export function encodeDcd(d: SyntheticDcd): Uint8Array {
  const le = d.littleEndian ?? true;
  const frames = frameCountOf(d);
  const version = d.charmmVersion ?? 24;
  const title = d.title ?? ['* SYNTHETIC TRAJECTORY FOR FANOUT TESTS', '* WRITTEN BY test/helpers/dcd.ts'];
  const cellBytes = d.cells ? 56 : 0;
  const axes = d.fourD ? 4 : 3;
  const free = d.freeAtoms;
  const frameBytes = cellBytes + axes * (d.atoms * 4 + 8);
  const freeFrameBytes = free ? cellBytes + axes * (free.length * 4 + 8) : frameBytes;
  const titleBytes = 4 + 80 * title.length;
  const headerBytes = 92 + titleBytes + 8 + 12 + (free ? 8 + 4 * free.length : 0);
  const out = new Uint8Array(headerBytes + (frames > 0 ? frameBytes + (frames - 1) * freeFrameBytes : 0));
  const view = new DataView(out.buffer);
  let at = 0;
  const i32 = (v: number): void => {
    view.setInt32(at, v, le);
    at += 4;
  };
  i32(84);
  out.set([0x43, 0x4f, 0x52, 0x44], at);
  at += 4;
  const icntrl = new Array<number>(20).fill(0);
  icntrl[0] = d.nset ?? frames;
  icntrl[1] = d.istart ?? 0;
  icntrl[2] = d.nsavc ?? 1;
  icntrl[3] = (d.istart ?? 0) + frames * (d.nsavc ?? 1);
  icntrl[8] = d.namnf ?? (free ? d.atoms - free.length : 0);
  icntrl[19] = version;
  const icntrlAt = at;
  for (const v of icntrl) i32(v);
  if (version !== 0) {
    view.setFloat32(icntrlAt + 36, d.delta ?? 0.02, le);
    view.setInt32(icntrlAt + 40, d.cells ? 1 : 0, le);
    view.setInt32(icntrlAt + 44, d.fourD ? 1 : 0, le);
  } else {
    view.setFloat64(icntrlAt + 36, d.delta ?? 0.02, le);
  }
  i32(84);
  i32(titleBytes);
  i32(title.length);
  for (const line of title) {
    const padded = line.padEnd(80, ' ').slice(0, 80);
    for (let k = 0; k < 80; k++) out[at + k] = padded.charCodeAt(k);
    at += 80;
  }
  i32(titleBytes);
  i32(4);
  i32(d.atoms);
  i32(4);
  if (free) {
    i32(free.length * 4);
    for (const a of free) i32(a + 1);
    i32(free.length * 4);
  }
  for (let f = 0; f < frames; f++) {
    const written = free && f > 0 ? free : undefined;
    if (d.cells) {
      i32(48);
      for (const v of d.cells[f]!) {
        view.setFloat64(at, v, le);
        at += 8;
      }
      i32(48);
    }
    for (let axis = 0; axis < axes; axis++) {
      const n = written ? written.length : d.atoms;
      i32(n * 4);
      for (let k = 0; k < n; k++) {
        const a = written ? written[k]! : k;
        view.setFloat32(at, axis === 3 ? (d.wValue ?? 1e30) : d.coords[(f * d.atoms + a) * 3 + axis]!, le);
        at += 4;
      }
      i32(n * 4);
    }
  }
  return out;
}

export function writeDcd(path: string, d: SyntheticDcd): Uint8Array {
  const bytes = encodeDcd(d);
  writeFileSync(path, bytes);
  return bytes;
}

/** The same coordinates as a little-endian float32 .npy of shape (frames, atoms, 3). */
export function writeCoordsNpy(path: string, d: SyntheticDcd): void {
  const header = npyHeader('<f4', [frameCountOf(d), d.atoms, 3]);
  const data = new Uint8Array(d.coords.buffer, d.coords.byteOffset, d.coords.byteLength);
  const out = new Uint8Array(header.length + data.length);
  out.set(header, 0);
  out.set(data, header.length);
  writeFileSync(path, out);
}

/**
 * Deterministic pseudo-random coordinates (a small xorshift generator): atoms scattered
 * around a drifting centre, with magnitudes from 1e-3 to 1e3 so sums round.
 */
export function randomCoords(frames: number, atoms: number, seed = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const out = new Float32Array(frames * atoms * 3);
  for (let f = 0; f < frames; f++) {
    for (let i = 0; i < atoms * 3; i++) out[f * atoms * 3 + i] = (next() - 0.5) * 10 ** (next() * 6 - 3) + f * 1e-3;
  }
  return out;
}
