/**
 * Progress on stderr: a redrawn bar on a terminal, a plain line every few seconds
 * otherwise (logs, CI), nothing when quiet.
 */
import type { Progress } from '../runtime/local.ts';
import { formatBytes, formatDuration } from './format.ts';

export interface ProgressOptions {
  stream: NodeJS.WriteStream;
  tty: boolean;
  /** minimum time between redraws */
  intervalMs?: number;
}

export class ProgressBar {
  private lastDraw = 0;
  private last?: Progress;
  private drawn = false;

  constructor(private readonly opts: ProgressOptions) {}

  update(p: Progress): void {
    this.last = p;
    const now = Date.now();
    const interval = this.opts.intervalMs ?? (this.opts.tty ? 100 : 2000);
    if (now - this.lastDraw < interval && p.slicesDone < p.slicesTotal) return;
    this.lastDraw = now;
    this.draw(p, now);
  }

  /** Final state, and a newline so later output starts clean. */
  finish(): void {
    if (this.last) this.draw(this.last, Date.now());
    if (this.drawn && this.opts.tty) this.opts.stream.write('\n');
  }

  line(p: Progress, now: number): string {
    const elapsedMs = Math.max(1, now - p.startedAt);
    const rate = (p.bytesDone / elapsedMs) * 1000;
    const left = p.bytesTotal - p.bytesDone;
    const etaMs = p.bytesDone > 0 ? (left / rate) * 1000 : NaN;
    const frac = p.slicesTotal === 0 ? 1 : p.slicesDone / p.slicesTotal;
    const width = 24;
    const full = Math.round(frac * width);
    const bar = `${'#'.repeat(full)}${'-'.repeat(width - full)}`;
    const resumed = p.resumedSlices > 0 ? ` (${p.resumedSlices} resumed)` : '';
    return `[${bar}] ${p.slicesDone}/${p.slicesTotal} slices${resumed}  ${formatBytes(rate)}/s  ETA ${p.slicesDone === p.slicesTotal ? '0:00' : formatDuration(etaMs)}`;
  }

  private draw(p: Progress, now: number): void {
    const text = this.line(p, now);
    this.drawn = true;
    if (this.opts.tty) this.opts.stream.write(`\r${text}\x1b[K`);
    else this.opts.stream.write(`${text}\n`);
  }
}
