/**
 * A job's completion as an EventBridge event: source `fanout`, detail-type `fanout job
 * done` / `fanout job failed` / `fanout job superseded`, the detail the job's status
 * (JobCompletion: the result key, or the reason). Rules match on them to tell a person
 * or start what comes next.
 */
import { EventBridgeClient, PutEventsCommand, type PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import type { JobCompletion } from '../observe.ts';

export const EVENT_SOURCE = 'fanout';
export const detailTypeOf = (state: JobCompletion['state']): string => `fanout job ${state}`;

/** The part of EventBridgeClient this adapter uses. */
export interface EventSender {
  send(command: PutEventsCommand): Promise<PutEventsCommandOutput>;
}

export class EventBridgeCompletions {
  constructor(
    private readonly client: EventSender,
    /** the bus name or ARN */
    private readonly busName: string,
  ) {}

  async publish(c: JobCompletion): Promise<void> {
    const out = await this.client.send(
      new PutEventsCommand({
        Entries: [{ EventBusName: this.busName, Source: EVENT_SOURCE, DetailType: detailTypeOf(c.state), Resources: [], Detail: JSON.stringify(c) }],
      }),
    );
    const failed = out.Entries?.find((e) => e.ErrorCode);
    if ((out.FailedEntryCount ?? 0) > 0 || failed) throw new Error(`EventBridge refused the completion event of job ${c.job}: ${failed?.ErrorCode ?? 'failed'} ${failed?.ErrorMessage ?? ''}`.trim());
  }
}

export function makeEventBridgeClient(options: { endpoint?: string; region?: string } = {}): EventBridgeClient {
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_EVENTBRIDGE ?? process.env.AWS_ENDPOINT_URL;
  return new EventBridgeClient({ region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1', ...(endpoint ? { endpoint } : {}) });
}
