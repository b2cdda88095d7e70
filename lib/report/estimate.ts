/**
 * What a job will cost on AWS before it runs: invocations and S3 requests counted from
 * the pipeline's protocol (lib/pipeline: coordinator, worker, merger), time and money
 * from stated assumptions. Pure: the CLI supplies the slice plan.
 */
import { levelSizes } from '../cloud/tree.ts';
import { pricesFor, PRICES_AS_OF } from './prices.ts';

/** Store requests by kind; PUT counts create-only writes too. */
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
}

export interface CloudPlan {
  levels: number[];
  invocations: { coordinator: number; workers: number; merger: number; total: number };
  /**
   * Requests to the job's documents (manifest, partials, tree, status, result).
   * `fewest`: every merge event handled as soon as its node lands (only a group's last
   * node finds it complete); `most`: every event handled after its whole level landed.
   * Both with cold functions that read the manifest every time. Retries and duplicate
   * event deliveries add to these.
   */
  documentRequests: { fewest: Requests; most: Requests };
  /** requests to the input: one HEAD, the planner's reads, one ranged GET per slice */
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

export function documentRequests(slices: number, fanin: number): { fewest: Requests; most: Requests } {
  const sizes = levelSizes(slices, fanin);
  const nodes = sum(sizes);
  const last = sizes[sizes.length - 1]!;
  const belowLast = nodes - last;
  const parents = nodes - slices; // nodes of levels above the slices: one merge each
  // coordinator: manifest, status, input pointer. The end: result, its copy, status.
  const put = 3 + slices + parents + 3;
  const list = nodes;
  const fewest: Requests = {
    // a worker and every merge event read the manifest; every merge reads its group; the end
    // reads the status, the input's pointer (is this still the newest job?) before and
    // after publishing, and the committed result
    get: slices + nodes + nodes + 4,
    put,
    // a worker checks its partial; a complete group checks its parent
    head: slices + parents,
    list,
  };
  const most: Requests = {
    // every event of the last group reads the status too, and the late ones read the
    // published result (is it this job's?)
    get: slices + nodes + nodes + 3 + last + (last - 1),
    put,
    // every event below the top checks the parent
    head: slices + belowLast,
    list,
  };
  return { fewest, most };
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
  const mergeEvents = nodes;
  const merges = nodes - slices + 1;
  const billedSeconds = coordinatorSeconds + sum(sliceSeconds) + slices * (ASSUMED_COLD_START_SECONDS + 0.05) + mergeEvents * 0.05 + merges * ASSUMED_MERGE_SECONDS;
  const gbSeconds = (input.memoryMb / 1024) * billedSeconds;
  const { prices, known, region } = pricesFor(input.region);
  const invocations = 1 + slices + mergeEvents;
  const worst = reqs.most;
  const inputRequests = { head: 1, get: 2 + slices };
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
