// The text reader as it was before its fast path (commit 0976e7c), kept as the oracle
// that the fast path must match record for record and error for error.
/**
 * Streaming reader for delimited numeric text (CSV, TSV, whitespace-separated).
 *
 * Record rule: a record is a line, and it belongs to the slice that holds its first
 * byte. A slice that starts at offset s > 0 looks at byte s-1: if that is a newline,
 * a record starts at s; otherwise the line in progress belongs to an earlier slice and
 * reading starts after the next newline. The last record a slice owns is read to its
 * end however far past the slice end that is. Tokens are parsed as the bytes stream
 * by, so a line longer than any buffer costs no more memory than its values.
 *
 * Numbers: a token is parsed exactly as Number(token) would (same double), but only
 * the decimal grammar [+-]digits[.digits][e[+-]digits] and nan/inf/infinity are
 * accepted; anything else (an empty field, "12abc", "1,000" in a whitespace file, a
 * lone "-") is a bad record.
 */
import { InputError } from '../../lib/core/errors.ts';
import type { ByteSource, RowSink, ScanOptions, ScanStats } from '../../lib/core/source.ts';
import { emptyStats } from '../../lib/core/source.ts';

export interface TextLayout {
  kind: 'text';
  /** Delimiter byte (44 for comma, 9 for tab, ...) or -1 for runs of spaces and tabs. */
  delimiter: number;
  /** Fields per record; 0 while learning it from the first record. */
  columns: number;
  /** Byte offset of a header line to skip, or -1. */
  headerAt: number;
}

const NL = 10;
// Character classes.
const K_DIGIT = 0;
const K_DOT = 1;
const K_EXP = 2;
const K_SIGN = 3;
const K_OTHER = 4; // any other token byte: sends the token to the slow path
const K_WS = 5;
const K_DELIM = 6;
const K_NL = 7;
const K_HASH = 8;

const P10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
const TWO53 = 2 ** 53;
const MAX_EXAMPLES = 5;

