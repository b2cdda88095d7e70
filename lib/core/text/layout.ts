/**
 * How a text input is laid out: its delimiter, its header line, its column count. The
 * planner detects the first two from the head of the file (textLayout) and learns the
 * column count by reading the first record (scanText with maxRecords 1).
 */
import { InputError, UsageError } from '../errors.ts';

export interface TextLayout {
  kind: 'text';
  /** Delimiter byte (44 for comma, 9 for tab, ...) or -1 for runs of spaces and tabs. */
  delimiter: number;
  /** Fields per record; 0 while learning it from the first record. */
  columns: number;
  /** Byte offset of a header line to skip, or -1. */
  headerAt: number;
  /**
   * 13: lines end in CR alone (old Mac files), and CR, LF and CRLF all end a line; absent:
   * lines end in LF or CRLF (the only kind the fast path reads).
   */
  newline?: 13;
  /** --missing skip or count (absent: fail, a missing value is a bad record) */
  missing?: 'skip' | 'count';
}

export interface TextLayoutOptions {
  /** "," "\t" ";" ..., "whitespace", or undefined to detect */
  delimiter?: string;
  skipHeader?: boolean;
  missing?: 'fail' | 'skip' | 'count';
}

const DELIMITERS: Record<string, number> = { ',': 44, comma: 44, '\t': 9, '\\t': 9, tab: 9, ';': 59, '|': 124 };

/**
 * The layout of a text input of `size` bytes from its first bytes (`head`, up to 64 KiB),
 * with columns 0:
 * the delimiter is detected from the first data line (comma, then tab, then semicolon
 * when the line holds no space, else runs of white space) unless `opts.delimiter` says.
 */
export function textLayout(name: string, head: Uint8Array, size: number, opts: TextLayoutOptions): TextLayout {
  refuseWideUnicode(name, head);
  const cr = crOnly(head);
  // The first line that is not blank or a comment: the header when --skip-header, and
  // the line the delimiter is detected from.
  let firstAt = -1;
  for (let at = 0; at < head.length; ) {
    const nl = lineEnd(head, at, cr);
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
    const line = firstAt < 0 ? new Uint8Array(0) : head.subarray(firstAt, lineEnd(head, firstAt, cr));
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
  const missing = opts.missing === 'skip' || opts.missing === 'count' ? opts.missing : undefined;
  return { kind: 'text', delimiter, columns: 0, headerAt: opts.skipHeader ? firstAt : -1, ...(cr ? { newline: 13 as const } : {}), ...(missing ? { missing } : {}) };
}

/** Where the line that starts at `at` ends: its LF (or CR, in a CR-only file), or the end of `head`. */
function lineEnd(head: Uint8Array, at: number, cr: boolean): number {
  let i = at;
  while (i < head.length && head[i] !== 10 && !(cr && head[i] === 13)) i++;
  return i;
}

/** Lines end in CR alone: the first line end in the head is a CR not followed by LF. */
function crOnly(head: Uint8Array): boolean {
  const lf = head.indexOf(10);
  const cr = head.indexOf(13);
  if (cr < 0 || (lf >= 0 && lf < cr)) return false;
  // A CR that ends the head may be the first half of a CRLF: only a CR before another byte tells.
  return cr + 1 < head.length && head[cr + 1] !== 10;
}

/** The encoding a byte order mark names, for the encodings fanout does not read (UTF-8's is read and dropped). */
export function wideUnicodeBom(head: Uint8Array): 'UTF-32' | 'UTF-16' | undefined {
  const [a, b, c, d] = head;
  if ((a === 0xff && b === 0xfe && c === 0 && d === 0) || (a === 0 && b === 0 && c === 0xfe && d === 0xff)) return 'UTF-32';
  if ((a === 0xff && b === 0xfe) || (a === 0xfe && b === 0xff)) return 'UTF-16';
  return undefined;
}

function refuseWideUnicode(name: string, head: Uint8Array): void {
  const enc = wideUnicodeBom(head);
  if (enc) throw new InputError(name, 0, `this is ${enc} text: convert it to UTF-8, e.g. iconv -f ${enc} -t UTF-8 ${name} > converted.csv`);
}
