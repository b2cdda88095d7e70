/** Partials as another process reads them back: through their encoding (JSON, and bytes for binary states). */
import type { Partial } from '../../lib/core/job.ts';
import { decodePartial, encodePartial } from '../../lib/job/documents.ts';

export function roundTrip(p: Partial): Partial {
  const body = encodePartial(p);
  return decodePartial(typeof body === 'string' ? new TextEncoder().encode(body) : body, 'a test partial');
}
