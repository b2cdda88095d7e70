/**
 * PartialLog over the local state dir: `jobs/<id>/partials/<pid>-<thread>-<tag>.ndjson`,
 * one partial per line, each log written by one writer only.
 *
 * Crash safety: a line is committed once its newline is on disk. JSON text never holds a
 * raw newline, so a write cut short by kill -9 leaves a last line without one, which
 * readers ignore (the slice is scanned again). A log is created exclusively by its
 * writer, so nobody ever appends after such a torn line.
 *
 * Synchronous fs calls throughout: a commit is one small write, and an async call costs a
 * round trip through libuv's thread pool that is dearer than the syscall.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { type Partial, SliceCover, slicesOf } from '../core/job.ts';
import { partialsPrefix } from '../job/keys.ts';
import { decodePartial, DocumentError, encodePartial, PartialConflictError, partialContent } from '../job/documents.ts';
import type { PartialLog, PartialRef } from '../job/ports.ts';
import { makeDirs } from './dirs.ts';

/**
 * Logs are written as `.ndjson`. Versions before runs of slices wrote `.jsonl` and took
 * every line for one slice: they must not see a log whose partials may cover several
 * slices (they would fold a run as one slice and add the rest again). Their logs, one
 * slice a line, are still read.
 */
const LOG_SUFFIX = '.ndjson';
const LOG_SUFFIXES = [LOG_SUFFIX, '.jsonl'];
export const isPartialLog = (name: string): boolean => LOG_SUFFIXES.some((s) => name.endsWith(s));
const NL = 0x0a;
// Logs are read in blocks: a block holds hundreds of small partials.
const READ_BLOCK_BYTES = 256 * 1024;

/** An open log and the block of it read last. */
interface Reader {
  fd: number;
  block: Buffer;
  /** where the block starts in the log, and how many of its bytes are read */
  at: number;
  filled: number;
}

/** A partial in one line of a log, if the line holds a partial of this job (its index and extent checked by the decoder). */
function decodeLine(line: Buffer, jobId: string): Partial | undefined {
  try {
    const p = decodePartial(line, 'a line of a partial log');
    return p.job === jobId ? p : undefined;
  } catch (e) {
    if (e instanceof DocumentError) return undefined;
    throw e;
  }
}

/**
 * The complete lines of a log's bytes, without their newlines. `bytes` may be a block of a
 * longer log that starts at `at`; `rest` carries a line that continues into the next block.
 */
function* completeLines(bytes: Buffer, at: number, rest: { parts: Buffer[]; offset: number }): Generator<{ offset: number; line: Buffer }> {
  let from = 0;
  for (let nl = bytes.indexOf(NL); nl >= 0; nl = bytes.indexOf(NL, from)) {
    let line = bytes.subarray(from, nl);
    if (rest.parts.length > 0) {
      line = Buffer.concat([...rest.parts, line]);
      rest.parts = [];
    } else rest.offset = at + from;
    yield { offset: rest.offset, line };
    from = nl + 1;
    rest.offset = at + from;
  }
  // The start of a line that continues in the next block (or a torn last line): copied,
  // because the block buffer is reused.
  if (from < bytes.length) rest.parts.push(Buffer.from(bytes.subarray(from)));
}

/** The partials of a job in a whole log, in the order they were written: for readers that want them all (`fanout report`). */
export function partialsInLog(body: Uint8Array, jobId: string): Partial[] {
  const out: Partial[] = [];
  for (const { line } of completeLines(Buffer.from(body.buffer, body.byteOffset, body.length), 0, { parts: [], offset: 0 })) {
    const p = decodeLine(line, jobId);
    if (p) out.push(p);
  }
  return out;
}

export class LocalPartialLog implements PartialLog {
  private readonly dir: string;
  private writer?: { log: string; fd: number; bytes: number };
  private readonly readers = new Map<string, Reader>();

  constructor(
    stateDir: string,
    private readonly jobId: string,
  ) {
    this.dir = join(stateDir, partialsPrefix(jobId));
  }

