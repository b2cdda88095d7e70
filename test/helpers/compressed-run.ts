/**
 * The compressed-input tests' job, in process: `stats` over bytes held in memory (read in
 * 4 KiB chunks, so that records straddle reads), every slice scanned and merged in order.
 */
import { builtinAnalyses } from '../../lib/core/analyses/index.ts';
import type { Analysis } from '../../lib/core/analysis.ts';
import { InputError } from '../../lib/core/errors.ts';
import { finishResult, mergePartials, scanSlice, textRowLocator } from '../../lib/core/job.ts';
import { type JobSpec, type PlanOptions, planJob } from '../../lib/core/plan.ts';
import { MemorySource } from '../../lib/core/source.ts';

const stats = builtinAnalyses.stats as unknown as Analysis;

export async function runStats(bytes: Uint8Array, name: string, opts: PlanOptions = {}): Promise<{ result: unknown; slices: number; records: number; spec: JobSpec }> {
  const source = new MemorySource(bytes, name, 4096);
  const spec = await planJob(source, { name: 'stats', options: {} }, { skipHeader: true, ...opts }, 'test');
  const partials = [];
  for (let i = 0; i < spec.sliceCount; i++) partials.push(await scanSlice(source, spec, i, stats));
  const merged = mergePartials(spec, stats, partials);
  const result = await finishResult(spec, stats, merged, textRowLocator(source, spec, merged));
  return { result, slices: spec.sliceCount, records: merged.rows, spec };
}

/** The InputError that runStats throws on these bytes (the test fails if none). */
export async function statsFailure(bytes: Uint8Array, name: string, opts: PlanOptions = {}): Promise<InputError> {
  try {
    await runStats(bytes, name, opts);
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('no error');
}
