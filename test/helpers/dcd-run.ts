/**
 * Runs a job in-process through the real planner, slicer and merge: every slice scanned
 * on its own (in a shuffled order), its partial sent through its encoding (JSON, and bytes for
 * binary states), merged in slice order.
 */
import type { Analysis } from '../../lib/core/analysis.ts';
import { builtinAnalyses } from '../../lib/core/analyses/index.ts';
import { finishResult, mergePartials, type Partial, scanSlice } from '../../lib/core/job.ts';
import { type JobSpec, type PlanOptions, planJob } from '../../lib/core/plan.ts';
import type { ByteSource } from '../../lib/core/source.ts';
import { roundTrip } from './partials.ts';

export async function runInProcess(
  source: ByteSource,
  analysisOrName: string | Analysis,
  opts: PlanOptions = {},
  seed = 1,
  analysisOptions: Record<string, string> = {},
): Promise<{ spec: JobSpec; result: Record<string, unknown> }> {
  const analysis = (typeof analysisOrName === 'string' ? builtinAnalyses[analysisOrName] : analysisOrName) as Analysis;
  const spec = await planJob(source, { name: analysis.name, options: analysisOptions, needsFrames: analysis.needsFrames, wholeFrames: analysis.wholeFrames }, opts, 'test');
  const order = Array.from({ length: spec.sliceCount }, (_, i) => i);
  let s = seed;
  for (let i = order.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const partials: Partial[] = new Array(spec.sliceCount);
  for (const index of order) partials[index] = roundTrip(await scanSlice(source, spec, index, analysis));
  const merged = mergePartials(spec, analysis, partials);
  return { spec, result: (await finishResult(spec, analysis, merged)) as Record<string, unknown> };
}
