/**
 * The selection language against MDAnalysis 2.4.2's select_atoms, atom for atom, on the
 * shared CHARMM PSF, on PDB and GRO files that MDAnalysis and GROMACS (gmx editconf)
 * write during the test, and on a solvated peptide for protein and backbone.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { selectAtoms, SelectionSyntaxError } from '../../../lib/core/selection/language.ts';
import { readTopology, type Topology } from '../../../lib/core/selection/topology.ts';
import { tempDir } from '../../helpers/cli.ts';
import { gmxMissing, mdaMissing, mdaPython, mdDataMissing, mdFile, skipNote } from '../../helpers/md.ts';
import { adkOpenPdb, gmxEditconf, mdaSelect, solvatedPeptide, writePdb } from '../../helpers/topology.ts';

const dir = tempDir('fanout-select-');
afterAll(() => dir.cleanup());

const read = (path: string): Topology => readTopology(path, readFileSync(path, 'latin1'));

/** fanout's answer as MDAnalysis's: indices, or the refusal. */
function ours(top: Topology, expr: string): number[] | string {
  try {
    return Array.from(selectAtoms(top, expr));
  } catch (e) {
    if (e instanceof SelectionSyntaxError) return 'SelectionError';
    throw e;
  }
}

function compare(path: string, expressions: string[]): void {
  const top = read(path);
  const theirs = mdaSelect(path, expressions);
  expressions.forEach((e, i) => {
    const want = theirs[i]!;
    const got = ours(top, e);
    // MDAnalysis refuses with SelectionError or ValueError: any refusal is one here.
    if (typeof want === 'string') expect(typeof got, `${e}: MDAnalysis refuses (${want})`).toBe('string');
    else expect(got, e).toEqual(want);
  });
}

const WATER = [
  'all',
  'name OH2',
  'name H*',
  'name H?',
  'name [HO]*',
  'name [!H]*',
  'resname TIP3',
  'resname TIP3 and name H1',
  'resid 1:10',
  'resid 5-7 12',
  'resid 100 to 125',
  'resid 3 : 4',
  'resid 9: 11',
  'resnum 20:22',
  'index 0:9 or resid 50',
  'index 17',
  'index 370-374',
  'bynum 1:4',
  'segid SOLV',
  'segid S*',
  'not name OH2 and resid 3:5',
  'not (name OH2 and resid 3:5)',
  'name OH2 or name H1 and resid 1:3',
  'resid 1:3 and name OH2 or name H1',
  '(resid 1 or resid 2) and not name H2',
  'not not resid 4',
  'protein',
  'backbone',
  'not protein',
  'name',
  'resid 1:',
  'foo 3',
  '(resid 1',
  'resid 1)',
  'resid 1 and',
  'resid 2A',
];

describe.skipIf(Boolean(mdDataMissing || mdaMissing))(skipNote('selections on the shared CHARMM PSF (tip125_tric_C36.psf) pick what MDAnalysis picks', mdDataMissing, mdaMissing), () => {
  it('PSF', () => compare(mdFile('tip125_tric_C36.psf'), WATER));

  it('PDB and GRO that MDAnalysis writes from it', () => {
    const psf = join(dir.path, 'tip125.psf');
    copyFileSync(mdFile('tip125_tric_C36.psf'), psf);
    mdaPython(
      `
u = mda.Universe(args['psf'], args['dcd'])
u.atoms.write(args['pdb'])
u.atoms.write(args['gro'])
print('null')`,
      { psf, dcd: mdFile('tip125_tric_C36.dcd'), pdb: join(dir.path, 'tip125.pdb'), gro: join(dir.path, 'tip125.gro') },
    );
    compare(join(dir.path, 'tip125.pdb'), WATER);
    compare(join(dir.path, 'tip125.gro'), WATER);
  });
});

