/**
 * PartialLog over the local state dir: `jobs/<id>/partials/<pid>-<thread>-<tag>.ndjson`,
 * one partial per line, each log written by one writer only.
 *
 * Crash safety: a record is committed once its last newline is on disk. A partial of
 * plain JSON is one line, and JSON text never holds a raw newline, so a write cut short by
 * kill -9 leaves a last line without one, which readers ignore (the slice is scanned
 * again). A partial with binary fields is a header line that counts the bytes that follow,
 * the bytes, and a newline: cut short anywhere, it lacks that newline at the place its
 * header says. A log is created exclusively by its writer, so nobody ever appends after
 * such a torn record.
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
import { decodePartial, decodePartialHeader, DocumentError, encodePartialParts, PartialConflictError, partialContent } from '../job/documents.ts';
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

/** A partial of this job from a record's bytes, or undefined if they hold none (a damaged line). */
function decodeRecord(bytes: Uint8Array, jobId: string): Partial | undefined {
  try {
    const p = decodePartial(bytes, 'a line of a partial log');
    return p.job === jobId ? p : undefined;
  } catch (e) {
    if (e instanceof DocumentError) return undefined;
    throw e;
  }
}

/** Reads up to `length` bytes of a log at `position` into `into` from 0; returns how many it read (0 at the end). */
type ReadAt = (into: Buffer, position: number, length: number) => number;

/** A committed record of a log: where it is (its final newline left out) and its header. */
interface LogRecord {
  offset: number;
  length: number;
  /** the partial as its header line says it, binary fields unresolved */
  header: Partial;
}

/**
 * The committed records of a log, front to back: a partial of plain JSON is a line; a
 * partial with binary fields (see encodePartial) is a header line, the bytes the header
 * counts, and a newline. A record is committed once its last newline is written, so what
 * a kill -9 cuts short at the end of a log is not read. A line that holds no partial of
 * this job is passed over.
 */
function* logRecords(readAt: ReadAt, jobId: string): Generator<LogRecord> {
  let window = Buffer.allocUnsafe(READ_BLOCK_BYTES);
  let windowAt = 0;
  let filled = 0;
  const oneByte = Buffer.alloc(1);
  for (let at = 0; ; ) {
    // The header line that starts at `at`: read a window from there, larger while the line is longer.
    let nl = -1;
    for (let searchFrom = at; ; ) {
      if (at < windowAt || at >= windowAt + filled || searchFrom >= windowAt + filled) {
        if (searchFrom > at) window = Buffer.allocUnsafe(2 * window.length);
        windowAt = at;
        filled = 0;
        for (let n; filled < window.length && (n = readAt(window.subarray(filled), at + filled, window.length - filled)) > 0; ) filled += n;
      }
      const i = window.subarray(0, filled).indexOf(NL, searchFrom - windowAt);
      if (i >= 0) {
        nl = windowAt + i;
        break;
      }
      // No newline up to the end of the log: a torn last line (or none).
      if (filled < window.length) return;
      searchFrom = windowAt + filled;
    }
    let header: { partial: Partial; attached: number | undefined } | undefined;
    try {
      header = decodePartialHeader(window.subarray(at - windowAt, nl - windowAt), 'a line of a partial log');
    } catch (e) {
      if (!(e instanceof DocumentError)) throw e;
    }
    if (!header) {
      at = nl + 1;
      continue;
    }
    let end = nl;
    if (header.attached !== undefined) {
      // Binary (even with no bytes: its binary fields all empty): the bytes, then a newline.
      end = nl + 1 + header.attached;
      // Torn in its bytes or before its last newline: the end of what was committed.
      if (readAt(oneByte, end, 1) !== 1 || oneByte[0] !== NL) return;
    }
    if (header.partial.job === jobId) yield { offset: at, length: end - at, header: header.partial };
    at = end + 1;
  }
}

