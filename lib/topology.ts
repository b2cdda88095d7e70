/**
 * The wiring of the cloud pipeline, written once: which object keys raise which events,
 * and which function each event reaches. The CDK construct builds the bucket
 * notifications from it, and the local dispatcher (`fanout dev`, the moto tests) routes
 * events from it, so the two cannot drift.
 *
 * Loop safety: nothing any function writes lies under INPUT_PREFIX, and the merger's
 * own writes that match its trigger (merge-tree levels) strictly shrink the number of
 * pending partials, so every chain of events ends.
 */

export const INPUT_PREFIX = 'input/';
export const JOBS_PREFIX = 'jobs/';
export const RESULTS_PREFIX = 'results/';
/** Every partial (of any merge level) ends with this; nothing else under jobs/ does. */
export const PARTIAL_SUFFIX = '.partial.json';

export type FunctionName = 'coordinator' | 'worker' | 'merger';

export interface Route {
  /** the function that receives the event */
  target: FunctionName;
  /** S3 event type pattern */
  events: readonly ['s3:ObjectCreated:*'];
  prefix: string;
  suffix?: string;
}

export const ROUTES: readonly Route[] = [
  { target: 'coordinator', events: ['s3:ObjectCreated:*'], prefix: INPUT_PREFIX },
  { target: 'merger', events: ['s3:ObjectCreated:*'], prefix: JOBS_PREFIX, suffix: PARTIAL_SUFFIX },
];

/** The route an object key matches, if any (the same rule S3 applies: prefix and suffix). */
export function routeFor(key: string): Route | undefined {
  return ROUTES.find((r) => key.startsWith(r.prefix) && (r.suffix === undefined || key.endsWith(r.suffix)));
}

/** results/<key below input/>.json for an input key. */
export function resultKeyFor(inputKey: string): string {
  if (!inputKey.startsWith(INPUT_PREFIX)) throw new Error(`${inputKey} is not under ${INPUT_PREFIX}`);
  return `${RESULTS_PREFIX}${inputKey.slice(INPUT_PREFIX.length)}.json`;
}
