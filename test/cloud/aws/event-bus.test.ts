/**
 * The completion event through a real EventBridge API (moto): a rule on the default bus
 * matching fanout's events delivers them to an SQS queue, as a user's rule would.
 */
import { PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_SOURCE, EventBridgeCompletions, makeEventBridgeClient } from '../../../lib/cloud/aws/event-bus.ts';
import type { JobCompletion } from '../../../lib/cloud/observe.ts';
import { type Moto, startMoto } from '../../helpers/moto.ts';

let moto: Moto;

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  moto = await startMoto();
});

afterAll(async () => {
  await moto?.stop();
});

describe('EventBridgeCompletions', () => {
  it('puts a job completion on the bus: source fanout, detail-type by state, the status as detail; a rule delivers it', async () => {
    const events = makeEventBridgeClient({ endpoint: moto.endpoint, region: 'us-east-1' });
    const sqs = new SQSClient({ endpoint: moto.endpoint, region: 'us-east-1' });
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'fanout-completions' }))).QueueUrl!;
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await events.send(new PutRuleCommand({ Name: 'fanout-jobs', EventPattern: JSON.stringify({ source: [EVENT_SOURCE], 'detail-type': ['fanout job done', 'fanout job failed'] }) }));
    await events.send(new PutTargetsCommand({ Rule: 'fanout-jobs', Targets: [{ Id: 'queue', Arn: arn }] }));

    const bus = new EventBridgeCompletions(events, 'default');
    const done: JobCompletion = { job: 'a1b2c3d4', state: 'done', input: { bucket: 'b', key: 'input/x.csv' }, slices: 4, resultKey: 'results/x.csv.json', at: '2026-12-06T02:00:00.000Z' };
    const failed: JobCompletion = { job: 'e5f6a7b8', state: 'failed', input: { bucket: 'b', key: 'input/y.csv' }, slices: 4, slice: 2, reason: 's3://b/input/y.csv: bad token at byte 812', at: '2026-12-06T02:00:01.000Z' };
    const superseded: JobCompletion = { job: 'c9d0e1f2', state: 'superseded', input: { bucket: 'b', key: 'input/z.csv' }, reason: 'a newer upload', at: '2026-12-06T02:00:02.000Z' };
    for (const c of [done, failed, superseded]) await bus.publish(c);

    const got: { 'detail-type': string; source: string; detail: JobCompletion }[] = [];
    for (let i = 0; i < 5 && got.length < 2; i++) {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const m of r.Messages ?? []) got.push(JSON.parse(m.Body!));
    }
    got.sort((a, b) => a.detail.job.localeCompare(b.detail.job));
    // The rule asked for done and failed only: the superseded event went to the bus, not to this queue.
    expect(got.map((e) => [e.source, e['detail-type'], e.detail])).toEqual([
      ['fanout', 'fanout job done', done],
      ['fanout', 'fanout job failed', failed],
    ]);
    events.destroy();
    sqs.destroy();
  });
});
