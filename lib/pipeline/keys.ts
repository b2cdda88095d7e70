/** Where a job's documents live in a BlobStore (a local state dir or the bucket). */
import { JOBS_PREFIX } from '../topology.ts';

export const jobPrefix = (jobId: string): string => `${JOBS_PREFIX}${jobId}/`;
export const manifestKey = (jobId: string): string => `${jobPrefix(jobId)}manifest.json`;
/** The embedded runtime's partial logs (see adapters/partial-log.ts); the cloud's partials live in the merge tree. */
export const partialsPrefix = (jobId: string): string => `${jobPrefix(jobId)}partials/`;
export const resultKey = (jobId: string): string => `${jobPrefix(jobId)}result.json`;
export const statusKey = (jobId: string): string => `${jobPrefix(jobId)}status.json`;
