/** A deployed fanout stack, found by name: its bucket is one of the stack's outputs. */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { UsageError } from '../../core/errors.ts';

/** The output of the stack (cdk/) that names its bucket. */
export const BUCKET_OUTPUT = 'BucketName';

export async function bucketOfStack(stack: string, region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1'): Promise<string> {
  const cfn = new CloudFormationClient({ region });
  let outputs;
  try {
    outputs = (await cfn.send(new DescribeStacksCommand({ StackName: stack }))).Stacks?.[0]?.Outputs;
  } catch (e) {
    throw new UsageError(`stack ${stack}: ${(e as Error).message}`);
  }
  const bucket = outputs?.find((o) => o.OutputKey === BUCKET_OUTPUT)?.OutputValue;
  if (!bucket) throw new UsageError(`stack ${stack} has no ${BUCKET_OUTPUT} output: is it a fanout stack?`);
  return bucket;
}
