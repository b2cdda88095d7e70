/**
 * Every object key of a job, written once. The local state dir (`.fanout/`) and the
 * cloud bucket share the `jobs/<id>/` layout; the cloud adds `input/`, `results/`, the
 * input pointers and the merge tree.
 *
 * Loop safety (see lib/cloud/topology.ts): nothing any function writes lies under
 * INPUT_PREFIX, and only merge-tree nodes end in PARTIAL_SUFFIX.
 */

export const INPUT_PREFIX = 'input/';
export const JOBS_PREFIX = 'jobs/';
export const RESULTS_PREFIX = 'results/';
/** `fanout redrive` asks the coordinator to redrive a failed job by writing here; no function writes under it. */
export const REDRIVE_PREFIX = 'redrive/';
/** Every merge-tree node above the slices ends with this (its creation fires the merger); nothing else under jobs/ does. */
export const PARTIAL_SUFFIX = '.partial.json';
/**
 * A slice's partial (a leaf of the merge tree) ends with this instead: it raises no event.
 * The worker that commits it merges its group when complete (lib/cloud/advance.ts).
 */
export const LEAF_SUFFIX = '.leaf.json';

export const jobPrefix = (jobId: string): string => `${JOBS_PREFIX}${jobId}/`;
export const manifestKey = (jobId: string): string => `${jobPrefix(jobId)}manifest.json`;
/** The embedded runtime's partial logs (see lib/local/partial-log.ts); the cloud's partials live in the merge tree. */
export const partialsPrefix = (jobId: string): string => `${jobPrefix(jobId)}partials/`;
export const resultKey = (jobId: string): string => `${jobPrefix(jobId)}result.json`;
export const statusKey = (jobId: string): string => `${jobPrefix(jobId)}status.json`;
/** A slice that failed for good, tolerated or not (the cloud's tolerated failures count them). */
export const failedSlicesPrefix = (jobId: string): string => `${jobPrefix(jobId)}failed/`;
export const failedSliceKey = (jobId: string, index: number): string => `${failedSlicesPrefix(jobId)}${String(index).padStart(8, '0')}.json`;

/**
 * The tail helpers' claims (lib/cloud/stragglers.ts): a backup of a straggling slice, a
 * split of a worker chain (the slice a helper took over), a slice a helper watches.
 * Created create-only, so two helpers never take the same one; never a merge event.
 */
export type TailClaim = 'backup' | 'split' | 'watch';
export const tailPrefix = (jobId: string): string => `${jobPrefix(jobId)}tail/`;
/** The claims of one run of the job (`run`: when it started or was redriven, ms since the epoch): a redrive's helpers start afresh. */
export const tailRunPrefix = (jobId: string, run: number): string => `${tailPrefix(jobId)}${run}/`;
export const tailClaimKey = (jobId: string, run: number, claim: TailClaim, index: number): string => `${tailRunPrefix(jobId, run)}${claim}-${String(index).padStart(8, '0')}.json`;
const TAIL_CLAIM = /\/tail\/\d+\/(backup|split|watch)-(\d{8})\.json$/;
export function parseTailClaim(key: string): { claim: TailClaim; index: number } | undefined {
  const m = TAIL_CLAIM.exec(key);
  return m ? { claim: m[1] as TailClaim, index: Number(m[2]) } : undefined;
}

/** redrive/<job id>/<request id>.json: a request to redrive a job (its creation reaches the coordinator). */
export const redriveRequestKey = (jobId: string, requestId: string): string => `${REDRIVE_PREFIX}${jobId}/${requestId}.json`;
const REDRIVE_KEY = /^redrive\/([0-9a-f]{8,64})\/([A-Za-z0-9-]{1,64})\.json$/;
export function parseRedriveKey(key: string): { jobId: string; requestId: string } | undefined {
  const m = REDRIVE_KEY.exec(key);
  return m ? { jobId: m[1]!, requestId: m[2]! } : undefined;
}
/** jobs/<id>/redrive/<request id>.json: the coordinator's answer to a redrive request. */
export const redriveAnswerKey = (jobId: string, requestId: string): string => `${jobPrefix(jobId)}redrive/${requestId}.json`;

const JOB_KEY = new RegExp(`^${JOBS_PREFIX}([0-9a-f]+)(/|$)`);

/** The job a key under jobs/<id>/ belongs to (a job id is hex, so jobs/inputs/ is no job's). */
export function jobOfKey(key: string): string | undefined {
  return JOB_KEY.exec(key)?.[1];
}

const belowInput = (key: string): string => (key.startsWith(INPUT_PREFIX) ? key.slice(INPUT_PREFIX.length) : key);

/** results/<key below input/>.json; an input outside input/ (a direct invoke) keeps its whole key. */
export function resultKeyForInput(inputKey: string): string {
  return `${RESULTS_PREFIX}${belowInput(inputKey)}.json`;
}

/**
 * jobs/inputs/<key below input/>.json: the latest job of an input, so a user who only
 * knows what they uploaded can find its status. Never ends in the partial suffix
 * (".json" is appended), so it raises no merge event.
 */
export function inputPointerKey(inputKey: string): string {
  return `${JOBS_PREFIX}inputs/${belowInput(inputKey)}.json`;
}

// The merge tree's nodes (lib/cloud/tree.ts): node i of level L lies under the prefix of its group.
const pad = (n: number): string => String(n).padStart(8, '0');

/** Every node of one level of the merge tree; level 0 holds the slices' partials. */
export function levelPrefix(jobId: string, level: number): string {
  return `${jobPrefix(jobId)}tree/${level}/`;
}

export function groupPrefix(jobId: string, level: number, group: number): string {
  return `${levelPrefix(jobId, level)}${pad(group)}/`;
}

export function nodeKey(jobId: string, level: number, index: number, fanin: number): string {
  return `${groupPrefix(jobId, level, Math.floor(index / fanin))}${pad(index)}${level === 0 ? LEAF_SUFFIX : PARTIAL_SUFFIX}`;
}

export interface NodeRef {
  jobId: string;
  level: number;
  group: number;
  index: number;
}

const NODE_KEY = /^jobs\/([0-9a-f]+)\/tree\/(\d+)\/(\d{8})\/(\d{8})(\.partial\.json|\.leaf\.json)$/;

export function parseNodeKey(key: string): NodeRef | undefined {
  const m = NODE_KEY.exec(key);
  if (!m) return undefined;
  const level = Number(m[2]);
  // A leaf's key ends with LEAF_SUFFIX, every node above with PARTIAL_SUFFIX.
  if ((level === 0) !== (m[5] === LEAF_SUFFIX)) return undefined;
  return { jobId: m[1]!, level, group: Number(m[3]), index: Number(m[4]) };
}
