/**
 * What a job will cost on AWS before it runs: invocations and S3 requests counted from
 * the pipeline's protocol (lib/cloud: coordinator, worker, merger, publish), time and money
 * from stated assumptions. Pure: the CLI supplies the slice plan.
 */
import { levelSizes } from '../cloud/tree.ts';
import { getsOfRead, READ_DEFAULTS, SLICE_READ_SLACK_BYTES } from '../cloud/aws/read-plan.ts';
import { firstReadEnd } from '../core/text/buffers.ts';
import { pricesFor, PRICES_AS_OF } from './prices.ts';

/** Store requests by kind; PUT counts create-only and conditional (If-Match) writes too, as S3 bills them. */
export interface Requests {
  get: number;
  put: number;
  head: number;
  list: number;
}

export interface CloudPlanInput {
  slices: number;
  /** bytes of each slice, in order */
  sliceBytes: readonly number[];
  binary: boolean;
  fanin: number;
  memoryMb: number;
  region: string;
  /** concurrent executions the account allows (1000 by default) */
  concurrencyLimit?: number;
  /** the object's size (a binary file's slices start after its header); default: the slices' bytes */
  inputBytes?: number;
  /** how a worker reads (lib/cloud/aws/read-plan.ts); default READ_DEFAULTS */
  read?: { subRangeBytes: number; concurrency: number };
}

export interface CloudPlan {
  levels: number[];
  invocations: { coordinator: number; workers: number; merger: number; total: number };
  /**
   * Requests to the job's documents (input pointer, manifest, partials, tree, status,
   * result): see documentRequests for what `fewest` and `most` assume and what adds to
   * them.
   */
  documentRequests: { fewest: Requests; most: Requests };
  /** requests to the input: one HEAD, the planner's reads, and the workers' ranged GETs (inputGets) */
  inputRequests: { head: number; get: number };
  timeSeconds: number;
  gbSeconds: number;
  cost: { lambdaCompute: number; lambdaRequests: number; s3Requests: number; total: number; region: string; pricesKnown: boolean; pricesAsOf: string };
  assumptions: string[];
}

/** Scan rate of one worker at a full vCPU (1769 MB); reading from S3 in the same region. */
export const ASSUMED_BYTES_PER_SECOND = { text: 60e6, binary: 150e6 };
export const ASSUMED_COLD_START_SECONDS = 0.8;
/** one merge step: list a group, read it, write one node */
export const ASSUMED_MERGE_SECONDS = 0.3;
const FULL_VCPU_MB = 1769;

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/**
 * What a job's coordinator adds when its key's previous upload has a job still running:
 * it reads the pointer before swapping it (GET), then marks that job superseded: reads
 * its status (GET), and publishes the new status conditionally (HEAD its tag, GET the
 * pointer to check, conditional PUT). A first upload of the key does none of these; a
 * key whose previous job has ended costs the two GETs only.
 */
export const SUPERSEDE_REQUESTS: Requests = { get: 3, put: 1, head: 1, list: 0 };

/**
 * The requests to a job's documents, counted from the protocol (coordinator.ts,
 * worker.ts, advance.ts, merger.ts, publish.ts) for a job of `slices` slices and fan-in
 * `fanin` that runs to its end without failures: N nodes in the tree (the slices' leaves
 * included), P = N - slices merged parents, T nodes on the top level. A worker reads the
 * manifest and its leaf (is this slice done?), commits the leaf and lists its group once
 * (advance.ts); every node above the slices raises a merge event, which reads the
 * manifest and lists its group. `fewest` and `most` differ in how many merge events find
 * their group complete, and in the key's history:
 * - `fewest`: the key's first upload, every event handled as soon as its node lands
 *   (only a group's last node finds it complete, so each group is merged once and the
 *   final merge runs once);
 * - `most`: every merge event handled after its whole level landed (each finds its group
 *   complete and HEADs the parent; the first merges it, the rest find it), and the key's
 *   previous upload has a job still running, which this one supersedes
 *   (SUPERSEDE_REQUESTS). Workers finish one after the other, so only the last of a
 *   group finds it complete.
 * Both assume cold functions that read the manifest every time (a warm one reads it from
 * its cache: fewer GETs than `fewest`) and one event handled at a time. Not counted, as
 * the estimate cannot know them: Lambda retries and duplicate event deliveries (each
 * repeats a worker's or an event's requests), events of one group handled at the same
 * moment (each may find the parent missing and read the whole group), a compare-and-swap
 * that loses a race and reads again (publish.ts), failed slices (tolerated ones add a
 * create-only PUT and a LIST each), a job past its deadline (status reads), and a job
 * superseded by a newer upload while it runs (it stops short: fewer).
 */
