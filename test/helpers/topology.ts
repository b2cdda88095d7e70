/**
 * Small systems for selection tests: a solvated peptide written as PDB by hand (CHARMM
 * atom names, an insertion code, a segment id), then as GROMACS writes it (gmx editconf to
 * .gro and .pdb), and what MDAnalysis's select_atoms picks in any topology file.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ROOT } from './cli.ts';
import { mdaPython } from './md.ts';

/** Atom names per residue (CHARMM's), backbone first as CHARMM writes them. */
const RESIDUES: Record<string, string[]> = {
  ALA: ['N', 'HN', 'CA', 'HA', 'CB', 'HB1', 'HB2', 'HB3', 'C', 'O'],
  GLY: ['N', 'HN', 'CA', 'HA1', 'HA2', 'C', 'O'],
  SER: ['N', 'HN', 'CA', 'HA', 'CB', 'HB1', 'HB2', 'OG', 'HG1', 'C', 'O'],
  LYS: ['N', 'HN', 'CA', 'HA', 'CB', 'HB1', 'HB2', 'CG', 'HG1', 'HG2', 'CD', 'HD1', 'HD2', 'CE', 'HE1', 'HE2', 'NZ', 'HZ1', 'HZ2', 'HZ3', 'C', 'O'],
  HSD: ['N', 'HN', 'CA', 'HA', 'CB', 'HB1', 'HB2', 'ND1', 'HD1', 'CG', 'CE1', 'HE1', 'NE2', 'CD2', 'HD2', 'C', 'O'],
  PRO: ['N', 'CD', 'HD1', 'HD2', 'CA', 'HA', 'CB', 'HB1', 'HB2', 'CG', 'HG1', 'HG2', 'C', 'O'],
  TRP: ['N', 'HN', 'CA', 'HA', 'CB', 'HB1', 'HB2', 'CG', 'CD1', 'HD1', 'NE1', 'HE1', 'CE2', 'CD2', 'CE3', 'HE3', 'CZ3', 'HZ3', 'CZ2', 'HZ2', 'CH2', 'HH2', 'C', 'O'],
};

export interface PdbAtom {
  name: string;
  resname: string;
  resid: number;
  icode?: string;
  chain?: string;
  segid?: string;
  x: number;
  y: number;
  z: number;
}

/** A peptide of `residues` residues (cycling through RESIDUES, C-terminal OT1/OT2, one insertion code), waters, ions and a ligand whose atoms carry backbone names. */
export function solvatedPeptide(residues = 24, waters = 30): PdbAtom[] {
  const atoms: PdbAtom[] = [];
  const kinds = Object.keys(RESIDUES);
  let k = 0;
  const place = () => {
    k++;
    return { x: 10 + ((k * 7) % 23) * 0.9, y: 12 + ((k * 11) % 19) * 0.8, z: 9 + ((k * 5) % 29) * 0.7 };
  };
  for (let r = 1; r <= residues; r++) {
    const resname = kinds[r % kinds.length]!;
    let names = RESIDUES[resname]!;
    if (r === residues) names = [...names.filter((n) => n !== 'O'), 'OT1', 'OT2'];
    for (const name of names) atoms.push({ name, resname, resid: r, chain: 'A', segid: 'PROA', ...place() });
    // an inserted residue after residue 5: 5A
    if (r === 5) for (const name of RESIDUES.GLY!) atoms.push({ name, resname: 'GLY', resid: 5, icode: 'A', chain: 'A', segid: 'PROA', ...place() });
  }
  for (const name of ['C1', 'CA', 'N', 'O', 'C']) atoms.push({ name, resname: 'LIG', resid: residues + 1, chain: 'B', segid: 'HETA', ...place() });
  for (let w = 0; w < waters; w++) for (const name of ['OW', 'HW1', 'HW2']) atoms.push({ name, resname: 'SOL', resid: residues + 2 + w, chain: 'W', segid: 'SOLV', ...place() });
  for (let i = 0; i < 3; i++) atoms.push({ name: i < 2 ? 'NA' : 'CL', resname: i < 2 ? 'NA' : 'CL', resid: residues + 2 + waters + i, chain: 'I', segid: 'IONS', ...place() });
  return atoms;
}

/** PDB ATOM records in the fixed columns (atom names of fewer than 4 characters start in column 14). */
export function pdbText(atoms: PdbAtom[]): string {
  const f = (x: number) => x.toFixed(3).padStart(8);
  const lines = atoms.map((a, i) => {
    const name = a.name.length >= 4 ? a.name : ` ${a.name.padEnd(3)}`;
    return `ATOM  ${String(i + 1).padStart(5)} ${name} ${a.resname.padEnd(4)}${a.chain ?? ' '}${String(a.resid).padStart(4)}${a.icode ?? ' '}   ${f(a.x)}${f(a.y)}${f(a.z)}  1.00  0.00      ${(a.segid ?? '').padEnd(4)}${a.name[0]!.padStart(2)}`;
  });
  return `CRYST1   60.000   60.000   60.000  90.00  90.00  90.00 P 1           1\n${lines.join('\n')}\nEND\n`;
}

/** `gmx editconf -f input -o output`: GROMACS' own writer for .gro and .pdb. */
export function gmxEditconf(input: string, output: string): void {
  const r = spawnSync('gmx', ['-quiet', 'editconf', '-f', input, '-o', output], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gmx editconf failed (${r.status}): ${r.stderr.slice(-2000)}`);
}

export function writePdb(path: string, atoms: PdbAtom[]): void {
  writeFileSync(path, pdbText(atoms));
}

/** MDAnalysis's select_atoms for each expression: the 0-based indices, or the error's class name when it refuses. */
export function mdaSelect(topology: string, expressions: string[]): (number[] | string)[] {
  return mdaPython<(number[] | string)[]>(
    `
u = mda.Universe(args['top'])
out = []
for e in args['exprs']:
    try:
        out.append([int(i) for i in u.select_atoms(e).indices])
    except Exception as x:
        out.append(type(x).__name__)
print(json.dumps(out))`,
    { top: topology, exprs: expressions },
  );
}

/** AdK (4AKE, 3341 atoms, CHARMM names) from MDAnalysis's test data, decompressed to `dir`: the topology of ../shared/data/md/adk_dims.dcd (test/fixtures/topology/README.md). */
export function adkOpenPdb(dir: string): string {
  const path = join(dir, 'adk_open.pdb');
  writeFileSync(path, gunzipSync(readFileSync(join(ROOT, 'test/fixtures/topology/adk_open.pdb.gz'))));
  return path;
}
