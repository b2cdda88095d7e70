/**
 * BlobStore over a local directory: the embedded runtime's state dir (its manifests and
 * results; the partials go to the logs of partial-log.ts). Writes are atomic (temporary
 * file, then rename), so a process killed mid-write leaves either the old object or the
 * new one, never half of one.
 *
 * The documents are small, so the methods use the synchronous fs calls: an async call is
 * a round trip through libuv's thread pool that costs more than the syscall itself.
 */
import { createHash } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { threadId } from 'node:worker_threads';
import type { BlobInfo, BlobStore } from '../job/ports.ts';
import { makeDirs } from './dirs.ts';

let tmpCounter = 0;

export class UnsafeKeyError extends Error {
  override name = 'UnsafeKeyError';
}

export class LocalDirStore implements BlobStore {
  readonly root: string;
  private readonly madeDirs = new Set<string>();
  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The file for a key; refuses keys that would escape the root. */
  path(key: string): string {
    if (key === '' || key.includes('\0') || key.startsWith('/') || key.includes('\\') || key.split('/').some((p) => p === '..' || p === '.' || p === '')) {
      throw new UnsafeKeyError(`refusing key ${JSON.stringify(key)}: it must be a relative path without '.', '..' or empty parts`);
    }
    const full = resolve(this.root, key);
    if (!full.startsWith(this.root + sep)) throw new UnsafeKeyError(`refusing key ${JSON.stringify(key)}: outside the store`);
    return full;
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    const body = await this.get(key);
    if (!body) return undefined;
    return { key, size: body.length, etag: createHash('md5').update(body).digest('hex') };
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return readFileSync(this.path(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async put(key: string, body: string | Uint8Array): Promise<void> {
    const tmp = this.writeTemp(key, body);
    renameSync(tmp, this.path(key));
  }

  async putIfAbsent(key: string, body: string | Uint8Array): Promise<boolean> {
    const tmp = this.writeTemp(key, body);
    try {
      // link() fails if the target exists: an atomic create-only commit.
      linkSync(tmp, this.path(key));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    } finally {
      try {
        unlinkSync(tmp);
      } catch {
        // already gone: nothing to clean up
      }
    }
  }

  /**
   * Compare-and-swap on the content hash. The read, the comparison and the rename run
   * without yielding, so it is atomic within a process (the cloud pipeline's tests), not
   * across processes.
   */
  async putIfMatch(key: string, body: string | Uint8Array, etag: string | undefined): Promise<boolean> {
    if (etag === undefined) return this.putIfAbsent(key, body);
    const tmp = this.writeTemp(key, body);
    let current: Buffer | undefined;
    try {
      current = readFileSync(this.path(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (!current || createHash('md5').update(current).digest('hex') !== etag) {
      unlinkSync(tmp);
      return false;
    }
    renameSync(tmp, this.path(key));
    return true;
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      for (const e of entries) {
        if (e.name.startsWith('.tmp-')) continue;
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(join(dir, e.name), key);
        else if (key.startsWith(prefix)) out.push(key);
      }
    };
    // Start from the deepest directory the prefix names.
    const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const startDir = dirPart ? this.path(dirPart) : this.root;
    if (dirPart && !(await stat(startDir).catch(() => undefined))) return [];
    await walk(startDir, dirPart);
    return out.sort();
  }

  private writeTemp(key: string, body: string | Uint8Array): string {
    const dir = dirname(this.path(key));
    // Unique per process, thread and write: no two writers ever share a temporary file.
    const tmp = join(dir, `.tmp-${process.pid}-${threadId}-${tmpCounter++}`);
    if (!this.madeDirs.has(dir)) {
      makeDirs(dir);
      this.madeDirs.add(dir);
    }
    try {
      writeFileSync(tmp, body);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      // The directory was removed since we made it.
      makeDirs(dir);
      writeFileSync(tmp, body);
    }
    return tmp;
  }
}