export function documentRequests(slices: number, fanin: number): { fewest: Requests; most: Requests } {
  const sizes = levelSizes(slices, fanin);
  const nodes = sum(sizes);
  const top = sizes[sizes.length - 1]!;
  const parents = nodes - slices;
  // PUT (S3 bills create-only and conditional PUTs as PUTs):
  // coordinator: the pointer (conditional), the manifest (create-only), the status;
  // a worker: its partial (create-only); a merge: its parent (create-only);
  // the final merge: jobs/<id>/result.json (create-only), results/ and the status (conditional).
  const put = 3 + slices + parents + 3;
  // LIST: every worker and every merge event lists its group (one page: at most fan-in keys);
  // the final merge lists the job's straggler claims once, to count its backups.
  const list = nodes + 1;
  // HEAD: the coordinator's pointer tag, the final merge's results/ and status tags
  // (before its conditional PUTs); plus the HEADs of parents before merging, below.
  const head = 1 + 2;
  // GET: a worker's manifest and its leaf (done already? by this invocation?), every merge
  // event's manifest, every merged group's members (each node below the top once), and
  // the final merge: the status (done already?), the pointer (the newest job?), the top
  // group's T members, the committed result, and the pointer again before each
  // conditional publish (2).
  const get = 2 * slices + parents + (nodes - top) + 5 + top;
  const fewest: Requests = {
    get,
    put,
    // one complete group per parent: HEAD it
    head: head + parents,
    list,
  };
  const most: Requests = {
    // the top group's other T - 1 events read the status (done) and the published result (this job's?)
    get: get + 2 * (top - 1) + SUPERSEDE_REQUESTS.get,
    put: put + SUPERSEDE_REQUESTS.put,
    // each group of slices is merged once (by its last worker); every merge event below the top HEADs its parent
    head: head + sizes[1]! + (parents - top) + SUPERSEDE_REQUESTS.head,
    list: list + SUPERSEDE_REQUESTS.list,
  };
  return { fewest, most };
}

/** The planner's reads of the input: its head, and the first records. */
export const PLANNER_GETS = 2;

/**
 * The ranged GETs a job's workers make, cut as S3Source cuts them (read-plan.ts): a
 * worker opens its slice for the slice's bytes and SLICE_READ_SLACK_BYTES more; a text
 * slice reads from one byte before it (to look back) to a probe past its end
 * (firstReadEnd), where its last record nearly always ends (a longer one adds a read or
 * more); a binary slice reads its own range. A read longer than one sub-range is cut into
 * sub-ranges (8 MiB), one GET each: 9 for a 64 MiB text slice.
 */
export function inputGets(sliceBytes: readonly number[], binary: boolean, inputBytes = sum(sliceBytes), read: { subRangeBytes: number; concurrency: number } = READ_DEFAULTS): number {
  let start = binary ? Math.max(0, inputBytes - sum(sliceBytes)) : 0;
  let gets = 0;
  for (const bytes of sliceBytes) {
    const end = start + bytes;
    const o = { subRangeBytes: Math.max(1, Math.min(read.subRangeBytes, bytes + SLICE_READ_SLACK_BYTES)), concurrency: read.concurrency };
    if (binary) gets += getsOfRead(start, end, inputBytes, o);
    else {
      const from = start > 0 ? start - 1 : 0;
      gets += getsOfRead(from, firstReadEnd(from, end, inputBytes), inputBytes, o);
    }
    start = end;
  }
  return gets;
}

export function estimateCloud(input: CloudPlanInput): CloudPlan {
  const { slices, fanin } = input;
  const levels = levelSizes(slices, fanin);
  const nodes = sum(levels);
  const reqs = documentRequests(slices, fanin);
  const cpuShare = Math.min(1, input.memoryMb / FULL_VCPU_MB);
  const rate = (input.binary ? ASSUMED_BYTES_PER_SECOND.binary : ASSUMED_BYTES_PER_SECOND.text) * cpuShare;
  const sliceSeconds = input.sliceBytes.map((b) => b / rate);
  const limit = input.concurrencyLimit ?? 1000;
  const waves = Math.ceil(slices / limit);
  const longest = Math.max(0, ...sliceSeconds);
  const coordinatorSeconds = ASSUMED_COLD_START_SECONDS + 0.2 + Math.ceil(slices / 64) * 0.03;
  const timeSeconds = coordinatorSeconds + waves * (ASSUMED_COLD_START_SECONDS + longest) + levels.length * ASSUMED_MERGE_SECONDS;
  // a merge event per node above the slices (a leaf raises none: its worker merges its group)
  const mergeEvents = nodes - slices;
  const merges = nodes - slices + 1;
  const billedSeconds = coordinatorSeconds + sum(sliceSeconds) + slices * (ASSUMED_COLD_START_SECONDS + 0.05) + mergeEvents * 0.05 + merges * ASSUMED_MERGE_SECONDS;
  const gbSeconds = (input.memoryMb / 1024) * billedSeconds;
  const { prices, known, region } = pricesFor(input.region);
  const invocations = 1 + slices + mergeEvents;
  const worst = reqs.most;
  const inputRequests = { head: 1, get: PLANNER_GETS + inputGets(input.sliceBytes, input.binary, input.inputBytes, input.read) };
  const s3Requests = (worst.put + worst.list) * prices.s3Put + (worst.get + worst.head + inputRequests.get + inputRequests.head) * prices.s3Get;
  const lambdaCompute = gbSeconds * prices.lambdaArmGbSecond;
  const lambdaRequests = invocations * prices.lambdaRequest;
  return {
    levels,
    invocations: { coordinator: 1, workers: slices, merger: mergeEvents, total: invocations },
    documentRequests: reqs,
    inputRequests,
    timeSeconds,
    gbSeconds,
    cost: { lambdaCompute, lambdaRequests, s3Requests, total: lambdaCompute + lambdaRequests + s3Requests, region, pricesKnown: known, pricesAsOf: PRICES_AS_OF },
    assumptions: [
      `a worker scans ${(rate / 1e6).toFixed(0)} MB/s (${input.binary ? 'binary' : 'text'} at ${input.memoryMb} MB: ${(cpuShare * 100).toFixed(0)}% of a vCPU)`,
      `every function starts cold (${ASSUMED_COLD_START_SECONDS} s, billed) and ${limit} run at once`,
      `S3 costs counted at the "most" request count; free tiers not deducted`,
    ],
  };
}
