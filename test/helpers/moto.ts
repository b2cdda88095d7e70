/** A moto S3/SQS server on a free loopback port, for the tests that need a real S3 API. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { makeS3Client } from '../../lib/cloud/aws/s3-client.ts';
import { type Dispatcher, type DispatcherOptions, startDispatcher } from '../../lib/cloud/dev/dispatcher.ts';
import type { HandlerDeps } from '../../functions/runtime.ts';

/** The real handlers, loaded once the emulator has set their environment. */
export const loadHandlers = () => import('../../functions/dev-handlers.ts');

export interface Moto {
  endpoint: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startMoto(timeoutMs = 30_000): Promise<Moto> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto.server exited with ${child.exitCode}: ${stderr}`);
    try {
      const r = await fetch(`${endpoint}/moto-api/`);
      if (r.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto.server did not answer on ${endpoint} within ${timeoutMs} ms: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** moto, the `fanout dev` dispatcher on it, and clients: the cloud pipeline end to end on this machine. */
export interface PipelineOnMoto {
  moto: Moto;
  dispatcher: Dispatcher;
  s3: S3Client;
  sqs: SQSClient;
  /** An object's text, or undefined if there is none. */
  text(key: string): Promise<string | undefined>;
  /** Resolves once every queue has been empty, with nothing in flight, three polls in a row. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPipelineOnMoto(options: Omit<DispatcherOptions<HandlerDeps>, 'endpoint' | 'log' | 'loadHandlers'>): Promise<PipelineOnMoto> {
  process.env.POWERTOOLS_LOG_LEVEL = 'WARN';
  const moto = await startMoto();
  const dispatcher = await startDispatcher<HandlerDeps>({ ...options, endpoint: moto.endpoint, log: () => {}, loadHandlers });
  const s3 = makeS3Client({ endpoint: moto.endpoint });
  const sqs = new SQSClient({ endpoint: moto.endpoint, region: 'us-east-1' });
  return {
    moto,
    dispatcher,
    s3,
    sqs,
    async text(key) {
      try {
        return await (await s3.send(new GetObjectCommand({ Bucket: options.bucket, Key: key }))).Body!.transformToString();
      } catch (e) {
        if ((e as Error).name === 'NoSuchKey') return undefined;
        throw e;
      }
    },
    async settle() {
      for (let quiet = 0; quiet < 3; ) {
        let busy = dispatcher.inFlight();
        for (const url of Object.values(dispatcher.queues)) {
          const a = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))).Attributes!;
          busy += Number(a.ApproximateNumberOfMessages) + Number(a.ApproximateNumberOfMessagesNotVisible);
        }
        quiet = busy === 0 ? quiet + 1 : 0;
        await new Promise((r) => setTimeout(r, 400));
      }
    },
    async stop() {
      await dispatcher.stop();
      s3.destroy();
      sqs.destroy();
      await moto.stop();
    },
  };
}
