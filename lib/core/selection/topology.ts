/**
 * Topology files read for atom selections: per atom its name, residue name, residue id
 * (and insertion code, PDB) and segment id, read field by field as MDAnalysis 2.4.2's
 * parsers read them (PSFParser, GROParser, PDBParser), so that a selection picks the same
 * atoms as its select_atoms. Text in, arrays out: no file system here.
 */
import { InputError } from '../errors.ts';

export interface Topology {
  /** the file it was read from, for messages */
  name: string;
  format: 'psf' | 'gro' | 'pdb';
  atoms: number;
  names: string[];
  resnames: string[];
  resids: Int32Array;
  segids: string[];
  /** PDB only: insertion codes ('' for none), which `resid` then takes into account as MDAnalysis does */
  icodes?: string[];
}

export type TopologyFormat = Topology['format'];

/** The format by the file's extension (as MDAnalysis guesses it). */
export function topologyFormatOf(name: string): TopologyFormat | undefined {
  const m = /\.(psf|gro|pdb|ent)$/i.exec(name);
  if (!m) return undefined;
  const ext = m[1]!.toLowerCase();
  return ext === 'ent' ? 'pdb' : (ext as TopologyFormat);
}

export function readTopology(name: string, text: string, format = topologyFormatOf(name)): Topology {
  if (format === 'psf') return readPsf(name, text);
  if (format === 'gro') return readGro(name, text);
  if (format === 'pdb') return readPdb(name, text);
  throw new InputError(name, 0, 'not a topology fanout reads: give a PSF, GRO or PDB file (by its extension)');
}

/** Lines with their byte offsets (for errors; ASCII files, so characters are bytes). */
function* lines(text: string): Generator<[string, number]> {
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf('\n', at);
    if (end < 0) end = text.length;
    const line = text.charCodeAt(end - 1) === 13 ? text.slice(at, end - 1) : text.slice(at, end);
    yield [line, at];
    at = end + 1;
  }
}

const INT = /^\s*[+-]?\d+\s*$/;
const toInt = (s: string): number | undefined => (INT.test(s) ? Number(s) : undefined);
/** What Python's float() takes (without underscores). */
const isFloat = (s: string): boolean => /^\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)\s*$/i.test(s);

/** CHARMM/X-PLOR/NAMD PSF: the !NATOM section (standard, EXT and NAMD layouts). */
export function readPsf(name: string, text: string): Topology {
  const it = lines(text);
  const next = (): [string, number] => {
    const r = it.next();
    if (r.done) throw new InputError(name, text.length, 'the PSF ends before its !NATOM section');
    return r.value;
  };
  const [header] = next();
  if (!header.startsWith('PSF')) throw new InputError(name, 0, 'not a PSF file: it does not start with PSF');
  const flags = header.slice(3).trim().split(/\s+/);
  let layout: 'STANDARD' | 'EXTENDED' | 'NAMD' = flags.includes('NAMD') ? 'NAMD' : flags.includes('EXT') ? 'EXTENDED' : 'STANDARD';
  next();
  const [titleLine, titleAt] = next();
  const title = titleLine.trim().split(/\s+/);
  if (title[1] !== '!NTITLE') throw new InputError(name, titleAt, 'not a PSF file: the third line is not the !NTITLE line');
  for (let i = 0; i < Number(title[0]); i++) next();
  let [sec, secAt] = next();
  while (sec.trim() === '') [sec, secAt] = next();
  const words = sec.trim().split(/\s+/);
  if (words[1]?.replace(/[!:]/g, '') !== 'NATOM') throw new InputError(name, secAt, `expected the !NATOM section, found ${JSON.stringify(sec.trim())}`);
  const atoms = Number(words[0]);
  if (!Number.isInteger(atoms) || atoms < 0) throw new InputError(name, secAt, `a bad atom count ${JSON.stringify(words[0])}`);
  const names: string[] = [];
  const resnames: string[] = [];
  const segids: string[] = [];
  const resids = new Int32Array(atoms);
  for (let i = 0; i < atoms; i++) {
    const [line, at] = next();
    // id, segid, resid, resname, name, then charge and mass (read only to decide, as MDAnalysis does, whether the line parses)
    const fields = (l: string, how: typeof layout): string[] =>
      how === 'STANDARD'
        ? [l.slice(0, 8), l.slice(9, 13).trim(), l.slice(14, 18), l.slice(19, 23).trim(), l.slice(24, 28).trim(), l.slice(34, 48), l.slice(48, 62)]
        : how === 'EXTENDED'
          ? [l.slice(0, 10), l.slice(11, 19).trim(), l.slice(20, 28), l.slice(29, 37).trim(), l.slice(38, 46).trim(), l.slice(52, 66), l.slice(66, 70)]
          : ((w) => [...w.slice(0, 5), w[6] ?? '', w[7] ?? ''])(l.trim().split(/\s+/));
    const parses = (f: string[]) => toInt(f[0]!) !== undefined && toInt(f[2]!) !== undefined && isFloat(f[5]!) && isFloat(f[6]!);
    let f = fields(line, layout);
    // MDAnalysis falls back to space-separated fields (an old NAMD PSF) at the first line that does not parse, and keeps them.
    if (!parses(f) && layout !== 'NAMD') {
      layout = 'NAMD';
      f = fields(line, layout);
    }
    const resid = toInt(f[2]!);
    if (!parses(f) || resid === undefined) throw new InputError(name, at, `atom ${i + 1} of the !NATOM section does not parse: ${JSON.stringify(line)}`);
    segids.push(f[1] || 'SYSTEM');
    resids[i] = resid;
    resnames.push(f[3]!);
    names.push(f[4]!);
  }
  return { name, format: 'psf', atoms, names, resnames, resids, segids };
}

