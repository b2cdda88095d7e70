/**
 * Per-job metrics and the completion event, from what the functions write (ObservedStore,
 * lib/cloud/observe.ts). Metrics go out as CloudWatch embedded metric format through
 * Powertools Metrics, namespace `fanout`, one record per observation with the job id as
 * metadata (a property of the record, searchable in Logs Insights; not a dimension, which
 * would make a new CloudWatch metric, and a bill, per job):
 * - a slice done: SlicesDone (Count), BytesScanned (Bytes), SliceDuration (Milliseconds);
 *   a tolerated failure: SlicesFailed (Count);
 * - a job's result written: JobBytes (Bytes), JobSlices (Count), JobDuration (Milliseconds);
 * - a job ended: JobsDone, JobsFailed or JobsSuperseded (Count), and the completion
 *   event on EventBridge (FANOUT_EVENT_BUS; none when unset). Publishing is best effort:
 *   a failed PutEvents is logged, and the status document stays the record of the job.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { JobCompletion, JobObserver } from '../lib/cloud/observe.ts';

export const METRICS_NAMESPACE = 'fanout';

export interface ObserverOptions {
  logger?: Pick<Logger, 'error'>;
  /** the completion event's publisher (EventBridgeCompletions); none: no event */
  completions?: { publish(c: JobCompletion): Promise<void> };
  /** a fresh metrics buffer for one observation */
  metrics?: () => Metrics;
  /** flushes it: stdout in Lambda (EMF) */
  flush?: (m: Metrics) => void;
}

const ENDED = { done: 'JobsDone', failed: 'JobsFailed', superseded: 'JobsSuperseded' } as const;

export function jobObserver(o: ObserverOptions = {}): JobObserver {
  const make = o.metrics ?? (() => new Metrics({ namespace: METRICS_NAMESPACE, serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'fanout' }));
  const flush = o.flush ?? ((m: Metrics) => m.publishStoredMetrics());
  const record = (job: string, add: (m: Metrics) => void): void => {
    const m = make();
    m.addMetadata('jobId', job);
    add(m);
    flush(m);
  };
  return {
    sliceDone(job, leaf) {
      record(job, (m) => {
        m.addMetadata('slice', String(leaf.index));
        if (leaf.failed?.length) m.addMetric('SlicesFailed', MetricUnit.Count, 1);
        else {
          m.addMetric('SlicesDone', MetricUnit.Count, 1);
          m.addMetric('BytesScanned', MetricUnit.Bytes, leaf.run.bytesRead);
          m.addMetric('SliceDuration', MetricUnit.Milliseconds, Math.max(0, leaf.run.finishedAt - leaf.run.startedAt));
        }
      });
    },
    resultWritten(doc) {
      record(doc.job, (m) => {
        m.addMetric('JobBytes', MetricUnit.Bytes, doc.input.bytes);
        m.addMetric('JobSlices', MetricUnit.Count, doc.slices);
        m.addMetric('JobDuration', MetricUnit.Milliseconds, doc.elapsedMs);
      });
    },
    async jobEnded(c) {
      record(c.job, (m) => m.addMetric(ENDED[c.state], MetricUnit.Count, 1));
      if (!o.completions) return;
      try {
        await o.completions.publish(c);
      } catch (e) {
        o.logger?.error('the completion event was not published', { jobId: c.job, state: c.state, error: (e as Error).message });
      }
    },
  };
}
