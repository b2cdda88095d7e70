import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { FanoutPipeline, type FanoutDefaults } from '../../cdk/fanout-pipeline.ts';
import { ROUTES, type FunctionName } from '../../lib/cloud/topology.ts';
import { ROOT, tempDir } from '../helpers/cli.ts';
import { allows, deployedContext, type Json, render, roleStatements } from './template.ts';

const DEFAULTS: FanoutDefaults = { analysis: 'cdk-bundle-marker-analysis', frameRows: 50, sliceBytes: 8 << 20, concurrency: 64 };
const FUNCTIONS: FunctionName[] = ['coordinator', 'worker', 'merger'];

let out: ReturnType<typeof tempDir>;
let stack: Stack;
let pipeline: FanoutPipeline;
let template: Template;
let json: Json;
let resources: Record<string, { Type: string; Properties: Json }>;
let synthMs = 0;
const id = (construct: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(construct.node.defaultChild as CfnFunction);
let BUCKET: string;

beforeAll(() => {
  out = tempDir('fanout-cdk-');
  const t0 = performance.now();
  // The built-in CloudFormation validator is off here only for speed: cfn-lint checks the template in checks.test.ts.
  const app = new App({ outdir: out.path, context: deployedContext(), builtinCloudFormationValidation: false });
  stack = new Stack(app, 'PipelineTest', { env: { account: '111111111111', region: 'eu-west-1' } });
  pipeline = new FanoutPipeline(stack, 'Fanout', {
    defaults: DEFAULTS,
    analysisEntry: join(import.meta.dirname, 'fixtures/marker-analysis.ts'),
    reservedConcurrency: 200,
    mergeFanIn: 16,
    logRetention: RetentionDays.TWO_WEEKS,
    maxEventAge: Duration.hours(2),
    retryAttempts: 1,
    jobTimeout: Duration.minutes(45),
    limits: { maxSlices: 5000, minSliceBytes: 1 << 20 },
  });
  template = Template.fromStack(stack);
  json = template.toJSON();
  resources = json.Resources as typeof resources;
  synthMs = performance.now() - t0;
  BUCKET = `<${stack.getLogicalId(pipeline.bucket.node.defaultChild as s3.CfnBucket)}.Arn>`;
});

afterAll(() => out?.cleanup());

describe('FanoutPipeline', () => {
  it('synthesizes (bundling three functions) in reasonable time', () => {
    console.log(`FanoutPipeline synth with esbuild bundling: ${synthMs.toFixed(0)} ms`);
    expect(synthMs).toBeLessThan(90_000);
  });

  describe('bucket notifications', () => {
    it('are exactly the routes of lib/cloud/topology.ts, each reaching its function', () => {
      const [notifications] = Object.values(template.findResources('Custom::S3BucketNotifications'));
      const configs = (notifications as { Properties: { NotificationConfiguration: { LambdaFunctionConfigurations: Json[] } } }).Properties.NotificationConfiguration.LambdaFunctionConfigurations;
      const actual = configs.map((c) => {
        const rules = ((c.Filter as { Key: { FilterRules: { Name: string; Value: string }[] } }).Key.FilterRules ?? []).map((r) => [r.Name.toLowerCase(), r.Value]);
        return { events: c.Events, target: render(c.LambdaFunctionArn), ...Object.fromEntries(rules) };
      });
      const expected = ROUTES.map((r) => ({ events: [...r.events], target: `<${id(pipeline.functions[r.target])}.Arn>`, prefix: r.prefix, ...(r.suffix ? { suffix: r.suffix } : {}) }));
      expect(actual).toHaveLength(expected.length);
      expect(actual).toEqual(expect.arrayContaining(expected));
      expect(Object.keys(template.findResources('Custom::S3BucketNotifications'))).toHaveLength(1);
    });

    it('let S3 invoke only the routed functions, only from this bucket and account', () => {
      const permissions = Object.values(template.findResources('AWS::Lambda::Permission')).map((p) => p.Properties as Json);
      const targets = [...new Set(ROUTES.map((r) => `<${id(pipeline.functions[r.target])}.Arn>`))].sort();
      expect(permissions.map((p) => render(p.FunctionName)).sort()).toEqual(targets);
      for (const p of permissions) {
        expect(p.Principal).toBe('s3.amazonaws.com');
        expect(p.Action).toBe('lambda:InvokeFunction');
        expect(render(p.SourceArn)).toBe(BUCKET);
        expect(render(p.SourceAccount)).toBe('111111111111');
      }
    });
  });

  describe('bucket', () => {
    it('blocks public access, encrypts, versions, logs access to a separate bucket and expires jobs/', () => {
      const bucket = resources[BUCKET.slice(1, -5)]!.Properties;
      expect(bucket.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      expect(bucket.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
      expect(bucket.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      const logging = bucket.LoggingConfiguration as Json;
      const logBucketId = render(logging.DestinationBucketName).slice(1, -1);
      expect(logBucketId).not.toBe(BUCKET.slice(1, -5));
      expect(resources[logBucketId]!.Type).toBe('AWS::S3::Bucket');
      expect(resources[logBucketId]!.Properties.PublicAccessBlockConfiguration).toEqual(bucket.PublicAccessBlockConfiguration);
      const rules = (bucket.LifecycleConfiguration as { Rules: Json[] }).Rules;
      expect(rules).toEqual(expect.arrayContaining([expect.objectContaining({ Prefix: 'jobs/', Status: 'Enabled', ExpirationInDays: expect.any(Number) })]));
      // Results and inputs are the user's: no rule may expire them.
      for (const r of rules) if (r.ExpirationInDays !== undefined) expect(r.Prefix).toBe('jobs/');
    });

    it('expires the old versions of overwritten uploads under input/, never the current one', () => {
      const rules = (resources[BUCKET.slice(1, -5)]!.Properties.LifecycleConfiguration as { Rules: Json[] }).Rules;
      const inputs = rules.filter((r) => r.Prefix === 'input/');
      expect(inputs).toEqual([{ Id: 'expire-old-inputs', Prefix: 'input/', Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 3 } }]);
    });

    it.each([['fanout bucket', () => BUCKET.slice(1, -5)], ['access-log bucket', () => render((resources[BUCKET.slice(1, -5)]!.Properties.LoggingConfiguration as Json).DestinationBucketName).slice(1, -1)]])(
      'has a %s policy that denies every request not made over TLS',
      (_name, bucketId) => {
        const policies = Object.values(template.findResources('AWS::S3::BucketPolicy')).filter((p) => render((p.Properties as Json).Bucket) === `<${bucketId()}>`);
        expect(policies).toHaveLength(1);
        const statements = ((policies[0]!.Properties as Json).PolicyDocument as { Statement: Json[] }).Statement;
        const deny = statements.find((s) => s.Effect === 'Deny' && JSON.stringify(s.Condition) === JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }));
        expect(deny).toBeDefined();
        expect(deny!.Principal).toEqual({ AWS: '*' });
        expect(deny!.Action).toBe('s3:*');
        expect((deny!.Resource as unknown[]).map(render).sort()).toEqual([`<${bucketId()}.Arn>`, `<${bucketId()}.Arn>/*`]);
      },
    );
  });

  describe('IAM', () => {
    const stmts = (fn: FunctionName) => roleStatements(json, id({ node: { defaultChild: pipeline.functions[fn].role!.node.defaultChild } }));
    const obj = (key: string) => `${BUCKET}/${key}`;

    it.each<[FunctionName, string, string, boolean]>([
      ['coordinator', 's3:GetObject', 'input/big.npy', true],
      ['coordinator', 's3:GetObjectVersion', 'input/big.npy', true],
      ['coordinator', 's3:PutObject', 'jobs/abc/manifest.json', true],
      ['coordinator', 's3:PutObject', 'input/big.npy', false],
      ['coordinator', 's3:PutObject', 'results/big.npy.json', false],
      ['coordinator', 's3:DeleteObject', 'jobs/abc/manifest.json', false],
      ['worker', 's3:GetObject', 'input/big.npy', true],
      ['worker', 's3:PutObject', 'jobs/abc/partials/000001.partial.json', true],
      ['worker', 's3:PutObject', 'input/big.npy', false],
      ['worker', 's3:PutObject', 'results/big.npy.json', false],
      ['worker', 's3:GetObject', 'results/big.npy.json', false],
      ['worker', 's3:DeleteObject', 'jobs/abc/partials/000001.partial.json', false],
      ['merger', 's3:GetObject', 'jobs/abc/partials/000001.partial.json', true],
      ['merger', 's3:PutObject', 'jobs/abc/result.json', true],
      ['merger', 's3:PutObject', 'results/a/b.npy.json', true],
      ['merger', 's3:GetObject', 'input/big.npy', false],
      ['merger', 's3:GetObjectVersion', 'input/big.npy', false],
      ['merger', 's3:PutObject', 'input/big.npy', false],
    ])('%s may %s on %s: %s', (fn, action, key, expected) => {
      expect(allows(stmts(fn), action, obj(key))).toBe(expected);
    });

    it.each(FUNCTIONS)('%s cannot write, delete or tag anything under input/', (fn) => {
      for (const action of ['s3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectTagging', 's3:PutObjectAcl', 's3:RestoreObject']) {
        expect(allows(stmts(fn), action, obj('input/x'))).toBe(false);
      }
    });

    it('lets the coordinator, the worker (the next slice of its chain) and the merger (that of a failed worker) invoke the worker, and nothing else', () => {
      const worker = `<${id(pipeline.worker)}.Arn>`;
      for (const fn of FUNCTIONS) {
        expect(allows(stmts(fn), 'lambda:InvokeFunction', worker)).toBe(true);
        expect(allows(stmts(fn), 'lambda:InvokeFunction', `<${id(pipeline.merger)}.Arn>`)).toBe(false);
        expect(allows(stmts(fn), 'lambda:InvokeFunction', `<${id(pipeline.coordinator)}.Arn>`)).toBe(false);
      }
    });

    it('lets worker chains run past Lambda\'s recursive loop detection (the worker only)', () => {
      expect(resources[id(pipeline.worker)]!.Properties.RecursiveLoop).toBe('Allow');
      expect(resources[id(pipeline.merger)]!.Properties.RecursiveLoop).toBeUndefined();
      expect(resources[id(pipeline.coordinator)]!.Properties.RecursiveLoop).toBeUndefined();
    });

    it('grants exactly the listed actions, per function', () => {
      const actions = (fn: FunctionName) => [...new Set(stmts(fn).flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])))].sort();
      const common = ['events:PutEvents', 'logs:CreateLogStream', 'logs:PutLogEvents', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage', 's3:GetObject', 's3:ListBucket', 's3:PutObject'];
      expect(actions('coordinator')).toEqual([...common, 's3:GetObjectVersion', 'lambda:InvokeFunction'].sort());
      expect(actions('worker')).toEqual([...common, 's3:GetObjectVersion', 'lambda:InvokeFunction'].sort());
      const consume = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:ReceiveMessage'];
      expect(actions('merger')).toEqual([...common, ...consume, 'lambda:InvokeFunction'].sort());
      const queue = `<${stack.getLogicalId(pipeline.failureQueue.node.defaultChild as never)}.Arn>`;
      for (const a of consume) {
        expect(allows(stmts('merger'), a, queue)).toBe(true);
        expect(allows(stmts('worker'), a, queue)).toBe(false);
      }
    });

    it.each(FUNCTIONS)('%s may list the bucket only under the prefixes it reads (an s3:prefix condition on every ListBucket)', (fn) => {
      const listing = stmts(fn).filter((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]).includes('s3:ListBucket'));
      expect(listing).toHaveLength(1);
      expect(listing[0]!.Action).toBe('s3:ListBucket');
      expect(render(listing[0]!.Resource)).toBe(BUCKET);
      const expected = { coordinator: ['input/*', 'jobs/*'], worker: ['input/*', 'jobs/*'], merger: ['jobs/*', 'results/*'] }[fn];
      expect(listing[0]!.Condition).toEqual({ StringLike: { 's3:prefix': expected } });
    });

    it('has no wildcard action and no Resource "*" in any policy of the stack', () => {
      for (const [logicalId, r] of Object.entries(resources)) {
        if (r.Type !== 'AWS::IAM::Policy' && r.Type !== 'AWS::IAM::Role') continue;
        const docs = r.Type === 'AWS::IAM::Policy' ? [r.Properties.PolicyDocument] : ((r.Properties.Policies as { PolicyDocument: unknown }[] | undefined) ?? []).map((p) => p.PolicyDocument);
        for (const doc of docs as { Statement: Json[] }[]) {
          for (const s of doc.Statement) {
            const actions = Array.isArray(s.Action) ? s.Action : [s.Action];
            const res = (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).map(render);
            expect(actions.filter((a) => String(a).includes('*')), logicalId).toEqual([]);
            expect(res.filter((x) => x === '*'), logicalId).toEqual([]);
          }
        }
      }
    });

    it('gives every function its own role with only its own log group, no managed policies', () => {
      for (const fn of FUNCTIONS) {
        const role = resources[id({ node: { defaultChild: pipeline.functions[fn].role!.node.defaultChild } })]!;
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
        const logGroup = render((resources[id(pipeline.functions[fn])]!.Properties.LoggingConfig as Json).LogGroup);
        const logStatements = stmts(fn).filter((s) => String(s.Action).includes('logs:') || (Array.isArray(s.Action) && s.Action.some((a) => a.startsWith('logs:'))));
        expect(logStatements.map((s) => render(s.Resource))).toEqual([`${logGroup.slice(0, -1)}.Arn>`]);
      }
    });
  });

  describe('functions', () => {
    it.each(FUNCTIONS)('%s runs on nodejs24.x, arm64, with a log group of the given retention', (fn) => {
      const props = resources[id(pipeline.functions[fn])]!.Properties;
      expect(props.Runtime).toBe('nodejs24.x');
      expect(props.Architectures).toEqual(['arm64']);
      const logGroupId = render((props.LoggingConfig as Json).LogGroup).slice(1, -1);
      expect(resources[logGroupId]!.Type).toBe('AWS::Logs::LogGroup');
      expect(resources[logGroupId]!.Properties.RetentionInDays).toBe(14);
    });

    it.each(FUNCTIONS)('%s gets the environment contract: bucket, defaults, fan-in, logging', (fn) => {
      const env = (resources[id(pipeline.functions[fn])]!.Properties.Environment as { Variables: Json }).Variables;
      expect(render(env.BUCKET_NAME)).toBe(`<${BUCKET.slice(1, -5)}>`);
      expect(JSON.parse(env.FANOUT_DEFAULTS as string)).toEqual(DEFAULTS);
      expect(env.FANOUT_MERGE_FANIN).toBe('16');
      expect(env.POWERTOOLS_SERVICE_NAME).toBe('fanout');
      expect(env.LOG_LEVEL).toBe('INFO');
      expect(render(env.FAILURE_QUEUE_URL)).toBe(`<${stack.getLogicalId(pipeline.failureQueue.node.defaultChild as never)}>`);
      if (fn !== 'worker') expect(render(env.WORKER_FUNCTION_NAME)).toBe(`<${id(pipeline.worker)}>`);
      else expect(env.WORKER_FUNCTION_NAME).toBeUndefined();
      // The stack's limits and the job deadline, from the props (defaults where none is given).
      expect(env.FANOUT_JOB_TIMEOUT_SECONDS).toBe('2700');
      expect(env.FANOUT_LIMIT_MAX_SLICES).toBe('5000');
      expect(env.FANOUT_LIMIT_MIN_SLICE_BYTES).toBe(String(1 << 20));
      expect(env.FANOUT_LIMIT_MAX_WORKERS).toBe('100');
      // Job completions go to the account's default bus, which each function may put events on, and only that.
      expect(env.FANOUT_EVENT_BUS).toBe('default');
      const puts = roleStatements(json, id({ node: { defaultChild: pipeline.functions[fn].role!.node.defaultChild } })).filter((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]).includes('events:PutEvents'));
      expect(puts.map((s) => render(s.Resource))).toEqual(['arn:<AWS::Partition>:events:eu-west-1:111111111111:event-bus/default']);
    });

    it('alarms on any record in the failure queue and on any record in its dead-letter queue', () => {
      const queueId = stack.getLogicalId(pipeline.failureQueue.node.defaultChild as never);
      const dlqId = render((resources[queueId]!.Properties.RedrivePolicy as Json).deadLetterTargetArn).slice(1, -5);
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties as Json);
      const on = (queue: string) => alarms.filter((a) => render((a.Dimensions as Json[])[0]!.Value) === `<${queue}.QueueName>`);
      expect(on(queueId)).toEqual([
        expect.objectContaining({ Namespace: 'AWS/SQS', MetricName: 'NumberOfMessagesSent', Statistic: 'Sum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' }),
      ]);
      expect(on(dlqId)).toEqual([
        expect.objectContaining({ Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Statistic: 'Maximum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' }),
      ]);
      expect(alarms).toHaveLength(2);
    });

    it('reserves concurrency for the worker only', () => {
      expect(resources[id(pipeline.worker)]!.Properties.ReservedConcurrentExecutions).toBe(200);
      expect(resources[id(pipeline.coordinator)]!.Properties.ReservedConcurrentExecutions).toBeUndefined();
    });

    it.each(FUNCTIONS)('%s has an async invoke config with retries, a maximum event age and the failure queue as on-failure destination', (fn) => {
      const configs = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig')).map((c) => c.Properties as Json);
      const mine = configs.filter((c) => render(c.FunctionName) === `<${id(pipeline.functions[fn])}>`);
      expect(mine).toHaveLength(1);
      expect(mine[0]!.MaximumRetryAttempts).toBe(1);
      expect(mine[0]!.MaximumEventAgeInSeconds).toBe(7200);
      const queueId = stack.getLogicalId(pipeline.failureQueue.node.defaultChild as never);
      expect(render((mine[0]!.DestinationConfig as { OnFailure: { Destination: unknown } }).OnFailure.Destination)).toBe(`<${queueId}.Arn>`);
    });

    it('sends failures to an encrypted queue that refuses non-TLS requests', () => {
      const queueId = stack.getLogicalId(pipeline.failureQueue.node.defaultChild as never);
      expect(resources[queueId]!.Properties.SqsManagedSseEnabled).toBe(true);
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queueId }],
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
      });
    });

    it('has the merger, and only the merger, consume the failure queue, whose own failures go to a dead-letter queue', () => {
      const queueId = stack.getLogicalId(pipeline.failureQueue.node.defaultChild as never);
      const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).map((m) => m.Properties as Json);
      expect(mappings).toHaveLength(1);
      expect(render(mappings[0]!.EventSourceArn)).toBe(`<${queueId}.Arn>`);
      expect(render(mappings[0]!.FunctionName)).toBe(`<${id(pipeline.merger)}>`);
      const queue = resources[queueId]!.Properties;
      const dlq = render((queue.RedrivePolicy as Json).deadLetterTargetArn).slice(1, -5);
      expect(resources[dlq]!.Properties.SqsManagedSseEnabled).toBe(true);
      // Lambda rejects a queue whose visibility timeout is shorter than the consumer's timeout.
      expect(queue.VisibilityTimeout as number).toBeGreaterThanOrEqual(resources[id(pipeline.merger)]!.Properties.Timeout as number);
    });

    it('bundles the custom analysis of analysisEntry into every function', () => {
      for (const fn of FUNCTIONS) {
        const code = resources[id(pipeline.functions[fn])]!.Properties.Code as { S3Key: unknown };
        const hash = render(code.S3Key).replace(/\.zip$/, '');
        const bundle = readFileSync(join(out.path, `asset.${hash}`, 'index.mjs'), 'utf8');
        expect(bundle).toContain('cdk-bundle-marker-analysis');
        expect(bundle).toContain('markerRows');
      }
    });

    it('builds bundles that load as ES modules on Node and export handler', () => {
      // Inside the repository, so the AWS SDK (external: Lambda's runtime provides it) resolves from node_modules.
      const dir = mkdtempSync(join(ROOT, 'node_modules', '.fanout-bundle-check-'));
      try {
        const urls = FUNCTIONS.map((fn) => {
          const code = resources[id(pipeline.functions[fn])]!.Properties.Code as { S3Key: unknown };
          const hash = render(code.S3Key).replace(/\.zip$/, '');
          const target = join(dir, `${fn}.mjs`);
          copyFileSync(join(out.path, `asset.${hash}`, 'index.mjs'), target);
          return pathToFileURL(target).href;
        });
        // One process for the three: loading the SDK and Powertools dominates the time.
        const probe = 'for (const u of process.argv.slice(1)) console.log(typeof (await import(u)).handler)';
        const env = { ...process.env, BUCKET_NAME: 'bucket', WORKER_FUNCTION_NAME: 'worker', FANOUT_DEFAULTS: JSON.stringify(DEFAULTS), FANOUT_MERGE_FANIN: '16' };
        const r = spawnSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', probe, ...urls], { env, encoding: 'utf8' });
        expect(r.stderr).toBe('');
        expect(r.stdout.trim().split('\n')).toEqual(['function', 'function', 'function']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('props', () => {
    it.each([
      [{ limits: { maxSlices: 0 } }, /limits.maxSlices takes an integer of at least 1, not 0/],
      [{ limits: { maxWorkersPerJob: 5000 } }, /limits.maxWorkersPerJob takes an integer from 1 to 1000, not 5000/],
      [{ jobTimeout: Duration.millis(0) }, /jobTimeout \(seconds\) takes an integer/],
    ])('rejects invalid limits at synth time, naming them: %j', (props, message) => {
      const s = new Stack(new App({ context: deployedContext() }), 'Bad');
      expect(() => new FanoutPipeline(s, 'F', props)).toThrow(message);
    });

    it('rejects invalid defaults at synth time, naming the option', () => {
      const s = new Stack(new App(), 'Bad');
      expect(() => new FanoutPipeline(s, 'P', { defaults: { frameRows: -3 } })).toThrow(/frameRows/);
      expect(() => new FanoutPipeline(s, 'Q', { defaults: { bogus: 1 } as FanoutDefaults })).toThrow(/bogus|unrecognized/i);
      expect(() => new FanoutPipeline(s, 'R', { mergeFanIn: 1 })).toThrow(/R: mergeFanIn takes an integer from 2 to 1000, not 1/);
    });

    // No bundling: these only look at what the construct makes of its props.
    const unbundled = () => new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const environment = (p: FanoutPipeline) => Stack.of(p).resolve((p.coordinator.node.defaultChild as CfnFunction).environment) as { variables: Record<string, string> };

    it("takes every format the readers take as a default, 'dcd' included", () => {
      const defaults: FanoutDefaults = { format: 'dcd', sliceBytes: 1 << 20, concurrency: 200 };
      const p = new FanoutPipeline(new Stack(unbundled(), 'Dcd'), 'P', { defaults });
      expect(JSON.parse(environment(p).variables.FANOUT_DEFAULTS!)).toEqual(defaults);
    });

    it('reads every cloud option and the fan-in from the app context, in the syntax metadata takes', async () => {
      const { buildApp } = await import('../../cdk/app.ts');
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [], sliceBytes: '16MiB', format: 'dcd', frameRows: '50', options: '{"ddof":"1"}', mergeFanIn: '16' } });
      const { stack } = buildApp(app);
      const env = environment(stack.pipeline).variables;
      expect(JSON.parse(env.FANOUT_DEFAULTS!)).toEqual({ sliceBytes: 16 << 20, format: 'dcd', frameRows: 50, options: { ddof: '1' } });
      expect(env.FANOUT_MERGE_FANIN).toBe('16');
      expect(() => buildApp(new App({ context: { 'aws:cdk:bundling-stacks': [], sliceBytes: 'lots' } }))).toThrow(/-c sliceBytes takes a size such as 1048576, 64MiB or 1G, not "lots"/);
    });
  });
});

