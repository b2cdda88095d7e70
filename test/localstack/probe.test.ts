import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MIN_LOCALSTACK_VERSION, probeLocalStack } from './probe.ts';

let server: Server | undefined;

/** A stand-in for LocalStack's health endpoint. */
async function healthServer(status: number, body: unknown): Promise<string> {
  server = createServer((req, res) => {
    if (req.url !== '/_localstack/health') return void res.writeHead(404).end();
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

describe('probeLocalStack', () => {
  it('accepts LocalStack 4.11 and later with its services up', async () => {
    for (const version of ['4.11.0', '4.12.1.dev5', '5.0.0']) {
      const url = await healthServer(200, { version, services: { s3: 'running', lambda: 'available', sqs: 'running', cloudformation: 'available' } });
      expect(await probeLocalStack(url)).toEqual({ ok: true, version });
      await new Promise((r) => server!.close(r));
      server = undefined;
    }
  });

  it.each([
    ['4.10.0', /older than 4\.11: its Lambda has no nodejs24\.x runtime/],
    ['4.9.2', /older than 4\.11/],
    ['3.8.1', /older than 4\.11/],
  ])('refuses LocalStack %s, saying why', async (version, reason) => {
    const url = await healthServer(200, { version, services: {} });
    const probe = await probeLocalStack(url);
    expect(probe.ok).toBe(false);
    expect(!probe.ok && probe.reason).toMatch(reason);
  });

  it('refuses when a needed service is disabled', async () => {
    const url = await healthServer(200, { version: '4.11.0', services: { lambda: 'disabled' } });
    expect(await probeLocalStack(url)).toEqual({ ok: false, reason: 'LocalStack service lambda is disabled' });
  });

  it('reports a refused connection and an HTTP error as reasons', async () => {
    const url = await healthServer(503, {});
    expect(await probeLocalStack(url)).toEqual({ ok: false, reason: 'health check answered HTTP 503' });
    await new Promise((r) => server!.close(r));
    server = undefined;
    // The port was just freed: nothing listens there now.
    expect(await probeLocalStack(url)).toEqual({ ok: false, reason: 'ECONNREFUSED' });
  });
});

describe('localstack/docker-compose.yml', () => {
  const compose = readFileSync(new URL('../../localstack/docker-compose.yml', import.meta.url), 'utf8');

  it('pins the version the probe asks for', () => {
    expect(compose).toContain(`image: localstack/localstack:${MIN_LOCALSTACK_VERSION.join('.')}.0`);
  });

  it('lets LocalStack run the arm64 functions on an x86 host', () => {
    expect(compose).toMatch(/^\s*- LAMBDA_IGNORE_ARCHITECTURE=1$/m);
  });
});
