/**
 * End to end on LocalStack: deploy the CDK app, upload an .npy under input/, wait for
 * results/<key>.json and compare its `result` with `fanout run` on the same file.
 *
 * Needs a running LocalStack 4.10+ with Docker (localstack/docker-compose.yml). Where
 * none answers at LOCALSTACK_ENDPOINT (default http://localhost:4566) the test is
 * skipped, says so and why, and reports no pass.
 *
 *   LOCALSTACK_ENDPOINT=http://host:4566   where LocalStack listens
 *   FANOUT_LOCALSTACK_DEPLOY=0             use the stack deployed by `npm run localstack:deploy`
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { resultKeyForInput } from '../../lib/job/keys.ts';
import { ROOT, runJson, tempDir } from '../helpers/cli.ts';
import { python } from '../helpers/python.ts';
import { probeLocalStack } from './probe.ts';

const endpoint = process.env.LOCALSTACK_ENDPOINT ?? 'http://localhost:4566';
const OUTPUTS_FILE = join(ROOT, 'cdk.out', 'localstack-outputs.json');
const STACK = 'FanoutStack';
const probe = await probeLocalStack(endpoint);
if (!probe.ok) console.log(`LocalStack e2e SKIPPED: no LocalStack at ${endpoint} (${probe.reason})`);

const awsEnv = {
  AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'test',
  AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
  AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
};

/** `npm run localstack:deploy`: bootstrap, deploy, write the stack outputs. */
function deploy(): void {
  const r = spawnSync('sh', [join(ROOT, 'localstack/deploy.sh')], { cwd: ROOT, env: { ...process.env, LOCALSTACK_ENDPOINT: endpoint }, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`localstack/deploy.sh failed (${r.status}):\n${r.stderr.slice(-4000)}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LocalStack end to end', () => {
  const title = probe.ok
    ? `deploys to LocalStack ${probe.version}, and an upload to input/ yields results/<key>.json equal to fanout run`
    : `SKIPPED: no LocalStack at ${endpoint} (${probe.reason})`;

  it.skipIf(!probe.ok)(title, { timeout: 20 * 60_000 }, async () => {
    if (process.env.FANOUT_LOCALSTACK_DEPLOY !== '0') deploy();
    if (!existsSync(OUTPUTS_FILE)) throw new Error(`${OUTPUTS_FILE} is missing: run npm run localstack:deploy first`);
    const outputs = (JSON.parse(readFileSync(OUTPUTS_FILE, 'utf8')) as Record<string, Record<string, string>>)[STACK];
    const bucket = outputs?.BucketName;
    if (!bucket) throw new Error(`no BucketName output for ${STACK} in ${OUTPUTS_FILE}`);

    const dir = tempDir('fanout-localstack-');
    try {
      const file = join(dir.path, 'frames.npy');
      // 120 frames of (7, 4): small, but several slices at the slice size set below.
      python('rng = np.random.default_rng(20240611)\nnp.save(args, rng.normal(size=(120, 7, 4)) * 1e3)\nprint("null")', file);
      const local = runJson([file, '--analysis', 'row-sums']);

      const s3 = new S3Client({ endpoint, region: awsEnv.AWS_REGION, forcePathStyle: true, credentials: { accessKeyId: awsEnv.AWS_ACCESS_KEY_ID, secretAccessKey: awsEnv.AWS_SECRET_ACCESS_KEY } });
      // A space, a plus and non-ASCII: the key must survive S3's URL-encoding of event keys.
      const key = `input/e2e run+${Date.now()}/données.npy`;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(file), Metadata: { 'fanout-analysis': 'row-sums', 'fanout-slice-bytes': '4096' } }));

      const resultKey = resultKeyForInput(key);
      const deadline = Date.now() + 10 * 60_000;
      let body: string | undefined;
      while (Date.now() < deadline && body === undefined) {
        try {
          body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: resultKey }))).Body!.transformToString();
        } catch (e) {
          if ((e as { name?: string }).name !== 'NoSuchKey') throw e;
          await sleep(2000);
        }
      }
      if (body === undefined) {
        // Say why: a failed job leaves its reason in jobs/<id>/status.json.
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'jobs/' }));
        const statuses = await Promise.all(
          (listed.Contents ?? []).filter((o) => o.Key!.endsWith('/status.json')).map(async (o) => (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }))).Body!.transformToString()),
        );
        throw new Error(`no ${resultKey} after 10 minutes; job statuses: ${statuses.join('\n') || 'none'}`);
      }
      const remote = JSON.parse(body) as { result: unknown };
      expect(remote.result).toEqual(local.result);
    } finally {
      dir.cleanup();
    }
  });
});
