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
import { InputError } from './errors.ts';
import { splitProductError } from './exact-sum.ts';
import type { ByteSource, RowSink, ScanOptions, ScanStats } from './source.ts';
import { emptyStats } from './source.ts';

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

const P10 = new Float64Array(Array.from({ length: 23 }, (_, i) => 10 ** i));
const TWO53 = 2 ** 53;
const MAX_EXAMPLES = 5;

// Powers of ten as double-double: 10^j = PH[j + DD_MAX] + PL[j + DD_MAX], to about 2^-105
// relative. The range keeps every intermediate of decimalToDouble() normal and finite.
const DD_MAX = 280;
const PH = new Float64Array(2 * DD_MAX + 1);
const PL = new Float64Array(2 * DD_MAX + 1);
for (let j = -DD_MAX; j <= DD_MAX; j++) {
  // Number(bigint) and short decimal literals are correctly rounded by the language spec.
  if (j >= 0) {
    const exact = 10n ** BigInt(j);
    const hi = Number(exact);
    PH[j + DD_MAX] = hi;
    PL[j + DD_MAX] = Number(exact - BigInt(hi));
  } else {
    const hi = Number(`1e${j}`);
    // hi = m * 2^e exactly, with m a 53-bit integer; the remainder 10^j - hi is
    // (2^-e - m * 10^-j) / (10^-j * 2^-e), rounded here to 64+ bits, then to a double.
    let e = Math.floor(Math.log2(hi)) - 52;
    while (hi / 2 ** e >= TWO53) e++;
    while (hi / 2 ** e < TWO53 / 2) e--;
    const m = BigInt(hi / 2 ** e);
    const den = 10n ** BigInt(-j) << BigInt(-e);
    const num = (1n << BigInt(-e)) - m * 10n ** BigInt(-j);
    const mag = num < 0n ? -num : num;
    const shift = den.toString(2).length - mag.toString(2).length + 66;
    const q = Number((mag << BigInt(shift)) / den) * 2 ** -Math.ceil(shift / 2) * 2 ** -Math.floor(shift / 2);
    PH[j + DD_MAX] = hi;
    PL[j + DD_MAX] = num < 0n ? -q : q;
  }
}
// The double-double result below is within 2^-96 of the exact value (relative); a much
// wider margin than that decides whether it can be rounded without doubt.
const DOUBT = 2 ** -88;
const dbl = new Float64Array(1);
const dblWords = new Uint32Array(dbl.buffer);
const HI_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
// Half the spacing of doubles with biased exponent e: 2^(e - 1076).
const HALF_ULP = Float64Array.from({ length: 2048 }, (_, e) => 2 ** (e - 1076));

/**
 * The double nearest to (m1 * 10^k + m2) * 10^e10, for a decimal with up to 19
 * significant digits: m1 holds the first (up to 15) of them, m2 the next k (0..4), and
 * m1 >= 10^14 whenever k > 0. Returns NaN when it cannot prove the rounding (exponents
 * beyond +-280, or a value within 2^-88 of a halfway point): the caller then uses
 * Number(text). Clinger's fast path (an exact integer below 2^53 times an exact power of
 * ten) covers the common case; otherwise the product is formed in double-double
 * arithmetic and rounded once, with its error bound checked against the nearest
 * halfway point between doubles.
 */
export function decimalToDouble(m1: number, k: number, m2: number, e10: number): number {
  MANTISSA[0] = m1;
  MANTISSA[1] = m2;
  return decimalInto(k, e10, false, ONE, 0) ? ONE[0]! : NaN;
}
const ONE = new Float64Array(1);
// decimalInto's mantissas travel through here, not as arguments: V8 boxes a double passed
// to a call it does not inline (a heap number per token: about a gigabyte of garbage per
// 300 MB of 19-digit CSV), and stores to a typed array stay unboxed.
const MANTISSA = new Float64Array(2);

/**
 * decimalToDouble(), negated when `neg`, stored to out[index]; false when it declines.
 * Storing instead of returning keeps the double unboxed when V8 does not inline this.
 */