/** The partials of a job in a whole log, in the order they were written: for readers that want them all (`fanout report`). */
export function partialsInLog(body: Uint8Array, jobId: string): Partial[] {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.length);
  const readAt: ReadAt = (into, position, length) => bytes.copy(into, 0, position, Math.min(bytes.length, position + length));
  const out: Partial[] = [];
  for (const { offset, length } of logRecords(readAt, jobId)) {
    const p = decodeRecord(bytes.subarray(offset, offset + length), jobId);
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
    const encoded = encodePartialParts(partial);
    // A binary partial goes from the analysis's own bytes to the file, without a copy.
    const parts = typeof encoded === 'string' ? [Buffer.from(`${encoded}\n`)] : [...encoded, NEWLINE];
    const length = parts.reduce((n, b) => n + b.length, 0);
    const w = this.writer ?? this.openWriter();
    try {
      writeAll(w.fd, parts, w.bytes);
    } catch (e) {
      // The log may now end in a torn line: the next partial goes to a new log.
      this.writer = undefined;
      closeSync(w.fd);
      throw e;
    }
    const ref = { log: w.log, offset: w.bytes, length: length - 1, index: partial.index, slices: slicesOf(partial) };
    w.bytes += length;
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
    for (const log of logs.sort()) {
      const { fd } = this.reader(log);
      for (const { offset, length, header: p } of logRecords((into, position, n) => readSync(fd, into, 0, n, position), this.jobId)) {
        const ref = { log, offset, length, index: p.index, slices: slicesOf(p) };
        const taken = cover.take(ref.index, ref.slices);
        if (taken === 'taken') refs.set(p.index, ref);
        else if (taken === 'repeat') {
          const first = refs.get(p.index)!;
          if (partialContent(this.read(first)) !== partialContent(this.read(ref))) {
            throw new PartialConflictError(
              `slice ${p.index} of job ${this.jobId} is committed twice with different content (${first.log} and ${log} in ${this.dir}): the input or the analysis changed`,
            );
          }
        }
      }
    }
    return refs;
  }

  read(ref: PartialRef): Partial {
    const r = this.reader(ref.log);
    let bytes: Buffer;
    if (ref.length > READ_BLOCK_BYTES) {
      // A big partial (binary sums of a frame) is read once, into a buffer of its own.
      bytes = Buffer.allocUnsafe(ref.length);
      readFully(r.fd, bytes, ref.offset, join(this.dir, ref.log));
    } else {
      // A writer's slices come in ascending order, so a fold in slice order reads each log
      // front to back: one read of a block serves many partials.
      if (ref.offset < r.at || ref.offset + ref.length > r.at + r.filled) {
        r.at = ref.offset;
        r.filled = 0;
        while (r.filled < ref.length) {
          const n = readSync(r.fd, r.block, r.filled, r.block.length - r.filled, r.at + r.filled);
          if (n === 0) throw new Error(`${join(this.dir, ref.log)} ends before byte ${ref.offset + ref.length}`);
          r.filled += n;
        }
      }
      bytes = r.block.subarray(ref.offset - r.at, ref.offset - r.at + ref.length);
      // Binary fields are views of the bytes: not of the block, which the next read reuses.
      if (bytes.indexOf(NL) >= 0) bytes = Buffer.from(bytes);
    }
    const p = decodeRecord(bytes, this.jobId);
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

const NEWLINE = new Uint8Array([NL]);

/** Writes `parts` one after the other from `position`, however many calls that takes. */
function writeAll(fd: number, parts: Uint8Array[], position: number): void {
  let at = position;
  for (const part of parts) {
    for (let done = 0; done < part.length; ) {
      const n = writeSync(fd, part, done, part.length - done, at);
      done += n;
      at += n;
    }
  }
}

function readFully(fd: number, into: Buffer, position: number, path: string): void {
  for (let done = 0; done < into.length; ) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw new Error(`${path} ends before byte ${position + into.length}`);
    done += n;
  }
}
