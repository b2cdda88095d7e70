/**
 * The queue of slices still to scan, in shared memory: the main thread and every worker
 * thread take runs of consecutive slices from it with one atomic add and no message.
 */

/** Input bytes a consumer aims to take from the queue at a time. */
export const RUN_BYTES = 4 * 1024 * 1024;

/** What sizes a take: the mean bytes of a slice, and how many consumers share the queue. */
export interface RunSizing {
  sliceBytes: number;
  consumers: number;
}
// A queue position no queue reaches by taking (it holds at most a few million slices).
const CLEARED = 2 ** 30;

/**
 * Slice indexes still to scan, in shared memory: the main thread and the worker threads
 * take from it alike, with one atomic add and no message.
 */
export class SliceQueue {
  /** cells[0] is the position of the next slice to take (CLEARED or more after clear()); the slices follow. */
  private readonly cells: Int32Array;

  constructor(slices: readonly number[] | SharedArrayBuffer) {
    if (slices instanceof SharedArrayBuffer) this.cells = new Int32Array(slices);
    else {
      this.cells = new Int32Array(new SharedArrayBuffer(4 * (slices.length + 1)));
      this.cells.set(slices, 1);
    }
  }

  /** What a thread needs to take from the same queue. */
  get shared(): SharedArrayBuffer {
    return this.cells.buffer as SharedArrayBuffer;
  }

  /**
   * Takes the next slices to scan, as runs of consecutive slices (a resumed job has gaps),
   * each to be scanned as one range and committed as one partial; none when the queue is
   * empty. As many slices as hold about RUN_BYTES of input, so that ten thousand small
   * slices do not cost ten thousand partials, but at most a quarter of what is left per
   * consumer, so that the last slices are still shared out among the consumers.
   */
  takeRuns({ sliceBytes, consumers }: RunSizing): { index: number; slices: number }[] {
    const size = this.cells.length - 1;
    const left = size - Atomics.load(this.cells, 0);
    const want = Math.max(1, Math.min(Math.floor(RUN_BYTES / Math.max(1, sliceBytes)), Math.ceil(left / (4 * Math.max(1, consumers)))));
    const from = Atomics.add(this.cells, 0, want);
    const runs: { index: number; slices: number }[] = [];
    for (let at = from; at < Math.min(from + want, size); at++) {
      const index = this.cells[at + 1]!;
      const last = runs[runs.length - 1];
      if (last && last.index + last.slices === index) last.slices++;
      else runs.push({ index, slices: 1 });
    }
    return runs;
  }

  /** The runs this consumer takes, one at a time, until the queue is empty or cleared. */
  *runs(sizing: RunSizing): Generator<{ index: number; slices: number }> {
    for (let runs = this.takeRuns(sizing); runs.length > 0; runs = this.takeRuns(sizing)) {
      for (const run of runs) {
        // A take of a resumed job may hold several runs: none of them starts after clear().
        if (Atomics.load(this.cells, 0) >= CLEARED) return;
        yield run;
      }
    }
  }

  /** Nobody takes another slice: each consumer stops after its current run. */
  clear(): void {
    Atomics.store(this.cells, 0, CLEARED);
  }
}
