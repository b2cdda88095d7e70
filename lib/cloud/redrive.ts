/**
 * Redrive, as Step Functions' Distributed Map redrives its failed items: `fanout redrive
 * JOB` writes redrive/<job>/<request>.json (lib/cloud/client.ts), whose creation reaches
 * the coordinator (lib/cloud/topology.ts), which runs redriveJob. A failed job that is
 * still its input's newest goes back to `running` with a new deadline; only the slices
 * without a leaf are invoked again, each where no worker chain would reach it (the
 * chains do the rest, within maxWorkers), and merges lost for good are done again: a
 * complete group of leaves is merged here into its level-1 node, as its last worker
 * would have (advance.ts), and a complete group above is fired again by rewriting a
 * member; the merger then finishes the job and publishes its result as for any job. A done or
 * superseded job, one still running before its deadline, or one a newer upload of its
 * input replaced is refused with the reason. The answer lands at
 * jobs/<id>/redrive/<request>.json, where `fanout redrive` reads it.
 *
 * Safe to run twice: a second request finds the job running and is refused.
 */
import { type CloudManifest, type JobStatus, ManifestReader, readStatus, writeRedriveAnswer, UnknownJobError } from '../job/documents.ts';
import { resultKey } from '../job/keys.ts';
import { DEFAULT_CONCURRENCY, DEFAULT_LIMITS, type StackLimits } from '../job/options.ts';
import type { BlobStore, Invoker } from '../job/ports.ts';
import { lostMerges, nodesPresent, refireMerge } from './advance.ts';
import { forEachLimit } from './coordinator.ts';
import { newestJob, writeStatusIfNewest } from './publish.ts';

export interface RedriveDeps {
  store: BlobStore;
  manifests?: ManifestReader;
  invoker: Invoker;
  limits?: StackLimits;
  now?: () => number;
}

export type RedriveOutcome =
  | { outcome: 'redriven'; jobId: string; invoked: number; merges: number }
  | { outcome: 'refused'; jobId: string; reason: string };

/** Why a job cannot be redriven, or undefined if it can: the CLI asks before it writes the request, the coordinator again. */
export function redriveRefusal(jobId: string, status: JobStatus | undefined, newest: string | undefined, now: number, chainOf?: string): string | undefined {
  if (!status) return `job ${jobId} has no status: nothing to redrive`;
  const where = `s3://${status.input.bucket}/${status.input.key}`;
  if (status.state === 'done') return `job ${jobId} is done: nothing to redrive (its result is s3://${status.input.bucket}/${status.resultKey ?? resultKey(jobId)})`;
  if (status.state === 'superseded') return `job ${jobId} was superseded, so it is not redriven: ${status.reason ?? `a newer upload of ${where} owns its result`}`;
  if (status.state === 'running' && !(status.deadline && now > Date.parse(status.deadline))) {
    return `job ${jobId} is still running${status.deadline ? ` (deadline ${status.deadline})` : ''}: only a failed job is redriven`;
  }
  // The second stage of a chain (rmsf) is its input's newest while the pointer names the first.
  if (newest !== jobId && (chainOf === undefined || newest !== chainOf)) return `job ${jobId} is not redriven: a newer upload of ${where} ${newest ? `started job ${newest}, which owns its result` : 'replaced it'}`;
  return undefined;
}

/** The slices no worker chain will reach: missing, and heading their chain or right behind a slice that landed. */
export function redriveHeads(slices: number, maxWorkers: number, present: ReadonlySet<number>): number[] {
  const heads: number[] = [];
  for (let i = 0; i < slices; i++) if (!present.has(i) && (i < maxWorkers || present.has(i - maxWorkers))) heads.push(i);
  return heads;
}

export async function redriveJob(deps: RedriveDeps, jobId: string, requestId: string): Promise<RedriveOutcome> {
  const now = deps.now ?? Date.now;
  const limits = deps.limits ?? DEFAULT_LIMITS;
  const refuse = async (reason: string): Promise<RedriveOutcome> => {
    await writeRedriveAnswer(deps.store, { job: jobId, request: requestId, outcome: 'refused', reason }, now());
    return { outcome: 'refused', jobId, reason };
  };
  let manifest: CloudManifest;
  try {
    manifest = await (deps.manifests ?? new ManifestReader(deps.store, 0)).read(jobId);
  } catch (e) {
    if (e instanceof UnknownJobError) return refuse(`job ${jobId} does not exist in this bucket (no manifest)`);
    throw e;
  }
  const { spec, input } = manifest;
  const refusal = redriveRefusal(jobId, await readStatus(deps.store, jobId), await newestJob(deps.store, manifest), now(), manifest.chainOf);
  if (refusal) return refuse(refusal);
  const running: Omit<JobStatus, 'at'> = {
    state: 'running',
    job: jobId,
    input: { bucket: input.bucket, key: input.key },
    slices: spec.sliceCount,
    deadline: new Date(now() + limits.jobTimeoutSeconds * 1000).toISOString(),
  };
  // Only while the job is its input's newest (publish.ts): a newer upload in between wins.
  if (!(await writeStatusIfNewest(deps.store, manifest, running, now()))) return refuse(`job ${jobId} is not redriven: a newer upload of s3://${input.bucket}/${input.key} replaced it`);

  const chains = manifest.maxWorkers ?? spec.sliceCount;
  const leaves = await nodesPresent(deps.store, jobId, 0);
  const heads = new Set(redriveHeads(spec.sliceCount, chains, leaves));
  const lost = await lostMerges(deps.store, manifest, leaves);
  // The next slices of a merged group's chains are among the heads already when missing.
  for (const node of lost) await refireMerge(deps, manifest, node);
  await forEachLimit([...heads], DEFAULT_CONCURRENCY, (index) => deps.invoker.invoke({ jobId, index }));
  await writeRedriveAnswer(deps.store, { job: jobId, request: requestId, outcome: 'redriven', invoked: heads.size, merges: lost.length }, now());
  return { outcome: 'redriven', jobId, invoked: heads.size, merges: lost.length };
}
