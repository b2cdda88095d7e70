/** Whether a usable LocalStack answers at a URL, and if not, why (for the SKIPPED line). */

export type Probe = { ok: true; version: string } | { ok: false; reason: string };

/**
 * The version localstack/docker-compose.yml pins: the first whose Lambda runs nodejs24.x,
 * the functions' runtime (releases before 4.10 also mishandle concurrent conditional
 * writes, If-None-Match: *).
 */
export const MIN_LOCALSTACK_VERSION: readonly [number, number] = [4, 11];
const NEEDED_SERVICES = ['s3', 'lambda', 'sqs', 'cloudformation'];

export async function probeLocalStack(url: string, timeoutMs = 3000): Promise<Probe> {
  let health: { version?: string; services?: Record<string, string> };
  try {
    const res = await fetch(new URL('/_localstack/health', url), { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return { ok: false, reason: `health check answered HTTP ${res.status}` };
    health = (await res.json()) as typeof health;
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return { ok: false, reason: cause?.code ?? cause?.message ?? (e as Error).message };
  }
  const version = health.version ?? 'unknown';
  const [major = 0, minor = 0] = version.split('.').map((p) => Number.parseInt(p, 10));
  const [minMajor, minMinor] = MIN_LOCALSTACK_VERSION;
  if (!(major > minMajor || (major === minMajor && minor >= minMinor))) {
    return { ok: false, reason: `LocalStack ${version} is older than ${MIN_LOCALSTACK_VERSION.join('.')}: its Lambda has no nodejs24.x runtime, the functions' runtime` };
  }
  for (const service of NEEDED_SERVICES) {
    const state = health.services?.[service];
    if (state !== undefined && !['available', 'running'].includes(state)) return { ok: false, reason: `LocalStack service ${service} is ${state}` };
  }
  return { ok: true, version };
}
