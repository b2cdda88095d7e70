/**
 * How a text input is laid out: its delimiter, its header line, its column count. The
 * planner detects the first two from the head of the file (textLayout) and learns the
 * column count by reading the first record (scanText with maxRecords 1).
 */
import { UsageError } from '../errors.ts';

export interface TextLayout {
  kind: 'text';
  /** Delimiter byte (44 for comma, 9 for tab, ...) or -1 for runs of spaces and tabs. */
  delimiter: number;
  /** Fields per record; 0 while learning it from the first record. */
  columns: number;
  /** Byte offset of a header line to skip, or -1. */
  headerAt: number;
}

export interface TextLayoutOptions {
  /** "," "\t" ";" ..., "whitespace", or undefined to detect */
  delimiter?: string;
  skipHeader?: boolean;
}

const DELIMITERS: Record<string, number> = { ',': 44, comma: 44, '\t': 9, '\\t': 9, tab: 9, ';': 59, '|': 124 };

/**
 * The layout of a text input of `size` bytes from its first bytes (`head`, up to 64 KiB),
 * with columns 0:
 * the delimiter is detected from the first data line (comma, then tab, then semicolon
 * when the line holds no space, else runs of white space) unless `opts.delimiter` says.
 */
export function textLayout(head: Uint8Array, size: number, opts: TextLayoutOptions): TextLayout {
  // The first line that is not blank or a comment: the header when --skip-header, and
  // the line the delimiter is detected from.
  let firstAt = -1;
  for (let at = 0; at < head.length; ) {
    let nl = head.indexOf(10, at);
    if (nl < 0) nl = head.length;
    let i = at === 0 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : at;
    while (i < nl && (head[i] === 32 || head[i] === 9 || head[i] === 13)) i++;
    if (i < nl && head[i] !== 35) {
      firstAt = at;
      break;
    }
    at = nl + 1;
  }
  let delimiter: number;
  if (opts.delimiter === undefined || opts.delimiter === 'auto') {
    let line = firstAt < 0 ? new Uint8Array(0) : head.subarray(firstAt);
    const nl = line.indexOf(10);
    if (nl >= 0) line = line.subarray(0, nl);
    delimiter = line.includes(44) ? 44 : line.includes(9) ? 9 : line.includes(59) && !line.includes(32) ? 59 : -1;
  } else if (opts.delimiter === 'whitespace' || opts.delimiter === ' ') {
    delimiter = -1;
  } else {
    const d = DELIMITERS[opts.delimiter] ?? (opts.delimiter.length === 1 ? opts.delimiter.charCodeAt(0) : undefined);
    if (d === undefined || d > 127 || /[0-9.eE+\-#\n\r]/.test(String.fromCharCode(d))) {
      throw new UsageError(`--delimiter ${JSON.stringify(opts.delimiter)}: use one ASCII character (not a digit, sign, dot or #), "tab" or "whitespace"`);
    }
    delimiter = d;
  }
  if (opts.skipHeader && firstAt < 0 && head.length < size) {
    throw new UsageError('--skip-header: no header line in the first 64 KiB');
  }
  return { kind: 'text', delimiter, columns: 0, headerAt: opts.skipHeader ? firstAt : -1 };
}