/** The shared PSF's atoms rewritten in CHARMM's EXT and NAMD layouts, in two segments whose resids restart. */
function rewrittenPsf(layout: 'EXT' | 'NAMD'): string {
  const lines = readFileSync(mdFile('tip125_tric_C36.psf'), 'latin1').split('\n');
  const at = lines.findIndex((l) => l.includes('!NATOM'));
  const n = Number(lines[at]!.trim().split(/\s+/)[0]);
  const atoms = lines.slice(at + 1, at + 1 + n).map((l) => {
    const [id, , resid, resname, name, type, charge, mass] = l.trim().split(/\s+/);
    const second = Number(resid) > 60;
    return { id: id!, seg: second ? 'WAT2' : 'WAT1', resid: String(second ? Number(resid) - 60 : Number(resid)), resname: second && Number(resid) % 7 === 0 ? 'SPC' : resname!, name: name!, type: type!, charge: charge!, mass: mass! };
  });
  const body = atoms.map((a) =>
    layout === 'NAMD'
      ? `${a.id} ${a.seg} ${a.resid} ${a.resname} ${a.name} ${a.type} ${a.charge} ${a.mass} 0`
      : // (I10,1X,A8,1X,A8,1X,A8,1X,A8,1X,A4,1X,2G14.6,I8)
        `${a.id.padStart(10)} ${a.seg.padEnd(8)} ${a.resid.padEnd(8)} ${a.resname.padEnd(8)} ${a.name.padEnd(8)} ${a.type.padEnd(4)} ${a.charge.padStart(14)}${a.mass.padStart(14)}${'0'.padStart(8)}`,
  );
  return `PSF ${layout} CMAP CHEQ\n\n       1 !NTITLE\n* rewritten by fanout's tests\n\n${String(n).padStart(10)} !NATOM\n${body.join('\n')}\n\n`;
}

describe.skipIf(Boolean(mdDataMissing || mdaMissing))(skipNote('selections on PSF files in the EXT and NAMD layouts pick what MDAnalysis picks', mdDataMissing, mdaMissing), () => {
  it.each(['EXT', 'NAMD'] as const)('%s', (layout) => {
    const path = join(dir.path, `tip125-${layout}.psf`);
    writeFileSync(path, rewrittenPsf(layout));
    compare(path, [...WATER, 'segid WAT2 and resid 1:3', 'resname SPC', 'resid 5 and not segid WAT1']);
  });
});

describe.skipIf(Boolean(mdaMissing))(skipNote('resids that wrap (GRO past 99,999, PDB past 9,999) are unwrapped as MDAnalysis unwraps them', mdaMissing), () => {
  it('GRO', () => {
    const n = 100_010;
    const lines = Array.from({ length: n }, (_, i) => `${String((i + 1) % 100000).padStart(5)}${(i % 3 ? 'SOL' : 'NA').padEnd(5)}${(i % 3 ? 'OW' : 'NA').padStart(5)}${String((i + 1) % 100000).padStart(5)}   0.100   0.200   0.300`);
    const path = join(dir.path, 'wrap.gro');
    writeFileSync(path, `wrapped resids\n${n}\n${lines.join('\n')}\n  10.00000  10.00000  10.00000\n`);
    compare(path, ['resid 99998:100003', 'resid 0:2', 'resid 100000', 'resid 100008 to 100010', 'index 99990:100009 and resname NA']);
  });

  it('PDB', () => {
    const atoms = Array.from({ length: 10_010 }, (_, i) => ({ name: 'OW', resname: 'SOL', resid: (i + 1) % 10000, chain: 'W', x: 1, y: 2, z: 3 }));
    const path = join(dir.path, 'wrap.pdb');
    writePdb(path, atoms);
    compare(path, ['resid 9998:10003', 'resid 0:2', 'resid 10000', 'resid 1:2']);
  });
});

const PEPTIDE = [
  'protein',
  'backbone',
  'not protein',
  'protein and not backbone',
  'backbone and resid 1:5',
  'backbone or resname SOL',
  'name CA',
  'name CA and not protein',
  'name C*',
  'name C? and resname LYS',
  'name OT*',
  'resname ALA GLY',
  'resname S* H*',
  'resname [AG]LY',
  'resid 3:7',
  'resid 5',
  'resid 5A',
  'resid 5:5A',
  'resid 4A-6',
  'resid 5-7 10',
  'resid 2 to 4',
  'index 0:20',
  'bynum 1:10',
  'segid PROA',
  'segid PROA and name N',
  'segid SOLV IONS',
  'resname NA CL',
  'not (name H* or resname SOL)',
  'name CA or name CB and resid 1:5',
  'not name H* and resid 1:3',
  '(resid 1:3 or resid 8) and backbone',
  'protein and (name N or name CA) and not resid 2:20',
  'all and not all',
];

