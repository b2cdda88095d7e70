/**
 * The coordinates of a structure file, for a reference structure (rmsd --reference):
 * PDB (ATOM and HETATM records of the first model, columns 31-54, Å) and GRO (GROMACS:
 * the atom count on line 2, then fixed columns of x, y, z in nm). Only coordinates are
 * read: the atoms must be the trajectory's, in its order.
 */
import { InputError } from './errors.ts';

export interface StructureCoordinates {
  /** x, y, z of every atom, row-major */
  coordinates: Float64Array;
  lengthUnit: 'Å' | 'nm';
}

export function readStructureFile(name: string, bytes: Uint8Array): StructureCoordinates {
  const text = new TextDecoder().decode(bytes);
  return /\.gro$/i.test(name) ? readGro(name, text) : readPdb(name, text);
}

function number(name: string, offset: number, field: string): number {
  const x = Number(field.trim());
  if (field.trim() === '' || !Number.isFinite(x)) throw new InputError(name, offset, `not a coordinate: ${JSON.stringify(field)}`);
  return x;
}

function readPdb(name: string, text: string): StructureCoordinates {
  const out: number[] = [];
  let offset = 0;
  for (const line of text.split('\n')) {
    const record = line.slice(0, 6);
    if (record === 'ENDMDL' || record.trimEnd() === 'END') break;
    if (record === 'ATOM  ' || record === 'HETATM') {
      out.push(number(name, offset + 30, line.slice(30, 38)), number(name, offset + 38, line.slice(38, 46)), number(name, offset + 46, line.slice(46, 54)));
    }
    offset += line.length + 1;
  }
  if (out.length === 0) throw new InputError(name, 0, 'no ATOM or HETATM record: not a PDB file?');
  return { coordinates: Float64Array.from(out), lengthUnit: 'Å' };
}

function readGro(name: string, text: string): StructureCoordinates {
  const lines = text.split('\n');
  const atoms = Number(lines[1]?.trim());
  if (!Number.isInteger(atoms) || atoms < 1) throw new InputError(name, (lines[0]?.length ?? 0) + 1, `line 2 must be the atom count, not ${JSON.stringify(lines[1] ?? '')}`);
  const out = new Float64Array(atoms * 3);
  let offset = (lines[0]?.length ?? 0) + (lines[1]?.length ?? 0) + 2;
  for (let i = 0; i < atoms; i++) {
    const line = lines[2 + i];
    if (line === undefined) throw new InputError(name, offset, `${atoms} atoms announced, ${i} found`);
    for (let k = 0; k < 3; k++) out[i * 3 + k] = number(name, offset + 20 + k * 8, line.slice(20 + k * 8, 28 + k * 8));
    offset += line.length + 1;
  }
  return { coordinates: out, lengthUnit: 'nm' };
}
