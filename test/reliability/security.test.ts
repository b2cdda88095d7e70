/**
 * Security checks that are not about IAM (those live with the CDK construct's tests,
 * see RELIABILITY.md): the local store stays inside its root, and S3 event keys are
 * URL-decoded exactly once on the way into the coordinator and the merger.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDirStore, UnsafeKeyError } from '../../lib/local/local-store.ts';
import { decodeS3Key } from '../../lib/cloud/events.ts';
import { tempDir } from '../helpers/cli.ts';

const tmp = tempDir('fanout-rel-sec-');
afterAll(() => tmp.cleanup());

describe('the local store', () => {
  const root = join(tmp.path, 'state');
  const store = new LocalDirStore(root);
  beforeAll(() => mkdirSync(root, { recursive: true }));

  const escaping = ['../outside', 'jobs/../../outside', 'jobs/x/../../../outside', '/etc/passwd', `${tmp.path}/outside`, 'jobs/\0/x', 'a\0b', '..', '.', 'jobs//x', 'jobs/./x', 'jobs\\..\\..\\outside', ''];

  it.each(escaping)('refuses key %j for every operation, and writes nothing outside its root', async (key) => {
    const ops: [string, () => Promise<unknown>][] = [
      ['head', () => store.head(key)],
      ['get', () => store.get(key)],
      ['put', () => store.put(key, 'x')],
      ['putIfAbsent', () => store.putIfAbsent(key, 'x')],
    ];
    for (const [op, call] of ops) await expect(call(), op).rejects.toThrow(UnsafeKeyError);
    if (key.includes('/') && key !== '/etc/passwd') await expect(store.list(key)).rejects.toThrow(UnsafeKeyError);
    expect(existsSync(join(tmp.path, 'outside'))).toBe(false);
    expect(readdirSync(tmp.path)).toEqual(['state']);
  });

  it('accepts ordinary keys, spaces and non-ASCII included, and keeps them inside the root', async () => {
    for (const key of ['jobs/abc/manifest.json', 'jobs/inputs/dir with space/Ünïcødé+plus & (1).csv.json', 'jobs/..hidden/x']) {
      expect(await store.putIfAbsent(key, '{}')).toBe(true);
      expect(store.path(key).startsWith(root + '/')).toBe(true);
      expect(new TextDecoder().decode(await store.get(key))).toBe('{}');
    }
  });
});

describe('S3 event keys', () => {
  it.each([
    ['input/a+b.csv', 'input/a b.csv'],
    ['input/a%2Bb.csv', 'input/a+b.csv'],
    ['input/dir%2Fname.csv', 'input/dir/name.csv'],
    ['input/a%252Fb.csv', 'input/a%2Fb.csv'],
    ['input/100%25.csv', 'input/100%.csv'],
    ['input/%C3%9Cn%C3%AF+c%C3%B8d%C3%A9.npy', 'input/Ünï cødé.npy'],
  ])('%s decodes once to %s', (encoded, key) => {
    expect(decodeS3Key(encoded)).toBe(key);
  });

  it('the coordinator and the merger take their keys from the event through that one decoding', async () => {
    process.env.BUCKET_NAME ??= 'unused-the-deps-are-given';
    const { requestsOf } = await import('../../functions/coordinator.ts');
    const event = (key: string) => ({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key } } }] });
    expect(requestsOf(event('input/a%252Fb+%2B.csv'))).toEqual([{ bucket: 'b', key: 'input/a%2Fb +.csv' }]);
    // A direct invoke names the key as it is: no decoding at all.
    expect(requestsOf({ bucket: 'b', key: 'input/a%2Fb+.csv' })).toEqual([{ bucket: 'b', key: 'input/a%2Fb+.csv' }]);
    // A malformed escape is refused, not guessed at.
    expect(() => requestsOf(event('input/bad%E0%A4%A.csv'))).toThrow();
  });
});
