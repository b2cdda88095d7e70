/**
 * rdf in-process and MDAnalysis's InterRDF as its oracle. Groups are given as ctx.groups
 * (positions of rows within a frame), as the atom selections will set them.
 */
import type { Analysis, AnalysisContext } from '../../lib/core/analysis.ts';
import { traitsOf } from '../../lib/core/analysis.ts';
import { rdf, type RdfResult } from '../../lib/core/analyses/rdf.ts';
import { finishResult, mergePartials, type Partial, scanSlice } from '../../lib/core/job.ts';
import { type JobSpec, type PlanOptions, planJob } from '../../lib/core/plan.ts';
import type { ByteSource } from '../../lib/core/source.ts';
import { mdaPython } from './md.ts';
import { roundTrip } from './partials.ts';

export interface Groups {
  measure?: number[];
  other?: number[];
}

/** The analysis with ctx.groups set, as the runtime will set it from --atoms/--atoms2. */
export function withGroups<S, R>(analysis: Analysis<S, R>, groups: Groups): Analysis<S, R> {
  const g = { ...(groups.measure ? { measure: Int32Array.from(groups.measure) } : {}), ...(groups.other ? { other: Int32Array.from(groups.other) } : {}) };
  const cache = new WeakMap<AnalysisContext, AnalysisContext>();
  const c = (ctx: AnalysisContext): AnalysisContext => {
    let out = cache.get(ctx);
    if (!out) cache.set(ctx, (out = { ...ctx, groups: g }));
    return out;
  };
  return {
    ...analysis,
    empty: (ctx) => analysis.empty(c(ctx)),
    addBox: (s, row, dims, ctx) => analysis.addBox!(s, row, dims, c(ctx)),
    addRows: (s, v, n, cols, first, ctx) => analysis.addRows(s, v, n, cols, first, c(ctx)),
    combine: (l, r, rows, ctx) => analysis.combine(l, r, rows, c(ctx)),
    finish: (s, rows, ctx) => analysis.finish(s, rows, c(ctx)),
    decode: (j, ctx) => analysis.decode(j, c(ctx)),
  };
}

/** Plans and runs rdf over a source in-process: every slice scanned on its own, its partial through JSON, merged in order. */
export async function runRdf(source: ByteSource, options: Record<string, string>, groups: Groups = {}, plan: PlanOptions = {}): Promise<{ spec: JobSpec; result: RdfResult }> {
  const analysis = withGroups(rdf, groups) as Analysis;
  const spec = await planJob(source, { name: 'rdf', options, ...traitsOf(rdf) }, plan, 'test');
  const partials: Partial[] = [];
  for (let i = spec.sliceCount - 1; i >= 0; i--) partials[i] = roundTrip(await scanSlice(source, spec, i, analysis));
  const merged = mergePartials(spec, analysis, partials);
  return { spec, result: (await finishResult(spec, analysis, merged)) as RdfResult };
}

export interface MdaRdf {
  count: number[];
  rdf: number[];
  edges: number[];
  frames: number;
}

/**
 * InterRDF over a trajectory read by MDAnalysis (a copy in a temporary folder: XTC and
 * TRR readers write an offsets file beside it), the groups as 0-based atom indices.
 * `nativeUnits`: read XTC/TRR lengths in nm (convert_units=False), as fanout does
 * while its result says trajectory.lengthUnit "nm".
 */
export function mdaRdf(
  path: string,
  atoms: number,
  groups: Groups,
  kwargs: { nbins?: number; range?: [number, number]; norm?: string; exclusion_block?: [number, number] } = {},
  nativeUnits = false,
  /** a .npy of (frames, atoms, 3): the box of every frame */
  box?: number[],
): MdaRdf {
  return mdaPython<MdaRdf>(
    `
import shutil, tempfile, os
from MDAnalysis.analysis.rdf import InterRDF
d = tempfile.mkdtemp()
path = shutil.copy(args['path'], d)
u = mda.Universe.empty(args['atoms'], trajectory=True)
if path.endswith('.npy'):
    from MDAnalysis.coordinates.memory import MemoryReader
    x = np.load(path)
    u.load_new(x, format=MemoryReader, dimensions=np.array([args['box']] * len(x), dtype=np.float32))
else:
    u.load_new(path, **({'convert_units': False} if args['native'] else {}))
g1 = u.atoms[args['a']] if args['a'] is not None else u.atoms
g2 = u.atoms[args['b']] if args['b'] is not None else g1
r = InterRDF(g1, g2, **{k: (tuple(v) if isinstance(v, list) else v) for k, v in args['kw'].items()}).run()
shutil.rmtree(d)
print(json.dumps({'count': r.results.count.tolist(), 'rdf': r.results.rdf.tolist(), 'edges': r.results.edges.tolist(), 'frames': r.n_frames}))`,
    { path, atoms, a: groups.measure ?? null, b: groups.other ?? null, kw: kwargs, native: nativeUnits, box: box ?? null },
  );
}

/**
 * Writes a trajectory with MDAnalysis's writer for the path's extension (.xtc, .trr,
 * .ncdf, .dcd): `atoms` atoms uniform in a box of dimensions `box` (a, b, c in Å,
 * angles in degrees) that breathes by 0.1 % a frame, moving by a seeded random walk, a
 * few of them out of the box (so that wrapping into the box is exercised).
 */
export function mdaWriteBoxTrajectory(path: string, frames: number, atoms: number, box: number[], seed = 1): void {
  mdaPython(
    `
from MDAnalysis.coordinates.memory import MemoryReader
from MDAnalysis.lib.mdamath import triclinic_vectors
F, n = args['frames'], args['atoms']
rng = np.random.default_rng(args['seed'])
dims = np.array([[*(np.array(args['box'][:3]) * (1 + 1e-3 * f)), *args['box'][3:]] for f in range(F)], dtype=np.float32)
frac = rng.uniform(-0.05, 1.05, size=(1, n, 3)) + rng.normal(scale=0.01, size=(F, n, 3)).cumsum(axis=0)
x = np.array([frac[f] @ triclinic_vectors(dims[f]).astype(np.float64) for f in range(F)], dtype=np.float32)
u = mda.Universe.empty(n, trajectory=True)
u.load_new(x, format=MemoryReader, dimensions=dims)
with mda.Writer(args['path'], n) as W:
    for ts in u.trajectory:
        W.write(u)
print('null')`,
    { path, frames, atoms, box, seed },
  );
}
