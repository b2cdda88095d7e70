/**
 * FanoutPipeline: a bucket (new or existing), the coordinator, worker and merger
 * functions, and the bucket notifications that connect them.
 *
 * The notifications are built from lib/cloud/topology.ts (the same table the local
 * dispatcher routes with), so no prefix or suffix is restated here. Each function
 * gets its own role holding exactly the S3 prefixes it needs; nothing may write
 * under input/, which is what keeps an upload from ever triggering itself.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { Duration, RemovalPolicy, Stack, Stage, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
// cdk-nag's own rendering of a resource in a finding id, so acknowledgements match for new and imported buckets alike.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import { Construct } from 'constructs';
import { DEFAULT_LIMITS, DEFAULT_MERGE_FAN_IN, type JobOptions, MERGE_FAN_IN, type OptionSpec, OptionValueError, parseJobOptions, parseOptionValue, STACK_LIMITS, type StackLimits } from '../lib/job/options.ts';
import { type FunctionName, ROUTES } from '../lib/cloud/topology.ts';
import { INPUT_PREFIX, JOBS_PREFIX, RESULTS_PREFIX } from '../lib/job/keys.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..');

/**
 * The prefixes each function may list (s3:ListBucket's s3:prefix condition): the ones it
 * reads, so that a missing key there is a 404, not a 403. The coordinator and the worker
 * read uploads (a deleted one is "gone") and jobs/; the merger jobs/ and results/.
 */
export const LIST_PREFIXES: Record<FunctionName, readonly string[]> = {
  coordinator: [INPUT_PREFIX, JOBS_PREFIX],
  worker: [INPUT_PREFIX, JOBS_PREFIX],
  merger: [JOBS_PREFIX, RESULTS_PREFIX],
};

/**
 * Job options used when an upload carries no `x-amz-meta-fanout-*` override: the cloud
 * options of lib/job/options.ts, typed from their declaration (so `format` takes what
 * the readers take, 'dcd' included), and validated at synth.
 */
export type FanoutDefaults = JobOptions;

export interface FanoutPipelineProps {
  /** An existing bucket to use. Default: a new bucket with secure defaults (see createSecureBucket). */
  bucket?: s3.IBucket;
  defaults?: FanoutDefaults;
  /** Memory of each function, MiB (Lambda's CPU share scales with it). Default 1024. */
  memorySize?: number;
  /** Timeout of each function. Default 5 minutes. */
  timeout?: Duration;
  /** Reserved concurrency of the worker: the most slices scanned at once. Default: unreserved. */
  reservedConcurrency?: number;
  /** Partials merged per merge-tree node (lib/job/options.ts MERGE_FAN_IN: default and range). */
  mergeFanIn?: number;
  /**
   * Path to a module whose default export was made with defineAnalysis(). It is
   * bundled into every function and registered by name, so `defaults.analysis` or
   * the upload's `x-amz-meta-fanout-analysis` can name it.
   */
  analysisEntry?: string;
  /** Default one month. */
  logRetention?: logs.RetentionDays;
  /** Lambda's own retries of a failed asynchronous invocation (0 to 2). Default 2. */
  retryAttempts?: number;
  /** How long an asynchronous event may wait before it goes to the failure queue. Default 6 hours. */
  maxEventAge?: Duration;
  /** Days job documents (manifests, partials) are kept under jobs/. Default 14. */
  jobsExpirationDays?: number;
  /** Days an overwritten upload's old version is kept under input/ (a lifecycle rule; the current version is kept). Default 3. */
  noncurrentInputDays?: number;
  /**
   * Where each job's completion goes: an EventBridge event, source `fanout`, detail-type
   * `fanout job done` | `fanout job failed` | `fanout job superseded`, detail the job's
   * status (its result key, or the reason). Default: the account's default bus.
   */
  eventBus?: events.IEventBus;
  /** For the bucket and log groups this construct creates. Default RETAIN. */
  removalPolicy?: RemovalPolicy;
  /** POWERTOOLS log level. Default INFO. */
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * A job not finished this long after it started (or restarted) is failed with the
   * reason, by the next event of it or by `fanout status`. Default 1 hour.
   */
  jobTimeout?: Duration;
  /**
   * What any job may ask for, whatever its upload's metadata says (lib/job/options.ts
   * STACK_LIMITS): `maxSlices` (default 10,000), `minSliceBytes` (4096), and
   * `maxWorkersPerJob` (100: the most workers of one job running at once, and its default).
   */
  limits?: { maxSlices?: number; minSliceBytes?: number; maxWorkersPerJob?: number };
}