describe('FanoutPipeline on an existing bucket', () => {
  let existing: Template;
  let existingJson: Json;
  let p: FanoutPipeline;
  let s: Stack;
  beforeAll(() => {
    const app = new App({ outdir: out.path, context: deployedContext(), builtinCloudFormationValidation: false });
    s = new Stack(app, 'ExistingBucket');
    // The same analysisEntry as above: identical bundling options reuse the bundles already built.
    p = new FanoutPipeline(s, 'Fanout', { bucket: s3.Bucket.fromBucketName(s, 'Mine', 'my-existing-bucket'), analysisEntry: join(import.meta.dirname, 'fixtures/marker-analysis.ts') });
    existing = Template.fromStack(s);
    existingJson = existing.toJSON();
  });

  it('creates no bucket and configures notifications on the given one', () => {
    existing.resourceCountIs('AWS::S3::Bucket', 0);
    existing.hasResourceProperties('Custom::S3BucketNotifications', { BucketName: 'my-existing-bucket' });
  });

  it('scopes IAM to the given bucket prefixes', () => {
    const roleId = s.getLogicalId(p.merger.role!.node.defaultChild as never);
    const st = roleStatements(existingJson, roleId);
    const arn = 'arn:<AWS::Partition>:s3:::my-existing-bucket';
    expect(allows(st, 's3:PutObject', `${arn}/results/x.json`)).toBe(true);
    expect(allows(st, 's3:GetObject', `${arn}/input/x`)).toBe(false);
  });
});
