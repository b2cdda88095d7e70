/**
 * Fault injection at the ports, for the reliability suite (and later `fanout dev`).
 *
 * Wrappers around a BlobStore, an Invoker and the input objects that fail, delay,
 * duplicate or "crash after" chosen calls; and a wrapper around an AWS SDK client's
 * HTTP handler that answers chosen requests with S3 or Lambda error responses. The
 * HTTP wrapper sits below the SDK's retry middleware, so what a test exercises is the
 * SDK's own retry logic, with error objects it built itself from real wire responses.
 *
 * A rule picks calls by operation, key and a predicate, then by their order among the
 * calls it matched (`nth`, from 1) or a budget (`times`); the first rule that applies
 * to a call decides its fault. Every call is logged with the fault it got.
 */
import { Readable } from 'node:stream';
import { LambdaServiceException } from '@aws-sdk/client-lambda';
import { S3ServiceException } from '@aws-sdk/client-s3';
import type { ByteSource } from '../../lib/core/source.ts';
import type { InputObject, InputObjects, InputPin, PinnedInput } from '../../lib/cloud/inputs.ts';
import type { BlobInfo, BlobStore, Invoker, SliceTask } from '../../lib/job/ports.ts';

/** S3 error codes with the status S3 sends them with. */
export const S3_ERRORS = {
  SlowDown: { status: 503, fault: 'server', message: 'Please reduce your request rate.' },
  ServiceUnavailable: { status: 503, fault: 'server', message: 'Service is unable to handle request.' },
  InternalError: { status: 500, fault: 'server', message: 'We encountered an internal error. Please try again.' },
  ConditionalRequestConflict: { status: 409, fault: 'client', message: 'A conflicting conditional operation is currently in progress against this resource. Please try again.' },
  PreconditionFailed: { status: 412, fault: 'client', message: 'At least one of the pre-conditions you specified did not hold' },
} as const;
export type S3ErrorCode = keyof typeof S3_ERRORS;

export type Fault =
  /** the call fails before it reaches the wrapped port */
  | { type: 'throw'; error?: unknown }
  /** the call fails with an S3 error, before it reaches the wrapped port */
  | { type: 's3-error'; code: S3ErrorCode }
  /** Lambda throttles the invoke (429 TooManyRequestsException) */
  | { type: 'throttle' }
  /** the call lands (the write happens), then the caller sees a failure, as when a process dies or a connection drops right after */
  | { type: 'crash-after' }
  /** the call waits this long first */
  | { type: 'delay'; ms: number }
  /** an invoke is delivered twice: one after the other, or both at once */
  | { type: 'duplicate'; concurrent?: boolean };

export interface Call {
  /** store: head get put putIfAbsent list; invoker: invoke; inputs: describe open read; http: the method (GET, PUT, HEAD, ...) */
  op: string;
  /** the object key (an invoke: `<jobId>/<index>`) */
  key: string;
  /** http: the request's headers and query, for predicates */
  headers?: Record<string, string>;
  query?: Record<string, unknown>;
}

export interface FaultRule {
  op?: string | readonly string[];
  /** a RegExp, or a string the key must start with */
  key?: RegExp | string;
  where?: (call: Call) => boolean;
  /** which of the matching calls (from 1) get the fault; all when absent */
  nth?: number | readonly number[];
  /** at most this many matching calls get the fault */
  times?: number;
  fault: Fault;
}

export interface LoggedCall extends Call {
  fault?: Fault['type'];
}

/** The error a crashed call reports: a dropped connection, which the SDK treats as transient. */
export class InjectedCrashError extends Error {
  override name = 'InjectedCrashError';
  readonly code = 'ECONNRESET';
}

export class InjectedFaultError extends Error {
  override name = 'InjectedFaultError';
}

export function s3Error(code: S3ErrorCode): S3ServiceException {
  const e = S3_ERRORS[code];
  return new S3ServiceException({ name: code, $fault: e.fault, $metadata: { httpStatusCode: e.status, attempts: 1, totalRetryDelay: 0 }, message: e.message });
}

