/**
 * What the core reads from and writes to. Runtimes supply these: a local file, an S3
 * object read by ranges, an in-memory buffer in tests.
 */

export interface ByteSource {
  /** Shown in error messages: a path or an s3:// URL. */
  readonly name: string;
  readonly size: number;
  /**
   * Streams the bytes [start, end). A yielded chunk may be a reused buffer: it is only
   * valid until the next one is requested. A consumer may stop early (break). `into` is a
   * buffer the consumer offers to read into (the text scan offers the WebAssembly parser's
   * input, so that its records are parsed where they were read, not copied first): a source
   * may yield views of it, or ignore it.
   */
  chunks(start: number, end: number, signal?: AbortSignal, into?: Uint8Array): AsyncIterable<Uint8Array>;
}

/** Receives decoded rows in blocks: rowCount rows of `columns` values each, row-major, in a buffer reused after the call. */
export interface RowSink {
  rows(values: Float64Array, rowCount: number, columns: number, firstRow: number): void;
  /**
   * Defined only when the analysis wants unit cells (needsBox): trajectory readers then
   * call it for every frame that has a box, before the rows() call that carries the
   * frame's first row (`firstRow`, counted like rows'). `dims` is (a, b, c, alpha, beta,
   * gamma) in the file's length unit (lib/core/box.ts), valid only during the call.
   */
  box?(firstRow: number, dims: Float64Array): void;
  /**
   * Defined only when the analysis wants frame times (addTime): the readers of formats
   * that store a time per frame (XTC, TRR, AMBER NetCDF's `time`) then call it for every
   * frame, before the rows() call that carries the frame's first row, with the time in ps.
   */
  time?(firstRow: number, ps: number): void;
}

export interface ScanOptions {
  onBadRecord?: 'fail' | 'skip';
  /**
   * The job's id, which pins the input's version (size, mtime, ETag): a reader may keep
   * what it read of the input beyond its range (a DCD's frame 0, with fixed atoms) under
   * it for the job's next slices. Without one, nothing is kept.
   */
  job?: string;
  /** Called with the number of bytes consumed since the previous call. */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
  /**
   * What the frame-chain readers (XTC, TRR) multiply every length they emit by, positions
   * and box lengths: lengths.ts decides it (readerLengthScale), so that rows reach the
   * analysis in Å without a second pass over them. Other readers do not take it.
   */
  lengthScale?: number;
}

export interface ScanStats {
  /** rows handed to the sink */
  rows: number;
  /** records left out under onBadRecord: 'skip' */
  skipped: number;
  /** the first few problems skipped, for the result document */
  skippedExamples: { offset: number; problem: string }[];
  /** bytes read from the source, including look-back and look-ahead */
  bytesRead: number;
}

export function emptyStats(): ScanStats {
  return { rows: 0, skipped: 0, skippedExamples: [], bytesRead: 0 };
}

/** A ByteSource over bytes in memory: for tests and small inputs. */
export class MemorySource implements ByteSource {
  readonly size: number;
  constructor(
    readonly bytes: Uint8Array,
    readonly name = 'memory',
    private readonly chunkBytes = 1 << 20,
  ) {
    this.size = bytes.length;
  }

  async *chunks(start: number, end: number): AsyncIterable<Uint8Array> {
    for (let at = start; at < end; at += this.chunkBytes) {
      yield this.bytes.subarray(at, Math.min(end, at + this.chunkBytes));
    }
  }
}