describe.skipIf(Boolean(mdaMissing))(skipNote('selections on a solvated peptide (protein, backbone, insertion codes, segments) pick what MDAnalysis picks', mdaMissing), () => {
  it('PDB written by hand', () => {
    const pdb = join(dir.path, 'peptide.pdb');
    writePdb(pdb, solvatedPeptide());
    compare(pdb, PEPTIDE);
  });

  it.skipIf(Boolean(gmxMissing))(skipNote('GRO and PDB that GROMACS writes (gmx editconf)', gmxMissing), () => {
    const pdb = join(dir.path, 'peptide-in.pdb');
    writePdb(pdb, solvatedPeptide());
    gmxEditconf(pdb, join(dir.path, 'peptide-gmx.gro'));
    gmxEditconf(pdb, join(dir.path, 'peptide-gmx.pdb'));
    const gro = read(join(dir.path, 'peptide-gmx.gro'));
    expect(gro.atoms).toBe(solvatedPeptide().length);
    compare(join(dir.path, 'peptide-gmx.gro'), PEPTIDE.filter((e) => !/\d[A-Z]/.test(e)));
    compare(join(dir.path, 'peptide-gmx.pdb'), PEPTIDE);
  });
});

describe.skipIf(Boolean(mdaMissing))(skipNote('selections on a real protein (AdK, adk_open.pdb of the MDAnalysis test data) pick what MDAnalysis picks', mdaMissing), () => {
  it('adk_open.pdb, and the GRO GROMACS writes of it', () => {
    const pdb = adkOpenPdb(dir.path);
    const exprs = [
      ...PEPTIDE.filter((e) => !/\d[A-Z]|segid/.test(e)),
      'segid 4AKE',
      'resname HSD HSE HSP',
      'backbone and resid 122:159',
      'protein and not (backbone or name H*)',
      'name CA and (resid 1:29 or resid 60:121 or resid 160:214)',
      'resid 213:214',
    ];
    compare(pdb, exprs);
    expect(read(pdb).atoms).toBe(3341);
    if (!gmxMissing) {
      gmxEditconf(pdb, join(dir.path, 'adk-gmx.gro'));
      compare(join(dir.path, 'adk-gmx.gro'), exprs.filter((e) => !e.includes('segid')));
    }
  });
});

describe('the language parses as MDAnalysis does', () => {
  const top: Topology = {
    name: 't.gro',
    format: 'gro',
    atoms: 6,
    names: ['N', 'CA', 'C', 'O', 'OW', 'HW1'],
    resnames: ['ALA', 'ALA', 'ALA', 'ALA', 'SOL', 'SOL'],
    resids: Int32Array.from([1, 1, 1, 1, 2, 2]),
    segids: new Array(6).fill('SYSTEM'),
  };
  const sel = (e: string) => Array.from(selectAtoms(top, e));

  it('and and or share one precedence, from the left; not takes one term', () => {
    expect(sel('name N or name OW and resid 2')).toEqual([4]);
    expect(sel('name N or (name OW and resid 2)')).toEqual([0, 4]);
    expect(sel('not name N and resid 1')).toEqual([1, 2, 3]);
    expect(sel('not (name N or resid 1)')).toEqual([4, 5]);
  });

  it('a keyword takes every value up to the next keyword', () => {
    expect(sel('name N CA O')).toEqual([0, 1, 3]);
    expect(sel('resname SOL ALA and name CA HW1')).toEqual([1, 5]);
  });

  it.each(['', 'name', 'resid', 'and name N', 'name N and', 'around 5 name N', 'type C', '(name N', 'name N)', 'resid 1A'])('refuses %j', (e) => {
    expect(() => selectAtoms(top, e)).toThrow(SelectionSyntaxError);
  });
});