/**
 * The secure bucket defaults, in one place: no public access, TLS only, S3-managed
 * encryption, versioning (the coordinator pins an input's version), access logs to a
 * separate bucket, and expiry of the job scratch space.
 */
export function createSecureBucket(scope: Construct, id: string, options: { jobsExpirationDays: number; noncurrentInputDays: number; removalPolicy: RemovalPolicy }): s3.Bucket {
  const autoDelete = options.removalPolicy === RemovalPolicy.DESTROY;
  const logBucket = new s3.Bucket(scope, `${id}AccessLogs`, {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    // Server access log delivery only supports SSE-S3 on the target bucket.
    encryption: s3.BucketEncryption.S3_MANAGED,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    versioned: true,
    lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
    removalPolicy: options.removalPolicy,
    autoDeleteObjects: autoDelete,
  });
  Validations.of(logBucket).acknowledge({
    id: 'AwsSolutions-S1',
    reason: 'This is the access-log target of the fanout bucket; logging access to the log bucket itself would only log the log delivery.',
  });
  return new s3.Bucket(scope, id, {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    encryption: s3.BucketEncryption.S3_MANAGED,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    versioned: true,
    serverAccessLogsBucket: logBucket,
    serverAccessLogsPrefix: 'fanout-bucket/',
    lifecycleRules: [
      // Manifests and partials are scratch space: the result is copied to results/.
      { id: 'expire-jobs', prefix: JOBS_PREFIX, expiration: Duration.days(options.jobsExpirationDays), noncurrentVersionExpiration: Duration.days(1) },
      // An overwritten upload's old version is only read by its superseded job: kept a few
      // days (past any job's deadline), then gone. The current version is never expired.
      { id: 'expire-old-inputs', prefix: INPUT_PREFIX, noncurrentVersionExpiration: Duration.days(options.noncurrentInputDays) },
      { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
    ],
    removalPolicy: options.removalPolicy,
    autoDeleteObjects: autoDelete,
  });
}

/**
 * Writes a tiny entry that registers the user's analysis in the built-in registry.
 * esbuild's `inject` puts it in every function's bundle, ahead of the handler, so
 * the handler code does not need to know a custom analysis exists.
 */
export function writeAnalysisRegistration(analysisEntry: string, outDir: string): string {
  const entry = resolve(analysisEntry);
  const registry = join(REPO_ROOT, 'lib/core/analyses/index.ts');
  const source = [
    '// Generated by cdk/fanout-pipeline.ts at synth time: registers the custom analysis.',
    `import { registerAnalysis } from ${JSON.stringify(registry)};`,
    `import * as userModule from ${JSON.stringify(entry)};`,
    // Read through a plain object: esbuild warns about a missing named export otherwise.
    'const exported: Record<string, unknown> = userModule;',
    "registerAnalysis((exported['default'] ?? exported['analysis']) as Parameters<typeof registerAnalysis>[0]);",
    '',
  ].join('\n');
  // Content-addressed, so two pipelines with different analyses never share a file.
  const file = join(outDir, `register-analysis-${createHash('sha256').update(source).digest('hex').slice(0, 12)}.ts`);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(file, source);
  return file;
}

export class FanoutPipeline extends Construct {
  readonly bucket: s3.IBucket;
  readonly coordinator: NodejsFunction;
  readonly worker: NodejsFunction;
  readonly merger: NodejsFunction;
  /** Asynchronous invocations that failed after Lambda's retries land here; the merger consumes them. */
  readonly failureQueue: sqs.Queue;
  readonly functions: Record<FunctionName, NodejsFunction>;
  /** Alarms on the failure queue and its dead letters: add actions (an SNS topic) to be told. */
  readonly alarms: { failures: cloudwatch.Alarm; deadLetters: cloudwatch.Alarm };
  /** The bus the completion events go to: add rules to it. */
  readonly eventBus: events.IEventBus;

  constructor(scope: Construct, id: string, props: FanoutPipelineProps = {}) {
    super(scope, id);
    // Access-log delivery through a bucket policy, not the legacy LogDeliveryWrite ACL
    // (ACLs stay disabled). Set here so the construct is secure in any app, whatever its cdk.json.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const mergeFanIn = props.mergeFanIn === undefined ? DEFAULT_MERGE_FAN_IN : validFanIn(props.mergeFanIn, `${this.node.path}: mergeFanIn`);
    // The functions validate FANOUT_DEFAULTS at cold start; failing here instead turns a
    // typo into a synth error rather than a deployed pipeline that cannot start.
    const defaults = parseJobOptions(props.defaults ?? {}, `${this.node.path}: defaults`);
    const retryAttempts = props.retryAttempts ?? 2;
    const limits = stackLimitsEnv({ ...props.limits, ...(props.jobTimeout ? { jobTimeoutSeconds: props.jobTimeout.toSeconds() } : {}) }, this.node.path);

    this.bucket = props.bucket ?? createSecureBucket(this, 'Bucket', { jobsExpirationDays: props.jobsExpirationDays ?? 14, noncurrentInputDays: props.noncurrentInputDays ?? 3, removalPolicy });

    const timeout = props.timeout ?? Duration.minutes(5);
    // Failure records the merger could not process after a few attempts end here, for a human.
    const deadLetters = new sqs.Queue(this, 'FailureDeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(deadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter queue of the failure queue; a dead-letter queue of its own would have nothing to catch.',
    });
    this.failureQueue = new sqs.Queue(this, 'FailureQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // Lambda requires at least the consumer's timeout; six times it leaves room for retries of a batch.
      visibilityTimeout: Duration.seconds(Math.min(12 * 3600, timeout.toSeconds() * 6)),
      deadLetterQueue: { queue: deadLetters, maxReceiveCount: 5 },
    });

    // The generated file lives in the cloud assembly directory, beside the bundles it feeds.
    const generatedDir = join(Stage.of(this)?.outdir ?? join(REPO_ROOT, 'cdk.out'), '.fanout-generated');
    const inject = props.analysisEntry ? [writeAnalysisRegistration(props.analysisEntry, generatedDir)] : undefined;

    this.eventBus = props.eventBus ?? events.EventBus.fromEventBusName(this, 'CompletionBus', 'default');
    const common = {
      BUCKET_NAME: this.bucket.bucketName,
      FANOUT_EVENT_BUS: this.eventBus.eventBusName,
      FANOUT_DEFAULTS: JSON.stringify(defaults),
      FANOUT_MERGE_FANIN: String(mergeFanIn),
      FAILURE_QUEUE_URL: this.failureQueue.queueUrl,
      POWERTOOLS_SERVICE_NAME: 'fanout',
      // Stack traces point into the TypeScript sources, not the minified bundle.
      NODE_OPTIONS: '--enable-source-maps',
      LOG_LEVEL: props.logLevel ?? 'INFO',
      ...limits,
    };

    const make = (name: FunctionName, description: string, reservedConcurrentExecutions?: number, recursiveLoop?: lambda.RecursiveLoop): NodejsFunction => {
      const logGroup = new logs.LogGroup(this, `${capitalise(name)}Logs`, {
        retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
        removalPolicy,
      });
      // An own role instead of the default one: the default attaches the AWS managed
      // AWSLambdaBasicExecutionRole, which may write to any log group.
      const role = new iam.Role(this, `${capitalise(name)}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `fanout ${name}: least privilege on its own S3 prefixes`,
      });
      role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
      return new NodejsFunction(this, capitalise(name), {
        entry: join(REPO_ROOT, 'functions', `${name}.ts`),
        handler: 'handler',
        description,
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: props.memorySize ?? 1024,
        timeout,
        reservedConcurrentExecutions,
        ...(recursiveLoop ? { recursiveLoop } : {}),
        role,
        logGroup,
        environment: common,
        retryAttempts,
        maxEventAge: props.maxEventAge ?? Duration.hours(6),
        onFailure: new SqsDestination(this.failureQueue),
        depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
        projectRoot: REPO_ROOT,
        bundling: {
          forceDockerBundling: false,
          minify: true,
          sourceMap: true,
          format: OutputFormat.ESM,
          target: 'node24',
          // Some dependencies are CommonJS and call require(); an ES module has none.
          banner: "import { createRequire as __fanoutCreateRequire } from 'node:module'; const require = __fanoutCreateRequire(import.meta.url);",
          inject,
        },
      });
    };

    this.coordinator = make('coordinator', 'fanout: plans a job for an upload under input/ and invokes one worker per slice');
    // A worker invokes the next slice of its chain (at most maxSlices / maxWorkersPerJob long,
    // each step a new slice): Lambda's recursive loop detection would stop a chain after 16.
    this.worker = make('worker', 'fanout: scans one byte-range slice, writes its partial, merges its group when complete', props.reservedConcurrency, lambda.RecursiveLoop.ALLOW);
    this.merger = make('merger', 'fanout: merges partials (as a tree) and commits the result');
    this.functions = { coordinator: this.coordinator, worker: this.worker, merger: this.merger };
    this.coordinator.addEnvironment('WORKER_FUNCTION_NAME', this.worker.functionName);
    // A worker invokes the next slice of its chain when it finishes (the worker reads its own
    // name from AWS_LAMBDA_FUNCTION_NAME); the merger does it for a slice whose worker failed.
    this.merger.addEnvironment('WORKER_FUNCTION_NAME', this.worker.functionName);
    if (props.analysisEntry) this.node.addMetadata('fanout:analysisEntry', resolve(props.analysisEntry));

    this.grantLeastPrivilege();
    // Whichever function ends a job (done, failed, superseded) says so on the bus.
    for (const fn of Object.values(this.functions)) this.eventBus.grantPutEventsTo(fn);
    // The merger turns a slice's failure record into the job's failed status.
    this.merger.addEventSource(new SqsEventSource(this.failureQueue, { batchSize: 10 }));

    for (const route of ROUTES) {
      const target = this.functions[route.target];
      for (const event of route.events) {
        this.bucket.addEventNotification(s3EventType(event), new LambdaDestination(target), { prefix: route.prefix, ...(route.suffix ? { suffix: route.suffix } : {}) });
      }
    }
    this.acknowledgeNotificationsHandler();

    // Any invocation that failed past its retries (a slice, a merge, a coordinator) is
    // worth a look; a failure record the merger could not process needs one.
    this.alarms = {
      failures: new cloudwatch.Alarm(this, 'FailuresAlarm', {
        alarmDescription: 'fanout: invocations failed after their retries (their jobs are marked failed; see the merger logs)',
        metric: this.failureQueue.metricNumberOfMessagesSent({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      deadLetters: new cloudwatch.Alarm(this, 'FailureDeadLettersAlarm', {
        alarmDescription: 'fanout: failure records the merger could not process after 5 attempts (their jobs may still say running until their deadline)',
        metric: deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    };
  }

  /**
   * CDK configures bucket notifications through one stack-wide helper function whose
   * role carries the AWS managed basic-execution policy; it is not ours to reshape.
   */
  private acknowledgeNotificationsHandler(): void {
    const stack = Stack.of(this);
    for (const child of stack.node.children) {
      if (!child.node.id.startsWith('BucketNotificationsHandler')) continue;
      Validations.of(child).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'CDK-provided helper (BucketNotificationsHandler) that only applies the bucket notification configuration at deploy time; its role and managed policy are fixed by aws-cdk-lib.',
      });
    }
  }

  private grantLeastPrivilege(): void {
    const bucket = this.bucket;
    const objects = (prefix: string): string => bucket.arnForObjects(`${prefix}*`);
    const allow = (fn: NodejsFunction, actions: string[], resources: string[]): void => {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources }));
    };
    // Reads of an input are pinned to a version (GetObjectVersion) or an ETag (If-Match).
    const readInput = ['s3:GetObject', 's3:GetObjectVersion'];
    // ListBucket is what turns a missing key into 404 instead of 403: the pipeline
    // tells "not yet written" from "denied" by it (create-only commits, merge checks, a
    // deleted upload). Each function may list only under the prefixes it reads (the
    // s3:prefix condition; S3 evaluates it with the key of a missing object too).
    const list = (name: FunctionName): void => {
      this.functions[name].addToRolePolicy(
        new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn], conditions: { StringLike: { 's3:prefix': LIST_PREFIXES[name].map((p) => `${p}*`) } } }),
      );
    };

    allow(this.coordinator, readInput, [objects(INPUT_PREFIX)]);
    allow(this.coordinator, ['s3:GetObject', 's3:PutObject'], [objects(JOBS_PREFIX)]);
    list('coordinator');
    allow(this.coordinator, ['lambda:InvokeFunction'], [this.worker.functionArn]);

    allow(this.worker, readInput, [objects(INPUT_PREFIX)]);
    allow(this.worker, ['s3:GetObject', 's3:PutObject'], [objects(JOBS_PREFIX)]);
    list('worker');
    // Invoking itself: a policy of its own, since the role's default policy is one the
    // function depends on, and naming the function's ARN there would be a circular reference.
    new iam.Policy(this, 'WorkerChainPolicy', {
      roles: [this.worker.role!],
      statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.worker.functionArn] })],
    });

    allow(this.merger, ['s3:GetObject', 's3:PutObject'], [objects(JOBS_PREFIX)]);
    allow(this.merger, ['s3:GetObject', 's3:PutObject'], [objects(RESULTS_PREFIX)]);
    list('merger');
    allow(this.merger, ['lambda:InvokeFunction'], [this.worker.functionArn]);

    for (const fn of [this.coordinator, this.worker, this.merger]) {
      const prefixes = fn === this.merger ? [JOBS_PREFIX, RESULTS_PREFIX] : [INPUT_PREFIX, JOBS_PREFIX];
      for (const prefix of prefixes) {
        Validations.of(fn.role!).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${flattenCfnReference(Stack.of(this).resolve(objects(prefix)))}]`,
          reason: `Object keys under ${prefix} are chosen at run time (uploaded names, job ids, slice indices); the wildcard is confined to that one prefix.`,
        });
      }
    }
  }
}