function classTable(delimiter: number): Uint8Array {
  const t = new Uint8Array(256).fill(K_OTHER);
  for (let c = 48; c <= 57; c++) t[c] = K_DIGIT;
  t[46] = K_DOT;
  t[101] = K_EXP;
  t[69] = K_EXP;
  t[43] = K_SIGN;
  t[45] = K_SIGN;
  t[32] = K_WS;
  t[9] = K_WS;
  t[13] = K_WS;
  t[NL] = K_NL;
  t[35] = K_HASH;
  if (delimiter >= 0) t[delimiter] = K_DELIM;
  return t;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL = /^([+-]?)(nan|inf|infinity)$/i;

/** Number(token) for tokens in our grammar; undefined for anything else. */
export function parseToken(token: string): number | undefined {
  if (DECIMAL.test(token)) return Number(token);
  const m = SPECIAL.exec(token);
  if (!m) return undefined;
  if (m[2]!.toLowerCase() === 'nan') return NaN;
  return m[1] === '-' ? -Infinity : Infinity;
}

function latin1(bytes: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

function shown(token: string): string {
  const t = token.length > 40 ? `${token.slice(0, 40)}...` : token;
  return JSON.stringify(t);
}

// End of input ends the last line as a newline would.
const FINAL_NEWLINE = new Uint8Array([NL]);
async function* withFinalNewline(chunks: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  yield* chunks;
  yield FINAL_NEWLINE;
}

export interface TextScanOptions extends ScanOptions {
  /** Stop after this many records (the planner reads one to learn the column count). */
  maxRecords?: number;
  /** Report the byte offset of this row (counted from the slice start) as `locatedAt`. */
  locateRow?: number;
}

/**
 * Reads every record whose first byte lies in [start, end) and hands its values to the
 * sink. With layout.columns === 0 the first record fixes the column count (see
 * `columnsSeen` in the result).
 */
export async function scanText(
  source: ByteSource,
  layout: TextLayout,
  start: number,
  end: number,
  sink: RowSink,
  options: TextScanOptions = {},
): Promise<ScanStats & { columnsSeen: number; locatedAt?: number }> {
  const stats = emptyStats();
  const file = source.name;
  const size = source.size;
  const skipBad = options.onBadRecord === 'skip';
  const maxRecords = options.maxRecords ?? Infinity;
  const locateRow = options.locateRow ?? -1;
  let locatedAt: number | undefined;
  const onProgress = options.onProgress;
  const headerAt = layout.headerAt;
  const delimited = layout.delimiter >= 0;
  const CLS = classTable(layout.delimiter);
  let columns = layout.columns;
  const learning = columns === 0;

  if (start >= end || start >= size) return { ...stats, columnsSeen: columns };

  let blockCap = learning ? 1 : Math.max(1, Math.floor(65536 / columns));
  let vals = new Float64Array(learning ? 64 : columns * blockCap);
  let blockRows = 0;
  let firstRow = 0;
  let rows = 0;

  // Line state.
  let skipping = false; // skipping to the end of the current line, which is not a record
  let inComment = false; // skipping a comment; the line may still hold a record
  let atLineStart = true;
  let lineStart = start;
  let col = 0;
  let rowBase = 0;
  let expectField = true; // delimited: a field must come next (line start or after a delimiter)
  let sawDelim = false;
  let afterTok = false; // delimited: a token ended on white space; a delimiter must come next
  // Token state.
  let inTok = false;
  let tokStart = 0; // absolute offset
  let carry = ''; // the bytes of a token that began in an earlier chunk
  let neg = false;
  let mant = 0;
  let nd = 0;
  let scale = 0;
  let sawDigit = false;
  let sawDot = false;
  let inExp = false;
  let expNeg = false;
  let expVal = 0;
  let expDigits = 0;
  let expSignOk = false;
  let slow = false;

  let done = false;
  let base = start > 0 ? start - 1 : 0;
  let lookBack = start > 0;

  const fail = (offset: number, problem: string, restOfLine = true): void => {
    if (!skipBad) throw new InputError(file, offset, problem);
    stats.skipped++;
    if (stats.skippedExamples.length < MAX_EXAMPLES) stats.skippedExamples.push({ offset, problem });
    // Drop the row and ignore the rest of its line.
    inTok = false;
    carry = '';
    col = 0;
    skipping = restOfLine;
  };

  const flush = (): void => {
    if (blockRows > 0) {
      sink.rows(vals, blockRows, columns, firstRow);
      firstRow += blockRows;
      blockRows = 0;
    }
  };

  /** Ends the current line: commits its row, if it has one. */
  const endLine = (at: number): void => {
    if (col === 0 && !sawDelim) return; // blank or comment line: not a record
    if (delimited && expectField) {
      fail(at, 'empty field at the end of the line', false);
      return;
    }
    if (learning && columns === 0) {
      columns = col;
      blockCap = Math.max(1, Math.floor(65536 / columns));
      const grown = new Float64Array(columns * blockCap);
      grown.set(vals.subarray(0, columns));
      vals = grown;
    } else if (col !== columns) {
      fail(lineStart, `expected ${columns} fields, found ${col}`, false);
      return;
    }
    if (rows === locateRow) locatedAt = lineStart;
    blockRows++;
    rows++;
    if (blockRows === blockCap) flush();
  };

  for await (const buf of withFinalNewline(source.chunks(base, size, options.signal))) {
    const n = buf.length;
    let i = 0;
    if (lookBack) {
      lookBack = false;
      i = 1;
      if (buf[0] !== NL) skipping = true;
    }
    while (i < n) {
      if (inComment) {
        const k = buf.indexOf(NL, i);
        inComment = k < 0;
        i = k < 0 ? n : k;
        continue;
      }
      if (skipping) {
        const k = buf.indexOf(NL, i);
        if (k < 0) {
          i = n;
          break;
        }
        i = k + 1;
        skipping = false;
        atLineStart = true;
        lineStart = base + i;
        col = 0;
        continue;
      }
      if (atLineStart) {
        if (lineStart >= end || rows >= maxRecords) {
          done = true;
          break;
        }
        atLineStart = false;
        col = 0;
        rowBase = blockRows * columns;
        expectField = true;
        sawDelim = false;
        afterTok = false;
        if (lineStart === headerAt) {
          skipping = true;
          continue;
        }
        // A UTF-8 byte order mark at offset 0 belongs to the first record and is dropped.
        if (lineStart === 0 && n - i >= 3 && buf[i] === 0xef && buf[i + 1] === 0xbb && buf[i + 2] === 0xbf) {
          i += 3;
          continue;
        }
      }
      const c = buf[i]!;
      const k = CLS[c]!;
      if (inTok) {
        if (k <= K_OTHER) {
          if (k === K_DIGIT) {
            const d = c - 48;
            if (inExp) {
              if (expVal < 1e9) expVal = expVal * 10 + d;
              expDigits++;
            } else {
              sawDigit = true;
              if (nd === 0 && d === 0) {
                if (sawDot) scale--;
              } else if (nd < 17) {
                mant = mant * 10 + d;
                nd++;
                if (sawDot) scale--;
              } else slow = true;
            }
            expSignOk = false;
          } else if (k === K_DOT) {
            if (sawDot || inExp) slow = true;
            sawDot = true;
            expSignOk = false;
          } else if (k === K_EXP) {
            if (inExp || !sawDigit) slow = true;
            inExp = true;
            expSignOk = true;
          } else if (k === K_SIGN) {
            if (!expSignOk) slow = true;
            else expNeg = c === 45;
            expSignOk = false;
          } else {
            slow = true;
          }
          i++;
          continue;
        }
        // The token ends here.
        inTok = false;
        let v: number;
        if (!slow && sawDigit && (!inExp || expDigits > 0) && (nd < 16 || (nd === 16 && mant < TWO53))) {
          const e10 = scale + (expNeg ? -expVal : expVal);
          if (e10 === 0) v = neg ? -mant : mant;
          else if (e10 > 0 && e10 <= 22) v = neg ? -(mant * P10[e10]!) : mant * P10[e10]!;
          else if (e10 < 0 && e10 >= -22) v = neg ? -(mant / P10[-e10]!) : mant / P10[-e10]!;
          else v = Number(carry + latin1(buf, Math.max(0, tokStart - base), i)); // the text keeps its sign
        } else {
          const text = carry + latin1(buf, Math.max(0, tokStart - base), i);
          const parsed = parseToken(text);
          if (parsed === undefined) {
            fail(tokStart, `not a number: ${shown(text)}`);
            continue;
          }
          v = parsed;
        }
        carry = '';
        if (col >= columns) {
          if (!learning || columns !== 0) {
            fail(tokStart, `more than ${columns} fields`);
            continue;
          }
          if (col >= vals.length) {
            const grown = new Float64Array(vals.length * 2);
            grown.set(vals);
            vals = grown;
          }
        }
        vals[rowBase + col++] = v;
        if (delimited) {
          expectField = false;
          afterTok = k === K_WS;
        }
      }
      switch (k) {
        case K_WS:
          i++;
          break;
        case K_DELIM:
          if (expectField) {
            fail(base + i, 'empty field');
            break;
          }
          expectField = true;
          afterTok = false;
          sawDelim = true;
          i++;
          break;
        case K_NL:
          endLine(base + i);
          i++;
          atLineStart = true;
          lineStart = base + i;
          break;
        case K_HASH:
          // A comment runs to the end of the line; the newline then ends the line as usual.
          if (delimited && expectField && sawDelim) {
            fail(base + i, 'empty field');
            break;
          }
          inComment = true;
          break;
        default:
          // A token starts.
          if (afterTok) {
            fail(base + i, 'missing delimiter between fields');
            break;
          }
          inTok = true;
          tokStart = base + i;
          neg = c === 45;
          mant = 0;
          nd = 0;
          scale = 0;
          sawDigit = false;
          sawDot = false;
          inExp = false;
          expNeg = false;
          expVal = 0;
          expDigits = 0;
          expSignOk = false;
          slow = false;
          if (k === K_DIGIT) {
            const d = c - 48;
            sawDigit = true;
            if (d !== 0) {
              mant = d;
              nd = 1;
            }
          } else if (k === K_DOT) sawDot = true;
          else if (k !== K_SIGN) slow = true;
          i++;
      }
    }
    if (inTok && !done) carry += latin1(buf, Math.max(0, tokStart - base), n);
    if (buf !== FINAL_NEWLINE) {
      base += n;
      stats.bytesRead += n;
      onProgress?.(n);
    }
    if (done) break;
  }
  flush();
  stats.rows = rows;
  return { ...stats, columnsSeen: columns, ...(locatedAt === undefined ? {} : { locatedAt }) };
}
