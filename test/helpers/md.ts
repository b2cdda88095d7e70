/**
 * MD tools as oracles: MDAnalysis 2.4.2 and MDTraj for Debian's /usr/bin/python3 (not
 * the python3 first on PATH, which has numpy only), GROMACS' gmx, and the real
 * trajectories of ../shared/data/md. Each probe says why it is missing, so a test can
 * say it was skipped and why (a fresh clone has no ../shared; CI installs the tools).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { describe } from 'vitest';
import { ROOT } from './cli.ts';

export const MD_DATA = resolve(ROOT, '../shared/data/md');
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** Why the real trajectories cannot be used, or '' when they can. */
export const mdDataMissing = existsSync(join(MD_DATA, 'adk_oplsaa.xtc')) ? '' : `${MD_DATA} is absent (the shared test data sits beside the checkout)`;

/** A file of the real trajectories. */
export const mdFile = (name: string): string => join(MD_DATA, name);

/** `describe` for tests that read the real trajectories: skipped where they are absent, with the reason printed once. */
export function describeMd(name: string, body: () => void): void {
  describe.skipIf(Boolean(mdDataMissing))(skipNote(name, mdDataMissing), body);
}

function probePython(module: string): string {
  if (!existsSync(SYSTEM_PYTHON)) return `${SYSTEM_PYTHON} is not installed`;
  const r = spawnSync(SYSTEM_PYTHON, ['-W', 'ignore', '-c', `import ${module}`], { encoding: 'utf8' });
  return r.status === 0 ? '' : `${SYSTEM_PYTHON} cannot import ${module} (apt-get install python3-${module.toLowerCase()})`;
}

/** Why MDAnalysis cannot be used, or ''. */
export const mdaMissing = probePython('MDAnalysis');

/** Why gmx cannot be used, or ''. */
export const gmxMissing = spawnSync('gmx', ['--version'], { encoding: 'utf8' }).status === 0 ? '' : 'gmx (GROMACS) is not on PATH (apt-get install gromacs)';

/** A test title that says it was skipped and why; also warns once on stderr. */
export function skipNote(title: string, ...reasons: string[]): string {
  const why = reasons.filter(Boolean).join('; ');
  if (!why) return title;
  console.warn(`${title} [SKIPPED: ${why}]`);
  return `${title} [SKIPPED: ${why}]`;
}

/** Runs a script under /usr/bin/python3 with MDAnalysis; `args` arrive as JSON, the script prints one JSON value. */
export function mdaPython<T = unknown>(script: string, args: unknown = null): T {
  const prelude = 'import sys, json, math, warnings\nwarnings.simplefilter("ignore")\nimport numpy as np\nimport MDAnalysis as mda\nargs = json.loads(sys.stdin.read())\n';
  const out = execFileSync(SYSTEM_PYTHON, ['-c', prelude + script], { input: JSON.stringify(args), maxBuffer: 1 << 28 });
  return JSON.parse(out.toString()) as T;
}

export interface Positions {
  frames: number;
  atoms: number;
  /** (frames, atoms, 3) float32, row-major */
  coords: Float32Array;
}

/** A little-endian float32 .npy of shape (F, n, 3), as np.save writes it. */
export function readNpyF32(path: string): Positions {
  const b = readFileSync(path);
  const headerLength = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + headerLength).toString('latin1');
  if (!header.includes("'<f4'")) throw new Error(`${path}: not float32: ${header}`);
  const shape = /\((\d+), (\d+), 3\)/.exec(header);
  if (!shape) throw new Error(`${path}: not (F, n, 3): ${header}`);
  const data = b.subarray(10 + headerLength);
  return { frames: Number(shape[1]), atoms: Number(shape[2]), coords: new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length)) };
}

/**
 * What MDAnalysis reads from a trajectory, in the file's own unit (convert_units=False:
 * nm for XTC and TRR), from a copy in a temporary folder, so that the hidden offsets
 * file it writes does not land beside the original.
 */
