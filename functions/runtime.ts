/**
 * What the three handlers share: the adapters built once per container from lib/config,
 * the logger, and a stand-in for deps so the local dispatcher can run the same handlers
 * with an in-process worker invoker.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { makeS3Client } from '../lib/cloud/aws/s3-client.ts';
import { S3InputObjects } from '../lib/cloud/aws/s3-source.ts';
import { S3Store } from '../lib/cloud/aws/s3-store.ts';
import { EventBridgeCompletions, makeEventBridgeClient } from '../lib/cloud/aws/event-bus.ts';
import { ObservedStore } from '../lib/cloud/observe.ts';
import { jobObserver } from './observe.ts';
import { config } from './config.ts';
import { ManifestReader } from '../lib/job/documents.ts';
import type { InputObjects } from '../lib/cloud/inputs.ts';
import type { JobOptions, StackLimits } from '../lib/job/options.ts';
import type { BlobStore, Invoker } from '../lib/job/ports.ts';

export interface HandlerDeps {
  store: BlobStore;
  inputs: InputObjects;
  manifests: ManifestReader;
  /** the coordinator's and the merger's (the next slice of a worker chain); their modules build the Lambda one */
  invoker?: Invoker;
  defaults: JobOptions;
  fanin: number;
  limits: StackLimits;
  logger: Logger;
}

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'fanout' });

let deps: HandlerDeps | undefined;

/** The production wiring, built on first use and kept for the container's life. */
export function defaultDeps(): HandlerDeps {
  if (!deps) {
    const s3 = makeS3Client();
    // What lands is observed: per-job metrics, and the completion event (functions/observe.ts).
    const bus = process.env.FANOUT_EVENT_BUS?.trim();
    const completions = bus ? new EventBridgeCompletions(makeEventBridgeClient(), bus) : undefined;
    const store = new ObservedStore(new S3Store(s3, config.bucketName), jobObserver({ logger, ...(completions ? { completions } : {}) }));
    deps = {
      store,
      inputs: new S3InputObjects(s3),
      manifests: new ManifestReader(store),
      defaults: config.defaults,
      fanin: config.mergeFanin,
      limits: config.limits,
      logger,
    };
  }
  return deps;
}

/** Edge validation: a malformed event is logged and rejected before any side effect. */
export function acceptEvent<T>(logger: Logger, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    logger.error('rejected event', { error: (e as Error).message });
    throw e;
  }
}
