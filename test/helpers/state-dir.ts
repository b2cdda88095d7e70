/**
 * A local state dir read as the README describes it, independently of the runtime's own
 * reader: `jobs/<id>/partials/*.ndjson` logs, one partial per newline-terminated line.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Partial } from '../../lib/core/job.ts';

/** The complete lines of every log of a job (a torn last line, with no newline yet, is not one). */
function committedLines(stateDir: string, job: string): string[] {
  const dir = join(stateDir, 'jobs', job, 'partials');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ndjson'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').slice(0, -1));
}

/**
 * How many slices the state dir's partials cover, over all its jobs (a partial may cover a
 * run of slices). Partials of two processes at once that overlap count twice: for runs of
 * one process at a time.
 */
export function committedSlices(stateDir: string): number {
  const jobs = join(stateDir, 'jobs');
  if (!existsSync(jobs)) return 0;
  return readdirSync(jobs).reduce((n, job) => n + statePartials(stateDir, job).reduce((a, p) => a + (p.slices ?? 1), 0), 0);
}

/** The partials of one job, in slice order. */
export function statePartials(stateDir: string, job: string): Partial[] {
  return committedLines(stateDir, job)
    .map((line) => JSON.parse(line) as Partial)
    .sort((a, b) => a.index - b.index);
}