function s3EventType(event: string): s3.EventType {
  const type = Object.values(s3.EventType).find((t) => t === event);
  if (!type) throw new Error(`lib/cloud/topology.ts names an S3 event type CDK does not know: ${event}`);
  return type;
}

/** The fan-in, checked against its declared range (a merge group is one ListObjectsV2 page). */
/** The stack limits as the functions' environment (STACK_LIMITS), validated at synth. */
export function stackLimitsEnv(given: Partial<StackLimits>, where: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, spec] of Object.entries(STACK_LIMITS) as [keyof StackLimits, OptionSpec & { env: string }][]) {
    const value = given[name] ?? DEFAULT_LIMITS[name];
    try {
      env[spec.env] = String(parseOptionValue(spec, value));
    } catch (e) {
      if (e instanceof OptionValueError) throw new Error(`${where}: ${name === 'jobTimeoutSeconds' ? 'jobTimeout (seconds)' : `limits.${name}`} ${e.problem}`);
      throw e;
    }
  }
  return env;
}

export function validFanIn(value: unknown, where: string): number {
  try {
    return parseOptionValue(MERGE_FAN_IN, value) as number;
  } catch (e) {
    if (e instanceof OptionValueError) throw new Error(`${where} ${e.problem}`);
    throw e;
  }
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
