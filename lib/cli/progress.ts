/**
 * Progress on stderr: a redrawn bar on a terminal, a plain line every few seconds
 * otherwise (logs, CI), nothing when quiet. Colour only on a terminal, never with NO_COLOR.
 */
import type { Progress } from '../local/run.ts';
import { formatBytes, formatDuration } from '../core/units.ts';

export interface ProgressOptions {
  stream: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean };
  tty: boolean;
  /** minimum time between redraws */
  intervalMs?: number;
  /** default: on a terminal unless NO_COLOR is set (https://no-color.org) */
  colour?: boolean;
}

export function colourWanted(tty: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  return tty && !(env.NO_COLOR !== undefined && env.NO_COLOR !== '');
}

const GREEN = '\x1b[32m';
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

/** The bar itself and the redraw/line logic, shared by every kind of progress. */
abstract class Bar<P> {
  private lastDraw = 0;
  private last?: P;
  /** the complete state has been written: a finish() without a terminal has nothing to add */
  private drewComplete = false;
  private drawn = false;
  protected readonly colour: boolean;

  constructor(protected readonly opts: ProgressOptions) {
    this.colour = opts.colour ?? colourWanted(opts.tty);
  }

  protected abstract isComplete(p: P): boolean;
  abstract line(p: P, now: number): string;

  update(p: P): void {
    this.last = p;
    const now = Date.now();
    const interval = this.opts.intervalMs ?? (this.opts.tty ? 100 : 2000);
    if (now - this.lastDraw < interval && !this.isComplete(p)) return;
    this.lastDraw = now;
    this.draw(p, now);
  }

  /** Final state, and a newline so later output starts clean. */
  finish(): void {
    if (this.last) this.draw(this.last, Date.now(), true);
    if (this.drawn && this.opts.tty) this.opts.stream.write('\n');
  }

  protected bar(frac: number, width = 24): string {
    const full = Math.max(0, Math.min(width, Math.round(frac * width)));
    const done = '#'.repeat(full);
    const left = '-'.repeat(width - full);
    return this.colour ? `[${GREEN}${done}${RESET}${DIM}${left}${RESET}]` : `[${done}${left}]`;
  }

  private draw(p: P, now: number, final = false): void {
    const text = this.line(p, now);
    // Without a terminal every draw is a new line: the final state, already printed
    // when it was reached, is not printed twice.
    if (final && !this.opts.tty && this.drewComplete) return;
    this.drewComplete = this.isComplete(p);
    this.drawn = true;
    if (this.opts.tty) this.opts.stream.write(`\r${text}\x1b[K`);
    else this.opts.stream.write(`${text}\n`);
  }
}

export class ProgressBar extends Bar<Progress> {
  protected isComplete(p: Progress): boolean {
    return p.slicesDone >= p.slicesTotal;
  }

  line(p: Progress, now: number): string {
    const elapsedMs = Math.max(1, now - p.startedAt);
    const rate = (p.bytesDone / elapsedMs) * 1000;
    const left = p.bytesTotal - p.bytesDone;
    const etaMs = p.bytesDone > 0 ? (left / rate) * 1000 : NaN;
    const frac = p.slicesTotal === 0 ? 1 : p.slicesDone / p.slicesTotal;
    const resumed = p.resumedSlices > 0 ? ` (${p.resumedSlices} resumed)` : '';
    return `${this.bar(frac)} ${p.slicesDone}/${p.slicesTotal} slices${resumed}  ${formatBytes(rate)}/s  ETA ${p.slicesDone === p.slicesTotal ? '0:00' : formatDuration(etaMs)}`;
  }
}

/** Progress of something counted: bytes uploaded, partials written. */
export interface Count {
  label: string;
  done: number;
  total: number;
  startedAt: number;
  /** how to print done/total: bytes, or plain numbers with a unit */
  unit: 'bytes' | string;
}

export class CountBar extends Bar<Count> {
  protected isComplete(c: Count): boolean {
    return c.done >= c.total;
  }

  line(c: Count, now: number): string {
    const elapsedMs = Math.max(1, now - c.startedAt);
    const frac = c.total === 0 ? 1 : Math.min(1, c.done / c.total);
    const etaMs = c.done > 0 ? ((c.total - c.done) * elapsedMs) / c.done : NaN;
    const counts = c.unit === 'bytes' ? `${formatBytes(c.done)}/${formatBytes(c.total)}` : `${c.done}/${c.total} ${c.unit}`;
    const rate = c.unit === 'bytes' ? `  ${formatBytes((c.done / elapsedMs) * 1000)}/s` : '';
    return `${c.label} ${this.bar(frac)} ${counts}${rate}  ETA ${c.done >= c.total ? '0:00' : formatDuration(etaMs)}`;
  }
}
