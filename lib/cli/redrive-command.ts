/**
 * `fanout redrive <job id | s3://bucket/input/key>`: runs a failed job again from where it
 * stopped: only the slices without a partial are invoked again, lost merges are fired
 * again, and the job ends done with its result published, if it is still its input's
 * newest. A done, superseded or still running job is refused with the reason. The work is
 * in lib/cloud (client.ts asks, redrive.ts is what the coordinator does).
 */
import { followJob, parseDuration, requestRedrive } from '../cloud/client.ts';
import type { ResultDocument } from '../core/job.ts';
import { jobNamed, progressFor, type SubmitValues } from './submit-command.ts';
import { summarize } from './summary.ts';

export async function redriveCommand(args: string[], values: SubmitValues): Promise<number> {
  const { store, job } = await jobNamed('redrive', args, values);
  const deadline = values.timeout !== undefined ? Date.now() + parseDuration(values.timeout) : undefined;
  const say = (line: string) => !values.quiet && process.stderr.write(`${line}\n`);
  const wait = deadline !== undefined ? { deadline } : {};
  const answer = await requestRedrive(store, job, wait);
  const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  say(`job ${job} redriven: ${count(answer.invoked ?? 0, 'slice')} invoked again${answer.merges ? `, ${count(answer.merges, 'merge')} fired again` : ''}`);
  if (values.detach) {
    if (values.json) process.stdout.write(`${JSON.stringify(answer)}\n`);
    return 0;
  }
  const bar = progressFor(values);
  const followedAt = Date.now();
  let doc: ResultDocument;
  try {
    doc = await followJob(store, job, (s) => s.slices !== undefined && bar?.update({ label: 'job', done: s.partialsDone, total: s.slices, startedAt: followedAt, unit: 'partials' }), wait);
  } finally {
    bar?.finish();
  }
  if (values.json) process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  else if (!values.quiet) process.stdout.write(`${summarize(doc)}\n`);
  return 0;
}