function decimalInto(k: number, e10: number, neg: boolean, out: Float64Array, index: number): boolean {
  const m1 = MANTISSA[0]!;
  const m2 = MANTISSA[1]!;
  const w = k === 0 ? m1 : m1 * P10[k]! + m2;
  if (w < TWO53) {
    if (w === 0 || e10 === 0) {
      out[index] = neg ? -w : w;
      return true;
    }
    if (e10 > 0 && e10 <= 22) {
      out[index] = neg ? -(w * P10[e10]!) : w * P10[e10]!;
      return true;
    }
    if (e10 < 0 && e10 >= -22) {
      out[index] = neg ? -(w / P10[-e10]!) : w / P10[-e10]!;
      return true;
    }
  }
  const j1 = e10 + k;
  if (e10 < -DD_MAX || j1 > DD_MAX) return false;
  // m1 * 10^j1: the exact product m1 * ph as p1 + e1 (Dekker), plus m1 * pl.
  const ph = PH[j1 + DD_MAX]!;
  const p1 = m1 * ph;
  let lo = splitProductError(m1, ph, p1) + m1 * PL[j1 + DD_MAX]!;
  if (k > 0) {
    // m2 * 10^e10 is below 10^-14 of the total: a rounded product and its first
    // correction keep it far inside the error budget.
    const qh = PH[e10 + DD_MAX]!;
    const p2 = m2 * qh;
    lo += p2 + (m2 * PL[e10 + DD_MAX]! + splitProductError(m2, qh, p2));
  }
  const c = p1 + lo;
  const tail = lo - (c - p1); // exact: (p1 + lo) - c, as |p1| >= |lo|
  dbl[0] = c;
  const hiWord = dblWords[HI_WORD]!;
  const exp = (hiWord >>> 20) & 0x7ff;
  // Half the gap to the neighbour on the tail's side; below a power of two that gap halves.
  let half = HALF_ULP[exp]!;
  if (tail < 0 && (hiWord & 0xfffff) === 0 && dblWords[1 - HI_WORD] === 0) half /= 2;
  const margin = half - Math.abs(tail);
  if (!(margin > c * DOUBT)) return false;
  out[index] = neg ? -c : c;
  return true;
}


/**
 * The fast path: parses one whole record that starts at buf[i] when it is plain (exactly
 * `columns` decimal numbers, one delimiter between them, or runs of spaces and tabs when
 * delimiter < 0, ended by LF or CRLF). The caller guarantees a newline at or after buf[i]
 * in this buffer. Writes its values to out[at..at+columns) and returns the index after the
 * newline, or -1 for anything else (the general reader then reads the record from its
 * start, so both always agree).
 */
function fastRecord(buf: Uint8Array, i: number, out: Float64Array, at: number, columns: number, delimiter: number): number {
  // No loop below steps over a newline (it is no digit, dot, sign, delimiter or blank), so
  // the newline the caller knows of ends every one of them: no byte needs a bounds check,
  // and the first newline reached is the record's end.
  const last = columns - 1;
  let c = buf[i]!;
  for (let col = 0; ; col++) {
    if (delimiter < 0) while (c === 32 || c === 9) c = buf[++i]!;
    // -1 after a minus sign, else 0. The sign is applied by a multiply, not a branch: signs
    // are often random, and a mispredicted branch costs more than the whole multiply.
    const minus = ((c ^ 45) - 1) >> 31;
    i -= minus;
    if (minus === 0 && c === 43) i++;
    c = buf[i]!;
    const from = i;
    while (c === 48) c = buf[++i]!;
    // The first 9 significant digits go into an int32, which is exact and cheaper than a
    // double; the digit counts and the exponent come from positions, not counters.
    let limit = i + 9;
    let a = 0;
    while (c >= 48 && c <= 57 && i < limit) {
      a = (a * 10 + (c - 48)) | 0;
      c = buf[++i]!;
    }
    let dot = -1;
    if (c === 46) {
      dot = i;
      c = buf[++i]!;
      if (a === 0) {
        while (c === 48) c = buf[++i]!;
        limit = i + 9;
      } else limit++;
      while (c >= 48 && c <= 57 && i < limit) {
        a = (a * 10 + (c - 48)) | 0;
        c = buf[++i]!;
      }
    }
    let m1: number = a;
    let m2 = 0;
    let k = 0;
    if (c >= 48 && c <= 57) {
      // More than 9 significant digits: up to 15 in m1, then up to 4 more in m2.
      let nd = 9;
      for (;;) {
        while (c >= 48 && c <= 57) {
          if (nd < 15) {
            m1 = m1 * 10 + (c - 48);
            nd++;
          } else if (k < 4) {
            m2 = m2 * 10 + (c - 48);
            k++;
          } else return -1;
          c = buf[++i]!;
        }
        if (c !== 46 || dot >= 0) break;
        dot = i;
        c = buf[++i]!;
      }
    }
    if (i - from === (dot < 0 ? 0 : 1)) return -1; // no digit: "", ".", "-"
    let e10 = dot < 0 ? 0 : dot + 1 - i;
    if (c === 101 || c === 69) {
      c = buf[++i]!;
      const eneg = c === 45;
      if (eneg || c === 43) c = buf[++i]!;
      let ev = 0;
      const digits = i;
      while (c >= 48 && c <= 57) {
        ev = ev * 10 + (c - 48);
        c = buf[++i]!;
      }
      if (i === digits || i - digits > 5) return -1;
      e10 += eneg ? -ev : ev;
    }
    if (k === 0 && e10 <= 0 && e10 >= -22) {
      // The common case inline: at most 15 digits, an exact power of ten to divide by.
      out[at + col] = (m1 / P10[-e10]!) * (minus | 1);
    } else {
      MANTISSA[0] = m1;
      MANTISSA[1] = m2;
      if (!decimalInto(k, e10, minus !== 0, out, at + col)) return -1;
    }
    if (col === last) break;
    if (delimiter < 0) {
      if (c !== 32 && c !== 9) return -1;
    } else {
      if (c !== delimiter) return -1;
      c = buf[++i]!;
    }
  }
  if (delimiter < 0) while (c === 32 || c === 9) c = buf[++i]!;
  if (c === 13) c = buf[++i]!;
  return c === NL ? i + 1 : -1;
}

