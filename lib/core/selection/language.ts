/**
 * Atom selections by expression, the language of MDAnalysis's select_atoms (2.4.2), for
 * the keywords fanout reads from a topology: `all`, `name`, `resname`, `resid`,
 * `resnum`, `segid`, `index`, `bynum`, `protein`, `backbone`, `not`, `and`, `or` and
 * parentheses. It parses as MDAnalysis does: `and` and `or` have one precedence and
 * group from the left (`a or b and c` is `(a or b) and c`), `not` takes the one term
 * after it; a keyword takes every word after it up to the next keyword; names match as
 * case-sensitive shell patterns (`name C*`, `name H?1`, `resname [AG]LY`); number
 * ranges are `10:20`, `10-20` or `10 to 20`, inclusive.
 */
import { UsageError } from '../errors.ts';
import type { Topology } from './topology.ts';

/**
 * Every keyword MDAnalysis knows: a keyword's values stop at any of them, as there,
 * and the ones fanout does not evaluate are refused by name.
 */
const MDA_KEYWORDS = new Set(
  'all altLoc altloc aromatic aromaticity around atom backbone bfactor bonded bynum byres chainID chainid charge chirality cylayer cyzone element epsilon epsilon14 formalcharge gbscreen global group icode id index isolayer mass model molnum moltype name nbindex not nucleic nucleicbackbone nucleicbase nucleicsugar occupancy point prop protein radius record_type resid resindex resname resnum rmin rmin14 same segid segindex smarts solventradius sphlayer sphzone tempfactor type'.split(
    ' ',
  ),
);
const isKeyword = (t: string | undefined): boolean => t === undefined || MDA_KEYWORDS.has(t) || t === 'and' || t === 'or' || t === '(' || t === ')';

/** ProteinSelection.prot_res of MDAnalysis 2.4.2. */
export const PROTEIN_RESIDUES = new Set(
  (
    'ALA ARG ASN ASP CYS GLN GLU GLY HSD HSE HSP ILE LEU LYS MET PHE PRO SER THR TRP TYR VAL ALAD HIS MSE ' +
    'ARGN ASPH CYS2 CYSH QLN PGLU GLUH HIS1 HISD HISE HISH LYSH ASN1 CYS1 HISA HISB HIS2 ' +
    'HID HIE HIP ORN DAB LYN HYP CYM CYX ASH GLH ACE NME ' +
    'NALA NGLY NSER NTHR NLEU NILE NVAL NASN NGLN NARG NHID NHIE NHIP NTRP NPHE NTYR NGLU NASP NLYS NPRO NCYS NCYX NMET ' +
    'CALA CGLY CSER CTHR CLEU CILE CVAL CASF CASN CGLN CARG CHID CHIE CHIP CTRP CPHE CTYR CGLU CASP CLYS CPRO CCYS CCYX CMET CME ASF'
  ).split(' '),
);
/** BackboneSelection.bb_atoms: atoms of these names in protein residues. */
export const BACKBONE_ATOMS = new Set(['N', 'CA', 'C', 'O']);

type Mask = Uint8Array;

/** A bad expression: the message says what and where (the caller names the option). */
export class SelectionSyntaxError extends Error {}

/** The atoms an expression selects, as ascending 0-based indices. */
export function selectAtoms(top: Topology, expression: string): Int32Array {
  const tokens = expression.replace(/\(/g, ' ( ').replace(/\)/g, ' ) ').split(/\s+/).filter(Boolean);
  let at = 0;
  const peek = (): string | undefined => tokens[at];
  const fail = (problem: string): never => {
    throw new SelectionSyntaxError(`${problem} in ${JSON.stringify(expression)}`);
  };
  const n = top.atoms;
  const where = (test: (i: number) => boolean): Mask => {
    const m = new Uint8Array(n);
    for (let i = 0; i < n; i++) if (test(i)) m[i] = 1;
    return m;
  };
  const values = (keyword: string): string[] => {
    const out: string[] = [];
    while (!isKeyword(peek())) out.push(tokens[at++]!);
    if (out.length === 0) fail(`${keyword} takes at least one value`);
    return out;
  };

  function expressionAt(p: number): Mask {
    let left = term();
    while ((peek() === 'and' || peek() === 'or') && 3 >= p) {
      const op = tokens[at++]!;
      const right = expressionAt(4);
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = op === 'and' ? left[i]! & right[i]! : left[i]! | right[i]!;
      left = out;
    }
    return left;
  }

  function term(): Mask {
    const t = tokens[at++];
    if (t === undefined) return fail('the expression ends where a selection was expected');
    switch (t) {
      case '(': {
        const inner = expressionAt(0);
        if (peek() !== ')') fail(peek() === undefined ? 'a ( is not closed' : `unexpected ${JSON.stringify(peek())} where ) was expected`);
        at++;
        return inner;
      }
      case 'not': {
        const inner = expressionAt(5);
        return inner.map((x) => 1 - x);
      }
      case 'all':
        return where(() => true);
      case 'name':
      case 'resname':
      case 'segid': {
        const patterns = values(t).map(globRegExp);
        const field = t === 'name' ? top.names : t === 'resname' ? top.resnames : top.segids;
        // Each distinct value is matched once, as MDAnalysis matches its table of names.
        const memo = new Map<string, boolean>();
        return where((i) => {
          const v = field[i]!;
          let hit = memo.get(v);
          if (hit === undefined) memo.set(v, (hit = patterns.some((re) => re.test(v))));
          return hit;
        });
      }
      case 'resid':
        return residMask(top, joinRanges(values(t)), fail);
      case 'resnum':
      case 'index':
      case 'bynum': {
        const ranges = joinRanges(values(t)).map((v) => intRange(v, fail));
        const valueOf = t === 'resnum' ? (i: number) => top.resids[i]! : t === 'index' ? (i: number) => i : (i: number) => i + 1;
        return where((i) => {
          const v = valueOf(i);
          return ranges.some(([lo, hi]) => (hi === undefined ? v === lo : v >= lo && v <= hi));
        });
      }
      case 'protein':
        return where((i) => PROTEIN_RESIDUES.has(top.resnames[i]!));
      case 'backbone':
        return where((i) => BACKBONE_ATOMS.has(top.names[i]!) && PROTEIN_RESIDUES.has(top.resnames[i]!));
      case ')':
      case 'and':
      case 'or':
        return fail(`unexpected ${JSON.stringify(t)}`);
      default:
        if (MDA_KEYWORDS.has(t)) return fail(`the keyword ${JSON.stringify(t)} is not supported by fanout (it reads: all, name, resname, resid, resnum, segid, index, bynum, protein, backbone, not, and, or, parentheses)`);
        return fail(`unknown selection keyword ${JSON.stringify(t)}`);
    }
  }

  const mask = expressionAt(0);
  if (at < tokens.length) fail(`unexpected ${JSON.stringify(tokens[at])} after a complete selection`);
  let count = 0;
  for (let i = 0; i < n; i++) count += mask[i]!;
  const out = new Int32Array(count);
  for (let i = 0, k = 0; i < n; i++) if (mask[i]) out[k++] = i;
  return out;
}

