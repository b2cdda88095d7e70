/**
 * The CDK app (`npx cdk synth|deploy`). Context values let a deployment choose the
 * defaults without editing code:
 *   -c analysis=row-sums -c frameRows=50 -c analysisEntry=examples/my-analysis.ts
 *   -c destroyOnRemoval=true (LocalStack, throwaway stacks: delete the bucket with the stack)
 */
import { pathToFileURL } from 'node:url';
import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { FanoutDefaults } from './fanout-pipeline.ts';
import { FanoutStack } from './stack.ts';

export function buildApp(app: App = new App()): { app: App; stack: FanoutStack } {
  const context = (key: string): string | undefined => {
    const v: unknown = app.node.tryGetContext(key);
    return v === undefined || v === null ? undefined : String(v);
  };
  const defaults: FanoutDefaults = {};
  if (context('analysis')) defaults.analysis = context('analysis');
  if (context('frameRows')) defaults.frameRows = Number(context('frameRows'));
  if (context('sliceBytes')) defaults.sliceBytes = Number(context('sliceBytes'));

  const stack = new FanoutStack(app, context('stackName') ?? 'FanoutStack', {
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    pipeline: {
      defaults,
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
