/**
 * Progress on stderr: on a terminal, a bar redrawn in place by cli-progress (its redraw
 * timer, cursor handling and line-wrap control); otherwise (logs, CI) a plain line every
 * few seconds, the final state printed once, which cli-progress's own non-terminal mode
 * does not do (it prints on its timer, repeating unchanged lines). Nothing when quiet.
 * Colour only on a terminal, never with NO_COLOR.
 */
import { createRequire } from 'node:module';
import type { SingleBar } from 'cli-progress';
import type { Progress } from '../local/run.ts';
import { formatBytes, formatDuration } from '../core/units.ts';

type Stream = NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean; columns?: number };

export interface ProgressOptions {
  stream: Stream;
  tty: boolean;
  /** minimum time between redraws */
  intervalMs?: number;
  /** default: on a terminal unless NO_COLOR is set (https://no-color.org) */
  colour?: boolean;
}

export function colourWanted(tty: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  return tty && !(env.NO_COLOR !== undefined && env.NO_COLOR !== '');
}

// Loaded only when a terminal bar is drawn: most runs (pipes, CI, --quiet) never pay its start-up.
const loadSingleBar = (): typeof SingleBar => (createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress')).SingleBar;

const GREEN = '\x1b[32m';
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

/** What every kind of progress shares: the bar, the terminal or plain-line drawing. */
abstract class Bar<P> {
  private lastDraw = 0;
  private last?: P;
  /** the complete state has been written: a finish() without a terminal has nothing to add */
  private drewComplete = false;
  private readonly terminal?: SingleBar;
  private started = false;
  protected readonly colour: boolean;

  constructor(protected readonly opts: ProgressOptions) {
    this.colour = opts.colour ?? colourWanted(opts.tty);
    if (opts.tty) {
      const stream = opts.stream;
      // cli-progress asks the stream whether it is a terminal; the caller has decided that.
      const terminalStream = { write: (s: string) => stream.write(s), isTTY: true, columns: 'columns' in stream ? stream.columns : undefined };
      const Terminal = loadSingleBar();
      this.terminal = new Terminal({
        stream: terminalStream as unknown as NodeJS.WritableStream,
        format: (_options, _params, payload: { p: P }) => this.line(payload.p, Date.now()),
        fps: 1000 / (opts.intervalMs || 100),
        // The line is ours (counts, rate, ETA); the bar in it is this.bar().
        hideCursor: false,
        clearOnComplete: false,
      });
    }
  }

  protected abstract isComplete(p: P): boolean;
  /** a new stage (of a chained job) starts a new bar */
  protected stageOf(_p: P): string | undefined {
    return undefined;
  }
  protected abstract counts(p: P): { done: number; total: number };
  abstract line(p: P, now: number): string;

  update(p: P): void {
    const newStage = this.last !== undefined && this.stageOf(p) !== this.stageOf(this.last);
    this.last = p;
    if (newStage) {
      // The finished stage keeps its line; the next one is drawn below it from the start.
      if (this.terminal?.isActive) this.terminal.stop();
      this.started = false;
      this.drewComplete = false;
      this.lastDraw = 0;
    }
    if (this.terminal) {
      const { done, total } = this.counts(p);
      if (!this.started) {
        this.started = true;
        this.terminal.start(total, done, { p });
      } else {
        this.terminal.setTotal(total);
        this.terminal.update(done, { p });
      }
      return;
    }
    const now = Date.now();
    const interval = this.opts.intervalMs ?? 2000;
    const complete = this.isComplete(p);
    // Every draw is a new line: the finished state is printed once, however often it is reported.
    if (complete ? this.drewComplete : now - this.lastDraw < interval) return;
    this.lastDraw = now;
    this.drawLine(p, now);
  }

  /** Final state, and a newline so later output starts clean. */
  finish(): void {
    if (this.terminal) {
      if (this.started) this.terminal.stop();
      return;
    }
    // Without a terminal every draw is a new line: the final state, already printed
    // when it was reached, is not printed twice.
    if (this.last && !this.drewComplete) this.drawLine(this.last, Date.now());
  }

  protected bar(frac: number, width = 24): string {
    const full = Math.max(0, Math.min(width, Math.round(frac * width)));
    const done = '#'.repeat(full);
    const left = '-'.repeat(width - full);
    return this.colour ? `[${GREEN}${done}${RESET}${DIM}${left}${RESET}]` : `[${done}${left}]`;
  }

  private drawLine(p: P, now: number): void {
    this.drewComplete = this.isComplete(p);
    this.opts.stream.write(`${this.line(p, now)}\n`);
  }
}

export class ProgressBar extends Bar<Progress> {
  protected isComplete(p: Progress): boolean {
    return p.slicesDone >= p.slicesTotal;
  }

  protected counts(p: Progress) {
    return { done: p.slicesDone, total: p.slicesTotal };
  }

  protected override stageOf(p: Progress): string | undefined {
    return p.stage;
  }

  line(p: Progress, now: number): string {
    const elapsedMs = Math.max(1, now - p.startedAt);
    const rate = (p.bytesDone / elapsedMs) * 1000;
    const left = p.bytesTotal - p.bytesDone;
    const etaMs = p.bytesDone > 0 ? (left / rate) * 1000 : NaN;
    const frac = p.slicesTotal === 0 ? 1 : p.slicesDone / p.slicesTotal;
    const resumed = p.resumedSlices > 0 ? ` (${p.resumedSlices} resumed)` : '';
    return `${p.stage ? `${p.stage} ` : ''}${this.bar(frac)} ${p.slicesDone}/${p.slicesTotal} slices${resumed}  ${formatBytes(rate)}/s${p.compressedBytes ? ' compressed' : ''}  ETA ${p.slicesDone === p.slicesTotal ? '0:00' : formatDuration(etaMs)}`;
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

  protected counts(c: Count) {
    return { done: c.done, total: c.total };
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
