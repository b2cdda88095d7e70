/** Where a job's documents live in a BlobStore (a local state dir or the bucket). */
import { JOBS_PREFIX, PARTIAL_SUFFIX } from '../topology.ts';

export const jobPrefix = (jobId: string): string => `${JOBS_PREFIX}${jobId}/`;
export const manifestKey = (jobId: string): string => `${jobPrefix(jobId)}manifest.json`;
export const partialsPrefix = (jobId: string): string => `${jobPrefix(jobId)}partials/`;
/** Zero-padded so that listing order is slice order. */
export const partialKey = (jobId: string, index: number): string => `${partialsPrefix(jobId)}${String(index).padStart(6, '0')}${PARTIAL_SUFFIX}`;
export const resultKey = (jobId: string): string => `${jobPrefix(jobId)}result.json`;
export const statusKey = (jobId: string): string => `${jobPrefix(jobId)}status.json`;

export function partialIndexFromKey(key: string): number | undefined {
  const m = /\/partials\/(\d+)\.partial\.json$/.exec(key);
  return m ? Number(m[1]) : undefined;
}
