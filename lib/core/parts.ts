/**
 * A trajectory in parts (`traj.part0001.xtc traj.part0002.xtc ...`) read as one stream of
 * frames: a ByteSource over the parts' bytes one after the other, in the order given. XTC
 * and TRR files are nothing but frames, so their concatenation is itself a valid file and
 * every slice finds its frames by the same chain; formats with a header per file (DCD,
 * NetCDF, .npy, text with headers) are not concatenated this way.
 *
 * Offsets inside the concatenation mean nothing to a user: `partError` turns an error at
 * such an offset into one that names the part and the offset in it.
 */
import { InputError } from './errors.ts';
import type { ByteSource } from './source.ts';

export class PartsSource implements ByteSource {
  readonly name: string;
  readonly size: number;
  /** starts[i] is the offset of part i in the concatenation; starts[n] is its size */
  readonly starts: number[];

  /** `name`: what the whole is called (a job file's URL); by default the first part's, and how many follow. */
  constructor(
    readonly parts: readonly ByteSource[],
    name?: string,
  ) {
    if (parts.length === 0) throw new TypeError('PartsSource needs at least one part');
    this.starts = [0];
    for (const p of parts) this.starts.push(this.starts[this.starts.length - 1]! + p.size);
    this.size = this.starts[parts.length]!;
    this.name = name ?? `${parts[0]!.name} (+${parts.length - 1} more part${parts.length > 2 ? 's' : ''})`;
  }

  /** The part holding byte `offset` of the concatenation (the last part for the end), and the offset in it. */
  locate(offset: number): { part: number; offset: number } {
    let lo = 0;
    let hi = this.parts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { part: lo, offset: offset - this.starts[lo]! };
  }

  async *chunks(start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    for (let i = this.locate(start).part; i < this.parts.length && this.starts[i]! < end; i++) {
      const from = Math.max(start, this.starts[i]!) - this.starts[i]!;
      const to = Math.min(end, this.starts[i + 1]!) - this.starts[i]!;
      if (to > from) yield* this.parts[i]!.chunks(from, to, signal);
    }
  }

  /**
   * An error at an offset of the concatenation, told as the part and the offset in it; so
   * are the offsets its problem mentions ("the frame at byte N"), with the part's name when
   * one lies in another part.
   */
  partError(e: unknown): unknown {
    if (!(e instanceof InputError) || e.file !== this.name) return e;
    const at = this.locate(Math.min(e.offset, this.size));
    const problem = e.problem.replace(/\bbyte (\d+)/g, (text, digits: string) => {
      const offset = Number(digits);
      if (offset > this.size) return text;
      const there = this.locate(offset);
      return there.part === at.part ? `byte ${there.offset}` : `byte ${there.offset} of ${this.parts[there.part]!.name}`;
    });
    return new InputError(this.parts[at.part]!.name, at.offset, problem);
  }
}
