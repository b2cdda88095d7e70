/**
 * A ByteSource over a local file, read into one buffer reused from slice to slice. Reads are
 * synchronous: the scan of a slice cannot go on without its bytes anyway, and an async
 * read is a round trip through libuv's thread pool that costs more than reading a small
 * slice (this runs on worker threads, or on the CLI's main thread between progress ticks).
 */
import { readSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { isMainThread } from 'node:worker_threads';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { SourceChangedError, UsageError } from '../core/errors.ts';
import { PartsSource } from '../core/parts.ts';
import type { ByteSource } from '../core/source.ts';

// 4 MiB, the WebAssembly parser's input (PARSER_BYTES): a CSV's record that spans two
// reads is read by the JavaScript reader, byte by byte, and 1 MiB reads made that 5 % of
// the CPU of a run (f6.csv sum: 357 against 338 CPU ms with one worker, 462 against 439
// with two). Each scan reuses its buffer (once, when each slice had its own, 4 MiB buffers
// took a 2 GB CSV to a 200 MB peak).
const CHUNK_BYTES = 4 << 20;

export class FileSource implements ByteSource {
  private spare: Uint8Array | undefined;

  private constructor(
    readonly name: string,
    readonly size: number,
    /** size, mtime and inode: changes when the file is rewritten */
    readonly identity: string,
    private readonly handle: FileHandle,
    private readonly chunkBytes: number,
  ) {}

  static async open(path: string, chunkBytes = CHUNK_BYTES): Promise<FileSource> {
    const handle = await open(path, 'r');
    const st = await handle.stat();
    if (!st.isFile()) {
      await handle.close();
      throw new UsageError(st.isDirectory() ? `${path} is a directory: give the file to analyse` : `${path} is not a regular file: fanout reads its input by byte ranges, so it needs a file`);
    }
    return new FileSource(path, st.size, `${st.size}:${st.mtimeMs}:${st.ino}`, handle, chunkBytes);
  }

  /** Fails if the file is no longer the one that was planned. */
  async assertUnchanged(identity: string): Promise<void> {
    const st = await stat(this.name);
    if (`${st.size}:${st.mtimeMs}:${st.ino}` !== identity) {
      throw new SourceChangedError(`${this.name} changed while the job ran; run again to start a new job`);
    }
  }

  async *chunks(start: number, end: number, signal?: AbortSignal, into?: Uint8Array): AsyncIterable<Uint8Array> {
    const want = Math.min(this.chunkBytes, Math.max(1, end - start));
    // Where the consumer offers a buffer (the WebAssembly parser's input), the chunks are read into it.
    if (into !== undefined && into.length > 0) {
      yield* this.readInto(into.subarray(0, Math.min(into.length, this.chunkBytes)), start, end, signal);
      return;
    }
    // The next slice reads into the same buffer: a fresh one costs a page fault per 4 KiB
    // page on first use, tens of microseconds each in a VM. Reads that overlap get their own.
    const buffer = this.spare && this.spare.length >= want ? this.spare : new Uint8Array(want);
    this.spare = undefined;
    try {
      yield* this.readInto(buffer, start, end, signal);
    } finally {
      this.spare = buffer;
    }
  }

  private async *readInto(buffer: Uint8Array, start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    let at = start;
    while (at < end) {
      signal?.throwIfAborted();
      const bytesRead = readSync(this.handle.fd, buffer, 0, Math.min(buffer.length, end - at), at);
      if (bytesRead === 0) return;
      at += bytesRead;
      yield buffer.subarray(0, bytesRead);
      // On the main thread, let the event loop run between chunks: worker threads' messages
      // (a finished slice waiting for the next one) and progress redraws.
      if (isMainThread) await nextTurn();
    }
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** Trajectory parts read as one input (lib/core/parts.ts): every part a FileSource. */
export class FileParts extends PartsSource {
  readonly identity: string;

  constructor(readonly files: readonly FileSource[]) {
    super(files);
    this.identity = files.map((f) => f.identity).join('+');
  }

  async assertUnchanged(identity: string): Promise<void> {
    const each = identity.split('+');
    await Promise.all(this.files.map((f, i) => f.assertUnchanged(each[i] ?? '')));
  }

  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
  }
}

/** One file, or the parts of one input in the order given. */
export async function openFiles(paths: readonly string[]): Promise<FileSource | FileParts> {
  if (paths.length === 1) return FileSource.open(paths[0]!);
  const files: FileSource[] = [];
  try {
    for (const p of paths) files.push(await FileSource.open(p));
  } catch (e) {
    await Promise.all(files.map((f) => f.close()));
    throw e;
  }
  return new FileParts(files);
}
