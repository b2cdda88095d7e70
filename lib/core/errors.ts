/**
 * Errors a user can act on. The CLI prints their message (no stack) and exits 2;
 * the Lambda handlers record it in the job status.
 */
export class FanoutError extends Error {
  override name = 'FanoutError';
}

/** Bad command-line or job options. */
export class UsageError extends FanoutError {
  override name = 'UsageError';
}

/** Something wrong with the input's bytes, at a known place. */
export class InputError extends FanoutError {
  override name = 'InputError';
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly problem: string,
  ) {
    super(`${file}: at byte ${offset}: ${problem}`);
  }
}

/** The input changed between planning and reading (size, mtime, ETag or version differ). */
export class SourceChangedError extends FanoutError {
  override name = 'SourceChangedError';
}

/** Thrown by an analysis's finish() when the rows do not make whole frames; the runtime adds the byte offset. */
export class IncompleteFrameError extends FanoutError {
  override name = 'IncompleteFrameError';
  constructor(
    /** index (from 0) of the first row of the incomplete frame */
    readonly firstRow: number,
    readonly rowsInFrame: number,
    readonly frameRows: number,
  ) {
    super(`the input ends with an incomplete frame: ${rowsInFrame} of ${frameRows} rows`);
  }
}

/**
 * Thrown by an analysis about one frame of the rows it was handed (a frame with no unit
 * cell, for rdf): the runtime names the file and the frame's byte offset (InputError).
 * `frame` counts the frames of one scan from 0, as its rows were numbered (firstRow / frame rows).
 */
export class FrameProblemError extends FanoutError {
  override name = 'FrameProblemError';
  constructor(
    readonly frame: number,
    readonly problem: string,
  ) {
    super(`frame ${frame} of a slice: ${problem}`);
  }
}
