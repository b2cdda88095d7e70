/** `fanout report <result.json | job id | s3://...> [--out report.html] [--svg DIR]` */
import { resolve } from 'node:path';
import { UsageError } from '../core/errors.ts';
import { buildReport, locateJob, writeReport } from '../report/index.ts';

export interface ReportValues {
  out?: string;
  svg?: string;
  stateDir?: string;
  quiet?: boolean;
  json?: boolean;
}

export async function reportCommand(args: string[], values: ReportValues): Promise<number> {
  if (args.length !== 1) throw new UsageError('fanout report takes one result document, job id or s3:// location');
  const data = await locateJob(args[0]!, { stateDir: resolve(values.stateDir ?? '.fanout') });
  const out = await buildReport(data);
  const html = values.out ?? (values.svg ? undefined : `fanout-report-${data.jobId}.html`);
  const written = await writeReport(out, { html, svgDir: values.svg });
  if (values.json) process.stdout.write(`${JSON.stringify({ job: data.jobId, written, charts: out.charts.map((c) => c.name) })}\n`);
  else if (!values.quiet) for (const w of written) process.stdout.write(`${w}\n`);
  return 0;
}
