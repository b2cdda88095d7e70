/** The deployable stack: one FanoutPipeline, with its names as outputs. */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { FanoutPipeline, type FanoutPipelineProps } from './fanout-pipeline.ts';

export interface FanoutStackProps extends StackProps {
  pipeline?: FanoutPipelineProps;
}

export class FanoutStack extends Stack {
  readonly pipeline: FanoutPipeline;

  constructor(scope: Construct, id: string, props: FanoutStackProps = {}) {
    super(scope, id, props);
    this.pipeline = new FanoutPipeline(this, 'Fanout', props.pipeline);
    new CfnOutput(this, 'BucketName', { value: this.pipeline.bucket.bucketName, description: 'Upload to input/ here; results appear under results/' });
    new CfnOutput(this, 'CoordinatorFunctionName', { value: this.pipeline.coordinator.functionName });
    new CfnOutput(this, 'WorkerFunctionName', { value: this.pipeline.worker.functionName });
    new CfnOutput(this, 'MergerFunctionName', { value: this.pipeline.merger.functionName });
    new CfnOutput(this, 'FailureQueueUrl', { value: this.pipeline.failureQueue.queueUrl });
  }
}
