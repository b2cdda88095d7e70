/**
 * Usage lines and option tables of the commands besides `run`. They live apart from
 * the commands so that the CLI can parse arguments without loading the commands'
 * dependencies (the AWS SDK, vega): main.ts imports a command only when it runs it.
 */

export const REPORT_USAGE = `       fanout report <result.json | job id | s3://bucket/jobs/<id>/...> [--out report.html] [--svg DIR]`;

export const REPORT_OPTIONS = {
  svg: { type: 'string' },
} as const;

export const SUBMIT_USAGE = `       fanout submit <input> --bucket NAME | --stack NAME [--key input/NAME] [--detach] [analysis and input options]
       fanout status <job id | s3://bucket/input/key> [--bucket NAME | --stack NAME]`;

export const SUBMIT_OPTIONS = {
  bucket: { type: 'string' },
  stack: { type: 'string' },
  key: { type: 'string' },
  detach: { type: 'boolean' },
} as const;

export const PLAN_USAGE = `       fanout plan <input | s3://bucket/key | --bytes N> [run options] [--region R] [--memory MB] [--fanin G]`;

export const PLAN_OPTIONS = {
  bytes: { type: 'string' },
  region: { type: 'string' },
  memory: { type: 'string' },
  fanin: { type: 'string' },
} as const;

export const DEV_USAGE = `       fanout dev --endpoint URL --bucket NAME [--analysis NAME] [--frame-rows N] [--slice-bytes B] ...
                 runs the cloud pipeline's functions against an S3-compatible endpoint
                 (moto, LocalStack) until Ctrl-C: upload to input/, results appear in results/`;

export const DEV_OPTIONS = {
  endpoint: { type: 'string' },
  bucket: { type: 'string' },
  fanin: { type: 'string' },
} as const;