export function throttleError(): LambdaServiceException {
  return new LambdaServiceException({ name: 'TooManyRequestsException', $fault: 'client', $metadata: { httpStatusCode: 429, attempts: 1, totalRetryDelay: 0 }, message: 'Rate Exceeded.' });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Faults {
  readonly log: LoggedCall[] = [];
  private readonly matched: number[];
  private readonly applied: number[];

  /** how a `delay` waits: real time by default, or a test's virtual clock */
  readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly rules: readonly FaultRule[] = [],
    options: { sleep?: (ms: number) => Promise<void> } = {},
  ) {
    this.matched = rules.map(() => 0);
    this.applied = rules.map(() => 0);
    this.sleep = options.sleep ?? sleep;
  }

  /** The fault for this call, if a rule applies; counts and logs the call. */
  pick(call: Call): Fault | undefined {
    let chosen: Fault | undefined;
    this.rules.forEach((rule, i) => {
      if (!matches(rule, call)) return;
      const n = ++this.matched[i]!;
      if (chosen) return;
      const nth = rule.nth === undefined ? undefined : typeof rule.nth === 'number' ? [rule.nth] : rule.nth;
      if (nth && !nth.includes(n)) return;
      if (rule.times !== undefined && this.applied[i]! >= rule.times) return;
      this.applied[i]!++;
      chosen = rule.fault;
    });
    this.log.push({ ...call, ...(chosen ? { fault: chosen.type } : {}) });
    return chosen;
  }

  /** Calls that got a fault of this type. */
  injected(type?: Fault['type']): LoggedCall[] {
    return this.log.filter((c) => c.fault !== undefined && (type === undefined || c.fault === type));
  }

  /** Runs one call through its fault: `run` is the call on the wrapped port. */
  apply<T>(call: Call, run: () => Promise<T>): Promise<T> {
    const fault = this.pick(call);
    return fault ? runWithFault(fault, call, run, this.sleep) : run();
  }
}

async function runWithFault<T>(fault: Fault, call: Call, run: () => Promise<T>, wait: (ms: number) => Promise<void> = sleep): Promise<T> {
  switch (fault.type) {
    case 'delay':
      await wait(fault.ms);
      return run();
    case 'crash-after':
      await run();
      throw new InjectedCrashError(`injected crash after ${call.op} ${call.key} succeeded`);
    case 's3-error':
      throw s3Error(fault.code);
    case 'throttle':
      throw throttleError();
    case 'throw':
      throw fault.error ?? new InjectedFaultError(`injected failure of ${call.op} ${call.key}`);
    case 'duplicate':
      // Only an invoke can be delivered twice; elsewhere it means nothing.
      return run();
  }
}

function matches(rule: FaultRule, call: Call): boolean {
  if (rule.op !== undefined && !(typeof rule.op === 'string' ? [rule.op] : rule.op).includes(call.op)) return false;
  if (rule.key !== undefined && !(typeof rule.key === 'string' ? call.key.startsWith(rule.key) : rule.key.test(call.key))) return false;
  return rule.where ? rule.where(call) : true;
}

/** A BlobStore whose calls go through fault rules first. */
export class FaultyStore implements BlobStore {
  constructor(
    readonly inner: BlobStore,
    readonly faults: Faults,
  ) {}
  head(key: string): Promise<BlobInfo | undefined> {
    return this.faults.apply({ op: 'head', key }, () => this.inner.head(key));
  }
  get(key: string): Promise<Uint8Array | undefined> {
    return this.faults.apply({ op: 'get', key }, () => this.inner.get(key));
  }
  put(key: string, body: string | Uint8Array): Promise<void> {
    return this.faults.apply({ op: 'put', key }, () => this.inner.put(key, body));
  }
  putIfAbsent(key: string, body: string | Uint8Array): Promise<boolean> {
    return this.faults.apply({ op: 'putIfAbsent', key }, () => this.inner.putIfAbsent(key, body));
  }
  putIfMatch(key: string, body: string | Uint8Array, etag: string | undefined): Promise<boolean> {
    return this.faults.apply({ op: 'putIfMatch', key }, () => this.inner.putIfMatch(key, body, etag));
  }
  list(prefix: string): Promise<string[]> {
    return this.faults.apply({ op: 'list', key: prefix }, () => this.inner.list(prefix));
  }
}

/** An Invoker whose invocations can fail, be throttled, delayed, or delivered twice. */
export class FaultyInvoker implements Invoker {
  constructor(
    readonly inner: Invoker,
    readonly faults: Faults,
  ) {}
  async invoke(task: SliceTask): Promise<void> {
    const call = { op: 'invoke', key: `${task.jobId}/${task.index}` };
    const fault = this.faults.pick(call);
    const once = (): Promise<void> => this.inner.invoke(task);
    if (!fault) return once();
    if (fault.type === 'duplicate') {
      if (fault.concurrent) {
        await Promise.all([once(), once()]);
      } else {
        await once();
        await once();
      }
      return;
    }
    return runWithFault(fault, call, once, this.faults.sleep);
  }
}

