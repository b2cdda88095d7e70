/**
 * The wiring of the cloud pipeline, written once: which object keys raise which events,
 * and which function each event reaches. The CDK construct builds the bucket
 * notifications from it, and the local dispatcher (`fanout dev`, the moto tests) routes
 * events from it, so the two cannot drift.
 *
 * Loop safety: nothing any function writes lies under INPUT_PREFIX or REDRIVE_PREFIX, and the merger's
 * own writes that match its trigger (merge-tree levels) strictly shrink the number of
 * pending partials, so every chain of events ends.
 */

import { INPUT_PREFIX, JOBS_PREFIX, PARTIAL_SUFFIX, REDRIVE_PREFIX } from '../job/keys.ts';

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
  // `fanout redrive`'s requests (written by users, never by a function)
  { target: 'coordinator', events: ['s3:ObjectCreated:*'], prefix: REDRIVE_PREFIX },
  { target: 'merger', events: ['s3:ObjectCreated:*'], prefix: JOBS_PREFIX, suffix: PARTIAL_SUFFIX },
];

/** The route an object key matches, if any (the same rule S3 applies: prefix and suffix). */
export function routeFor(key: string): Route | undefined {
  return ROUTES.find((r) => key.startsWith(r.prefix) && (r.suffix === undefined || key.endsWith(r.suffix)));
}