/** Delimiters the fast path can tell apart from the bytes of a number and a line end. */
function fastDelimiter(delimiter: number): boolean {
  if (delimiter < 0) return true;
  return !(delimiter >= 48 && delimiter <= 57) && ![46, 101, 69, 43, 45, 35, 13, NL].includes(delimiter);
}

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

// The first read past a slice's end: an eighth of the slice, within these bounds.
const MIN_PROBE_BYTES = 4 * 1024;
const MAX_PROBE_BYTES = 64 * 1024;
// Each further read past the end is this many times longer than the one before.
const PROBE_GROWTH = 8;

/**
 * The bytes from `from` to the end of the source, asked for in spans: the slice plus a
 * probe past its end (where its last record nearly always ends), then spans that grow
 * geometrically. A source sizes its reads to the span, so a small slice costs a small
 * read (a 20 KB slice reads 24 KB, not 84), a ranged source (S3) makes one request per
 * slice in the common case and a few for a record megabytes long, and the reader still
 * follows a record of any length. The end of the source comes as FINAL_NEWLINE.
 */
async function* sliceThenTail(source: ByteSource, from: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  const size = source.size;
  let span = Math.min(MAX_PROBE_BYTES, Math.max(MIN_PROBE_BYTES, Math.floor((end - from) / 8)));
  // At least a few bytes in the first read, so that a byte order mark arrives whole.
  let to = Math.min(size, Math.max(end, from + 16) + span);
  yield* source.chunks(from, to, signal);
  while (to < size) {
    const at = to;
    span *= PROBE_GROWTH;
    to = Math.min(size, at + span);
    yield* source.chunks(at, to, signal);
  }
  yield FINAL_NEWLINE;
}

// The value block of a finished scan serves the next one: ten thousand small slices
// would otherwise zero ten thousand fresh blocks. A scan holds it until it ends, so two
// scans at once (Lambda handlers sharing a process) each have their own. Rows past a
// block's row count are stale, never read.
let spareBlock: Float64Array | undefined;

function takeBlock(length: number): Float64Array {
  const block = spareBlock && spareBlock.length >= length ? spareBlock : new Float64Array(length);
  spareBlock = undefined;
  return block;
}

export interface TextScanOptions extends ScanOptions {
  /** Stop after this many records (the planner reads one to learn the column count). */
  maxRecords?: number;
  /** Report the byte offset of this row (counted from the slice start) as `locatedAt`. */
  locateRow?: number;
  /** false: every record through the general byte-by-byte reader (tests compare the two paths). */
  fastPath?: boolean;
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
  const fastDelim = fastDelimiter(layout.delimiter) ? layout.delimiter : -2;
  let columns = layout.columns;
  const learning = columns === 0;

  if (start >= end || start >= size) return { ...stats, columnsSeen: columns };

  // A block holds up to 64K values, and never more rows than the slice can own (a row
  // has at least one byte per value).
  let blockCap = learning ? 1 : Math.max(1, Math.min(Math.floor(65536 / columns), Math.ceil((end - start) / columns) + 1));
  let vals = learning ? new Float64Array(64) : takeBlock(columns * blockCap);
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

  for await (const buf of sliceThenTail(source, base, end, options.signal)) {
    const n = buf.length;
    // Records that start at or before the buffer's last newline end inside it: those can
    // take the fast path. One search per buffer, from its end, instead of one per record.
    const lastNewline = buf.lastIndexOf(NL);
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
        if (i <= lastNewline && fastDelim !== -2 && columns > 0 && locateRow < 0 && options.fastPath !== false) {
          const next = fastRecord(buf, i, vals, rowBase, columns, fastDelim);
          if (next >= 0) {
            blockRows++;
            rows++;
            if (blockRows === blockCap) flush();
            i = next;
            atLineStart = true;
            lineStart = base + i;
            continue;
          }
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
  if (!spareBlock || spareBlock.length < vals.length) spareBlock = vals;
  stats.rows = rows;
  return { ...stats, columnsSeen: columns, ...(locatedAt === undefined ? {} : { locatedAt }) };
}