export function mdaPositions(path: string): Positions {
  const dir = mkdtempSync(join(tmpdir(), 'fanout-mda-'));
  try {
    const copy = join(dir, basename(path));
    copyFileSync(path, copy);
    const npy = join(dir, 'positions.npy');
    mdaPython(
      `
from MDAnalysis.coordinates.XTC import XTCReader
from MDAnalysis.coordinates.TRR import TRRReader
from MDAnalysis.coordinates.TRJ import NCDFReader
path = args['path']
reader = XTCReader if path.endswith('.xtc') else TRRReader if path.endswith('.trr') else NCDFReader
r = reader(path, convert_units=False)
np.save(args['npy'], np.array([ts.positions.copy() for ts in r], dtype=np.float32).reshape(-1, r.n_atoms, 3))
print('null')`,
      { path: copy, npy },
    );
    return readNpyF32(npy);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Frame byte offsets as MDAnalysis's own index finds them (a copy, for the same reason). */
export function mdaOffsets(path: string): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'fanout-mda-'));
  try {
    const copy = join(dir, basename(path));
    copyFileSync(path, copy);
    return mdaPython<number[]>(
      `
from MDAnalysis.coordinates.XTC import XTCReader
from MDAnalysis.coordinates.TRR import TRRReader
r = (XTCReader if args.endswith('.xtc') else TRRReader)(args, convert_units=False)
print(json.dumps([int(o) for o in r._xdr.offsets]))`,
      copy,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Writes a trajectory of `frames` frames of `atoms` atoms with MDAnalysis's writer for
 * the path's extension (.xtc, .trr, .ncdf): a seeded random walk in Å (MDAnalysis
 * stores nm in XTC and TRR), in water-like triples so that XTC runs of small deltas
 * occur, in a box that breathes.
 */
export function mdaWriteTrajectory(path: string, frames: number, atoms: number, options: { seed?: number; precision?: number; spread?: number } = {}): void {
  mdaPython(
    `
from MDAnalysis.coordinates.memory import MemoryReader
F, n = args['frames'], args['atoms']
rng = np.random.default_rng(args['seed'])
centres = rng.uniform(0, args['spread'], size=(1, (n + 2) // 3, 3)).repeat(3, axis=1)[:, :n]
offsets = rng.normal(scale=1.0, size=(1, n, 3))
x = (centres + offsets + rng.normal(scale=0.2, size=(F, n, 3)).cumsum(axis=0)).astype(np.float32)
dims = np.array([[args['spread'] + f * 1e-3, args['spread'], args['spread'], 90, 90, 90] for f in range(F)], dtype=np.float32)
u = mda.Universe.empty(n, trajectory=True)
u.load_new(x, format=MemoryReader, dimensions=dims)
kw = {'precision': args['precision']} if args['path'].endswith('.xtc') and args['precision'] else {}
with mda.Writer(args['path'], n, **kw) as W:
    for ts in u.trajectory:
        W.write(u)
print('null')`,
    { path, frames, atoms, seed: options.seed ?? 1, precision: options.precision ?? null, spread: options.spread ?? 60 },
  );
}

/** Why gmx_d (GROMACS in double precision, which writes double TRR) cannot be used, or ''. */
export const gmxDoubleMissing = spawnSync('gmx_d', ['--version'], { encoding: 'utf8' }).status === 0 ? '' : 'gmx_d (GROMACS in double precision) is not on PATH (apt-get install gromacs)';

/** `gmx trjconv -f input -o output` (all atoms, `-ndec` decimals for an XTC): GROMACS' own writer; `gmx_d` writes double precision. */
export function gmxConvert(input: string, output: string, ndec?: number, binary: 'gmx' | 'gmx_d' = 'gmx'): void {
  const args = ['-quiet', 'trjconv', '-f', input, '-o', output, ...(ndec !== undefined ? ['-ndec', String(ndec)] : [])];
  const r = spawnSync(binary, args, { input: '0\n', encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`gmx trjconv failed (${r.status}): ${r.stderr.slice(-2000)}`);
}

/**
 * The same XTC with GROMACS 2023's large-file magic: every frame's magic becomes 2023
 * and its int32 byte count an int64. `offsets` are the frame starts (from MDAnalysis).
 */
export function toLargeXtc(bytes: Uint8Array, offsets: number[]): Uint8Array {
  const out = new Uint8Array(bytes.length + 4 * offsets.length);
  let o = 0;
  offsets.forEach((at, f) => {
    const end = f + 1 < offsets.length ? offsets[f + 1]! : bytes.length;
    out.set(bytes.subarray(at, at + 88), o);
    new DataView(out.buffer).setInt32(o, 2023);
    out.set([0, 0, 0, 0], o + 88);
    out.set(bytes.subarray(at + 88, end), o + 92);
    o += end - at + 4;
  });
  return out;
}

export interface MdOracle {
  frames: number;
  /** per atom, the exact (math.fsum) mean over frames of x, y and z */
  mean: number[][];
  /** numpy's unweighted radius of gyration of every frame */
  rg: number[];
}

/**
 * What MDAnalysis reads from a trajectory (a copy), reduced by math.fsum and numpy, in Å as
 * fanout's results are: read in the file's unit (convert_units=False) and, for XTC and TRR
 * (nm), multiplied by 10 in float64, which is exact for float32 values. (MDAnalysis's own
 * conversion works in float32 and rounds: this keeps the comparison bit for bit.)
 */
export function mdaOracle(path: string): MdOracle {
  return mdaPython<MdOracle>(
    `
import shutil, tempfile
from MDAnalysis.coordinates.XTC import XTCReader
from MDAnalysis.coordinates.TRR import TRRReader
from MDAnalysis.coordinates.TRJ import NCDFReader
d = tempfile.mkdtemp()
reader = XTCReader if args.endswith('.xtc') else TRRReader if args.endswith('.trr') else NCDFReader
r = reader(shutil.copy(args, d), convert_units=False)
x = np.array([ts.positions.copy() for ts in r if ts.has_positions]).astype(np.float64)
if reader is not NCDFReader:
    x = x * 10.0
shutil.rmtree(d)
F = x.shape[0]
c = x - x.mean(axis=1, keepdims=True)
print(json.dumps({'frames': F, 'mean': [[math.fsum(x[:, i, k]) / F for k in range(3)] for i in range(x.shape[1])], 'rg': np.sqrt((c ** 2).sum(axis=2).mean(axis=1)).tolist()}))`,
    path,
  );
}

/** True when any reason is given: for it.skipIf(missing(...)), next to a title from skipNote. */
export const missing = (...reasons: string[]): boolean => reasons.some(Boolean);

export interface MdaParts extends MdOracle {
  atoms: number;
  /** MDAnalysis's dimensions (a, b, c, alpha, beta, gamma) of the first and last frame, or null without a cell */
  box: { first: number[]; last: number[] } | null;
}

/**
 * Cuts a trajectory into parts of `sizes` frames, each written by MDAnalysis's writer for
 * its extension (DCDWriter, NCDFWriter) with its own header, and writes `whole`, the parts
 * joined by MDAnalysis (its ChainReader over the parts, `mda.Universe(top, [p1, p2, ...])`,
 * written by the same writer). Returns what the ChainReader reads over the parts, reduced
 * by math.fsum and numpy as mdaOracle does (the formats written store Å).
 */
export function mdaWriteParts(source: string, sizes: number[], parts: string[], whole: string, topology?: string): MdaParts {
  return mdaPython<MdaParts>(
    `
from MDAnalysis.coordinates.core import get_reader_for
def universe(traj):
    if args['topology']:
        return mda.Universe(args['topology'], traj)
    first = traj if isinstance(traj, str) else traj[0]
    u = mda.Universe.empty(get_reader_for(first)(first).n_atoms, trajectory=True)
    u.load_new(traj)
    return u
u = universe(args['source'])
at = 0
for size, path in zip(args['sizes'], args['parts']):
    with mda.Writer(path, u.atoms.n_atoms) as W:
        for ts in u.trajectory[at:at + size]:
            W.write(u.atoms)
    at += size
chain = universe(args['parts'])
with mda.Writer(args['whole'], chain.atoms.n_atoms) as W:
    for ts in chain.trajectory:
        W.write(chain.atoms)
x = np.array([ts.positions.copy() for ts in chain.trajectory]).astype(np.float64)
# a copy: a reader may update its timestep's cell in place (NCDFReader does)
dims = [None if ts.dimensions is None else ts.dimensions.copy() for ts in chain.trajectory]
F = x.shape[0]
c = x - x.mean(axis=1, keepdims=True)
box = None if dims[0] is None else {'first': [float(v) for v in dims[0]], 'last': [float(v) for v in dims[-1]]}
print(json.dumps({'frames': F, 'atoms': x.shape[1], 'mean': [[math.fsum(x[:, i, k]) / F for k in range(3)] for i in range(x.shape[1])], 'rg': np.sqrt((c ** 2).sum(axis=2).mean(axis=1)).tolist(), 'box': box}))`,
    { source, sizes, parts, whole, topology: topology ?? null },
  );
}

/** A single-precision TRR with the box block of the frame at byte `at` cut out (its box size set to 0), as a writer that stores no box makes it. */
export function trrWithoutBox(bytes: Uint8Array, at: number): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (view.getInt32(at + 32) !== 36) throw new Error(`the frame at byte ${at} has no single-precision box`);
  const out = Uint8Array.from([...bytes.subarray(0, at + 84), ...bytes.subarray(at + 84 + 36)]);
  new DataView(out.buffer).setInt32(at + 32, 0);
  return out;
}