/** GROMACS .gro: fixed columns, resids wrapping at 100,000 as MDAnalysis unwraps them. */
export function readGro(name: string, text: string): Topology {
  const it = lines(text);
  it.next();
  const countLine = it.next();
  const atoms = countLine.done ? undefined : toInt(countLine.value[0]);
  if (atoms === undefined || atoms < 0) throw new InputError(name, countLine.done ? 0 : countLine.value[1], 'not a .gro file: the second line is not the atom count');
  const names: string[] = [];
  const resnames: string[] = [];
  const resids = new Int32Array(atoms);
  for (let i = 0; i < atoms; i++) {
    const r = it.next();
    if (r.done) throw new InputError(name, text.length, `the file ends after ${i} of its ${atoms} atoms`);
    const [line, at] = r.value;
    const resid = toInt(line.slice(0, 5));
    if (resid === undefined || toInt(line.slice(15, 20)) === undefined) throw new InputError(name, at, `atom ${i + 1} does not parse: ${JSON.stringify(line)}`);
    const atomName = line.slice(10, 15).trim();
    if (atomName === '') throw new InputError(name, at, `atom ${i + 1} has no name`);
    resids[i] = resid;
    resnames.push(line.slice(5, 10).trim());
    names.push(atomName);
  }
  // A resid of 0 after the first atom starts a new block of 100,000 (5 digits wrapped).
  let add = 0;
  for (let i = 0; i < atoms; i++) {
    if (resids[i] === 0 && i > 0 && resids[i - 1]! - add !== 0) add += 100000;
    resids[i]! += add;
  }
  return { name, format: 'gro', atoms, names, resnames, resids, segids: new Array<string>(atoms).fill('SYSTEM') };
}

/** PDB ATOM/HETATM records up to the first END (the first model), as MDAnalysis's PDBParser. */
export function readPdb(name: string, text: string): Topology {
  const names: string[] = [];
  const resnames: string[] = [];
  const resids: number[] = [];
  const icodes: string[] = [];
  const segids: string[] = [];
  const chainids: string[] = [];
  let previous = 0;
  for (const [raw] of lines(text)) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('END')) break;
    if (!line.startsWith('ATOM') && !line.startsWith('HETATM')) continue;
    names.push(line.slice(12, 16).trim());
    resnames.push(line.slice(17, 21).trim());
    chainids.push(line.slice(21, 22).trim());
    let resid = toInt(line.slice(22, 26));
    if (resid === undefined) resid = 1;
    else {
      // 4-digit resids wrap at 10,000: MDAnalysis unwraps a drop of more than 5000.
      while (resid - previous < -5000) resid += 10000;
      previous = resid;
    }
    resids.push(resid);
    icodes.push(line.slice(26, 27).trim());
    segids.push(line.slice(66, 76).trim());
  }
  const seg = segids.some(Boolean) ? segids : chainids;
  return {
    name,
    format: 'pdb',
    atoms: names.length,
    names,
    resnames,
    resids: Int32Array.from(resids),
    // MDAnalysis names one empty segment SYSTEM only when no atom has a segid or chain
    segids: seg.some(Boolean) ? seg : seg.map(() => 'SYSTEM'),
    icodes,
  };
}
