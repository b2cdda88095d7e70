/**
 * The CDK app (`npx cdk synth|deploy`). Context values let a deployment choose the
 * defaults without editing code: every cloud job option of lib/job/options.ts under its
 * camelCase name, in the syntax metadata takes, and the merge fan-in:
 *   -c analysis=row-sums -c frameRows=50 -c sliceBytes=16MiB -c format=dcd -c mergeFanIn=16
 *   -c analysisEntry=examples/my-analysis.ts
 *   -c destroyOnRemoval=true (LocalStack, throwaway stacks: delete the bucket with the stack)
 */
import { pathToFileURL } from 'node:url';
import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { cloudOptionNames, JOB_OPTIONS, parseJobOptions } from '../lib/job/options.ts';
import { type FanoutDefaults, validFanIn } from './fanout-pipeline.ts';
import { FanoutStack } from './stack.ts';

export function buildApp(app: App = new App()): { app: App; stack: FanoutStack } {
  const context = (key: string): string | undefined => {
    const v: unknown = app.node.tryGetContext(key);
    return v === undefined || v === null ? undefined : String(v);
  };
  const raw: Record<string, unknown> = {};
  for (const name of cloudOptionNames) {
    const v: unknown = app.node.tryGetContext(name);
    // `-c options={"ddof":"1"}` arrives as text
    if (v !== undefined && v !== null) raw[name] = JOB_OPTIONS[name].kind === 'map' && typeof v === 'string' ? JSON.parse(v) : v;
  }
  const defaults: FanoutDefaults = parseJobOptions(raw, 'cdk context', (name) => `-c ${name}`);
  const fanIn = context('mergeFanIn');

  const stack = new FanoutStack(app, context('stackName') ?? 'FanoutStack', {
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    pipeline: {
      defaults,
      ...(fanIn !== undefined ? { mergeFanIn: validFanIn(fanIn, '-c mergeFanIn') } : {}),
      analysisEntry: context('analysisEntry'),
      removalPolicy: context('destroyOnRemoval') === 'true' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

// Synthesize when run as the CDK app (cdk.json), not when a test imports buildApp.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  buildApp().app.synth();
}