/**
 * Input objects whose reads can fail or stall part way: op `describe` and `open` (key:
 * the object key), and `read` for every chunk a source yields (key: `<key>@<offset>`),
 * so "the worker dies mid-read" is a rule on the n-th chunk.
 */
export class FaultyInputs implements InputObjects {
  constructor(
    readonly inner: InputObjects,
    readonly faults: Faults,
  ) {}
  describe(bucket: string, key: string, pin?: InputPin): Promise<InputObject | undefined> {
    return this.faults.apply({ op: 'describe', key }, () => this.inner.describe(bucket, key, pin));
  }
  open(input: PinnedInput, partBytes?: number): ByteSource & { identity: string } {
    const source = this.inner.open(input, partBytes);
    const faults = this.faults;
    return {
      name: source.name,
      size: source.size,
      identity: source.identity,
      async *chunks(start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
        let at = start;
        for await (const chunk of source.chunks(start, end, signal)) {
          await faults.apply({ op: 'read', key: `${input.key}@${at}` }, async () => {});
          signal?.throwIfAborted();
          at += chunk.length;
          yield chunk;
        }
      },
    };
  }
}

/** The HTTP handler interface of the AWS SDK clients, the part used here. */
interface HttpRequestLike {
  method: string;
  path: string;
  headers: Record<string, string>;
  query?: Record<string, unknown>;
}
interface HttpHandlerLike {
  handle(request: HttpRequestLike, options?: unknown): Promise<{ response: { statusCode: number; headers: Record<string, string>; body?: unknown } }>;
}

function s3ErrorResponse(code: S3ErrorCode): { statusCode: number; headers: Record<string, string>; body: Readable } {
  const e = S3_ERRORS[code];
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${e.message}</Message><RequestId>injected</RequestId><HostId>injected</HostId></Error>`;
  return { statusCode: e.status, headers: { 'content-type': 'application/xml', 'x-amz-request-id': 'injected' }, body: bodyOf(xml) };
}

function throttleResponse(): { statusCode: number; headers: Record<string, string>; body: Readable } {
  return {
    statusCode: 429,
    headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'TooManyRequestsException', 'x-amzn-requestid': 'injected' },
    body: bodyOf(JSON.stringify({ Type: 'User', message: 'Rate Exceeded.', Reason: 'ConcurrentInvocationLimitExceeded' })),
  };
}

/** A response body the Node SDK reads: a Readable stream. */
function bodyOf(text: string): Readable {
  return Readable.from([Buffer.from(text)]);
}

/** The key an S3 request names (path-style or virtual-hosted), decoded. */
export function requestKey(request: HttpRequestLike, bucket?: string): string {
  let path = request.path.replace(/^\/+/, '');
  if (bucket && (path === bucket || path.startsWith(`${bucket}/`))) path = path.slice(bucket.length + 1);
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * Puts fault rules below an SDK client's retry middleware: every attempt (retries
 * included) is a call `{ op: <HTTP method>, key: <object key> }`. `s3-error` and
 * `throttle` answer with the service's error response, `throw` and `crash-after` with a
 * dropped connection (before or after the request reached the server). Returns a
 * function that removes the rules.
 */
export function installHttpFaults(client: { config: unknown }, faults: Faults, options: { bucket?: string } = {}): () => void {
  const config = client.config as { requestHandler: HttpHandlerLike };
  const inner = config.requestHandler;
  const wrapper = Object.create(inner) as HttpHandlerLike;
  wrapper.handle = async (request, handlerOptions) => {
    const call: Call = { op: request.method, key: requestKey(request, options.bucket), headers: request.headers, query: request.query };
    const fault = faults.pick(call);
    if (!fault) return inner.handle(request, handlerOptions);
    switch (fault.type) {
      case 's3-error':
        return { response: s3ErrorResponse(fault.code) };
      case 'throttle':
        return { response: throttleResponse() };
      case 'delay':
        await sleep(fault.ms);
        return inner.handle(request, handlerOptions);
      case 'crash-after': {
        const r = await inner.handle(request, handlerOptions);
        const body = r.response.body as { destroy?(): void; resume?(): void } | undefined;
        body?.resume?.();
        throw new InjectedCrashError(`connection reset after ${request.method} ${call.key} reached the server (status ${r.response.statusCode})`);
      }
      case 'throw':
      case 'duplicate':
        throw fault.type === 'throw' && fault.error ? fault.error : new InjectedCrashError(`connection reset before ${request.method} ${call.key} was sent`);
    }
  };
  config.requestHandler = wrapper;
  return () => {
    config.requestHandler = inner;
  };
}