  append(partial: Partial): PartialRef {
    const body = Buffer.from(`${encodePartial(partial)}\n`);
    const w = this.writer ?? this.openWriter();
    try {
      for (let done = 0; done < body.length; ) done += writeSync(w.fd, body, done, body.length - done, w.bytes + done);
    } catch (e) {
      // The log may now end in a torn line: the next partial goes to a new log.
      this.writer = undefined;
      closeSync(w.fd);
      throw e;
    }
    const ref = { log: w.log, offset: w.bytes, length: body.length - 1, index: partial.index, slices: slicesOf(partial) };
    w.bytes += body.length;
    return ref;
  }

  committed(sliceCount?: number): Map<number, PartialRef> {
    const refs = new Map<number, PartialRef>();
    const cover = new SliceCover(sliceCount);
    let logs: string[];
    try {
      logs = readdirSync(this.dir).filter(isPartialLog);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return refs;
      throw e;
    }
    const block = Buffer.allocUnsafe(READ_BLOCK_BYTES);
    for (const log of logs.sort()) {
      const { fd } = this.reader(log);
      const rest = { parts: [] as Buffer[], offset: 0 };
      for (let at = 0, n; (n = readSync(fd, block, 0, block.length, at)) > 0; at += n) {
        for (const { offset, line } of completeLines(block.subarray(0, n), at, rest)) {
          const p = decodeLine(line, this.jobId);
          if (!p) continue;
          const ref = { log, offset, length: line.length, index: p.index, slices: slicesOf(p) };
          const taken = cover.take(ref.index, ref.slices);
          if (taken === 'taken') refs.set(p.index, ref);
          else if (taken === 'repeat') {
            const first = refs.get(p.index)!;
            if (partialContent(this.read(first)) !== partialContent(p)) {
              throw new PartialConflictError(
                `slice ${p.index} of job ${this.jobId} is committed twice with different content (${first.log} and ${log} in ${this.dir}): the input or the analysis changed`,
              );
            }
          }
        }
      }
    }
    return refs;
  }

  read(ref: PartialRef): Partial {
    const r = this.reader(ref.log);
    // A writer's slices come in ascending order, so a fold in slice order reads each log
    // front to back: one read of a block serves many partials.
    if (ref.offset < r.at || ref.offset + ref.length > r.at + r.filled) {
      if (r.block.length < ref.length) r.block = Buffer.allocUnsafe(ref.length);
      r.at = ref.offset;
      r.filled = 0;
      while (r.filled < ref.length) {
        const n = readSync(r.fd, r.block, r.filled, r.block.length - r.filled, r.at + r.filled);
        if (n === 0) throw new Error(`${join(this.dir, ref.log)} ends before byte ${ref.offset + ref.length}`);
        r.filled += n;
      }
    }
    const p = decodeLine(r.block.subarray(ref.offset - r.at, ref.offset - r.at + ref.length), this.jobId);
    if (!p) throw new Error(`${join(this.dir, ref.log)}: no partial of job ${this.jobId} at byte ${ref.offset}`);
    return p;
  }

  close(): void {
    if (this.writer) closeSync(this.writer.fd);
    this.writer = undefined;
    for (const r of this.readers.values()) closeSync(r.fd);
    this.readers.clear();
  }

  private openWriter(): { log: string; fd: number; bytes: number } {
    makeDirs(this.dir);
    // Who wrote it, and a random tag: a later process with the same pid gets a log of its own.
    const log = `${process.pid}-${threadId}-${randomBytes(4).toString('hex')}${LOG_SUFFIX}`;
    this.writer = { log, fd: openSync(join(this.dir, log), 'wx'), bytes: 0 };
    return this.writer;
  }

  private reader(log: string): Reader {
    let r = this.readers.get(log);
    if (!r) {
      r = { fd: openSync(join(this.dir, log), 'r'), block: Buffer.allocUnsafe(READ_BLOCK_BYTES), at: 0, filled: 0 };
      this.readers.set(log, r);
    }
    return r;
  }
}
