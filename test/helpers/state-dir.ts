/**
 * A local state dir read as the README describes it, independently of the runtime's own
 * reader: `jobs/<id>/partials/*.ndjson` logs, one partial per newline-terminated line; a
 * partial with binary fields is a header line whose `attached` counts the bytes that
 * follow it, then a newline.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Partial } from '../../lib/core/job.ts';

/** The headers of the committed records of every log of a job (a torn last record is not one). */
function committedHeaders(stateDir: string, job: string): (Partial & { attached?: number })[] {
  const dir = join(stateDir, 'jobs', job, 'partials');
  if (!existsSync(dir)) return [];
  const out: (Partial & { attached?: number })[] = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.ndjson'))) {
    const log = readFileSync(join(dir, f));
    for (let at = 0; ; ) {
      const nl = log.indexOf(0x0a, at);
      if (nl < 0) break;
      const header = JSON.parse(log.subarray(at, nl).toString('utf8')) as Partial & { attached?: number };
      const end = nl + 1 + (header.attached ?? 0) + (header.attached ? 1 : 0);
      if (end > log.length) break;
      out.push(header);
      at = header.attached ? end : nl + 1;
    }
  }
  return out;
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

/** The partials of one job, in slice order (binary state fields left as their headers say them). */
export function statePartials(stateDir: string, job: string): Partial[] {
  return committedHeaders(stateDir, job).sort((a, b) => a.index - b.index);
}