/** MDAnalysis's join_separated_values: `10 : 20`, `10: 20`, `10 to 20` are one range. */
function joinRanges(vals: string[]): string[] {
  const out: string[] = [];
  const delimiters = ['to', ':', '-'];
  const rest = [...vals];
  while (rest.length > 0) {
    const v = rest.shift()!;
    if (delimiters.includes(v)) {
      if (out.length === 0 || rest.length === 0) throw new SelectionSyntaxError(`a range with no ${out.length === 0 ? 'start' : 'end'}: ${[...out, v, ...rest].join(' ')}`);
      out[out.length - 1] = `${out[out.length - 1]} ${v} ${rest.shift()}`;
    } else if (out.length > 0 && (v.startsWith('--') || v.startsWith('to') || v.startsWith(':') || delimiters.some((d) => out[out.length - 1]!.endsWith(d)))) {
      out[out.length - 1] = `${out[out.length - 1]} ${v}`;
    } else out.push(v);
  }
  return out;
}

const INT = '-?\\d+';
const RANGE = '\\s*(?:[:-]| to )\\s*';

function intRange(v: string, fail: (p: string) => never): [number, number | undefined] {
  if (/^\s*[+-]?\d+\s*$/.test(v)) return [Number(v), undefined];
  const m = new RegExp(`^(${INT})${RANGE}(${INT})`).exec(v);
  if (!m) return fail(`${JSON.stringify(v)} is not a number or a range`);
  return [Number(m[1]), Number(m[2])];
}

/** `resid`: numbers and ranges, with insertion codes where the topology has them (PDB), as ResidSelection. */
function residMask(top: Topology, vals: string[], fail: (p: string) => never): Mask {
  const parsed = vals.map((v) => {
    const single = new RegExp(`^(${INT})(\\w?)$`).exec(v);
    if (single) return { lo: Number(single[1]), loCode: single[2]!, hi: undefined, hiCode: '' };
    const range = new RegExp(`^(${INT})(\\w?)${RANGE}(${INT})(\\w?)`).exec(v);
    if (!range) return fail(`${JSON.stringify(v)} is not a resid or a range of them`);
    return { lo: Number(range[1]), loCode: range[2]!, hi: Number(range[3]), hiCode: range[4]! };
  });
  const codes = top.icodes;
  if (!codes && parsed.some((p) => p.loCode || p.hiCode)) fail(`insertion codes given, and ${top.name} has none`);
  const mask = new Uint8Array(top.atoms);
  for (let i = 0; i < top.atoms; i++) {
    const v = top.resids[i]!;
    const c = codes?.[i] ?? '';
    for (const { lo, loCode, hi, hiCode } of parsed) {
      let hit: boolean;
      if (!codes) hit = hi === undefined ? v === lo : v >= lo && v <= hi;
      else if (hi === undefined) hit = v === lo && c === loCode;
      else if (lo === hi) hit = v === lo && c >= loCode && c <= hiCode;
      else hit = (v === lo && c >= loCode) || (v > lo && v < hi) || (v === hi && c <= hiCode);
      if (hit) {
        mask[i] = 1;
        break;
      }
    }
  }
  return mask;
}

/** Python's fnmatch.fnmatchcase pattern as a RegExp: `*`, `?`, `[seq]`, `[!seq]`. */
export function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '!') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j++;
      if (j >= pattern.length) re += '\\[';
      else {
        let body = pattern.slice(i + 1, j).replace(/\\/g, '\\\\');
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        else if (body.startsWith('^')) body = `\\${body}`;
        re += `[${body.replace(/\]/g, '\\]')}]`;
        i = j;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^(?:${re})$`);
}

/** selectAtoms for a command-line option: errors name the option and the topology. */
export function selectForOption(top: Topology, expression: string, flag: string): Int32Array {
  try {
    const atoms = selectAtoms(top, expression);
    if (atoms.length === 0) throw new UsageError(`${flag} ${JSON.stringify(expression)} selects no atom of ${top.name} (${top.atoms} atoms)`);
    return atoms;
  } catch (e) {
    if (e instanceof SelectionSyntaxError) throw new UsageError(`${flag}: ${e.message}`);
    throw e;
  }
}
