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
 * Two readers, one answer: a plain record that ends in the buffer at hand goes through
 * fastRecord (fast-record.ts), or with runs of others through its WebAssembly twin
 * (wasm-records.ts) when the row block lives in the kernel's memory; the general reader here, a byte-at-a-time state machine,
 * reads every other line (comments, blank lines, headers, bad fields, lines that cross
 * buffers, the first record while the column count is learned) and any record the fast
 * path declines, from its start. Numbers follow the grammar of number.ts.
 */
import { InputError } from '../errors.ts';
import type { ByteSource, RowSink, ScanOptions, ScanStats } from '../source.ts';
import { emptyStats } from '../source.ts';
import { FINAL_NEWLINE, RowBlock, sliceThenTail } from './buffers.ts';
import { fastDelimiter, fastRecord } from './fast-record.ts';
import type { TextLayout } from './layout.ts';
import { isMissing, latin1, notANumber, parseField, POWERS_OF_TEN } from './number.ts';
import { leaseInput, recordsStop, releaseInput, wasmRecords, wasmRecordsFor } from './wasm-records.ts';

/** What a text scan reports beyond every reader's stats. */
export interface TextScanStats extends ScanStats {
  columnsSeen: number;
  locatedAt?: number;
  /** with layout.missing: missing values per column, and the records left out for holding one (skip) */
  missing?: { columns: number[]; recordsLeftOut: number };
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
): Promise<TextScanStats> {
  if (start >= end || start >= source.size) return { ...emptyStats(), columnsSeen: layout.columns, ...(layout.missing ? { missing: { columns: new Array<number>(layout.columns).fill(0), recordsLeftOut: 0 } } : {}) };
  const scan = new TextScan(source.name, layout, start, end, sink, options);
  const stats = scan.stats;
  const onProgress = options.onProgress;
  // Chunks read straight into the WebAssembly parser's input where the source can (wasm-records.ts).
  let input = leaseInput();
  try {
    // A slice after the first starts reading one byte early, to look back.
    for await (const buf of sliceThenTail(source, scan.base, end, options.signal, input)) {
      if (input !== undefined && buf.buffer !== input.buffer && buf !== FINAL_NEWLINE) {
        // The source reads into buffers of its own: the input is for other scans to copy into.
        releaseInput(input);
        input = undefined;
      }
      const done = scan.read(buf);
      if (buf !== FINAL_NEWLINE) {
        stats.bytesRead += buf.length;
        onProgress?.(buf.length);
      }
      if (done) break;
    }
  } catch (e) {
    // A failed scan still returns its row block (a slot of the exact-sum kernel's memory).
    scan.abandon();
    throw e;
  } finally {
    releaseInput(input);
  }
  return scan.finish();
}

const P10 = POWERS_OF_TEN; // a module-local copy (see number.ts)
const TWO53 = 2 ** 53;
const NL = 10;
const MAX_EXAMPLES = 5;
const MISSING_HINT = ' (--missing skip or count)';

// Byte classes of the general reader.
const K_DIGIT = 0;
const K_DOT = 1;
const K_EXP = 2;
const K_SIGN = 3;
const K_OTHER = 4; // any other token byte: sends the token to the slow path
const K_WS = 5;
const K_DELIM = 6;
const K_NL = 7;
const K_HASH = 8;
const K_QUOTE = 9; // a double quote: a quoted field (RFC 4180) runs to the closing one

function classTable(delimiter: number, crOnly: boolean): Uint8Array {
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
  if (crOnly) t[13] = K_NL;
  t[35] = K_HASH;
  t[34] = K_QUOTE;
  if (delimiter >= 0) t[delimiter] = K_DELIM;
  return t;
}

/**
 * A number token read byte by byte: up to 17 significant digits as an integer, the
 * power of ten they are scaled by, and `slow` when only its text can tell its value
 * (more digits, or anything outside [+-]digits[.digits][e[+-]digits]).
 */
class DecimalToken {
  /** byte offset of its first byte */
  start = 0;
  /** its bytes that came in earlier buffers */
  carry = '';
  neg = false;
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

  begin(c: number, k: number, at: number): void {
    this.start = at;
    this.neg = c === 45;
    this.mant = 0;
    this.nd = 0;
    this.scale = 0;
    this.sawDigit = false;
    this.sawDot = false;
    this.inExp = false;
    this.expNeg = false;
    this.expVal = 0;
    this.expDigits = 0;
    this.expSignOk = false;
    this.slow = false;
    if (k === K_DIGIT) {
      const d = c - 48;
      this.sawDigit = true;
      if (d !== 0) {
        this.mant = d;
        this.nd = 1;
      }
    } else if (k === K_DOT) this.sawDot = true;
    else if (k !== K_SIGN) this.slow = true;
  }

  /** The next byte, of class k <= K_OTHER. */
  push(c: number, k: number): void {
    if (k === K_DIGIT) {
      const d = c - 48;
      if (this.inExp) {
        if (this.expVal < 1e9) this.expVal = this.expVal * 10 + d;
        this.expDigits++;
      } else {
        this.sawDigit = true;
        if (this.nd === 0 && d === 0) {
          if (this.sawDot) this.scale--;
        } else if (this.nd < 17) {
          this.mant = this.mant * 10 + d;
          this.nd++;
          if (this.sawDot) this.scale--;
        } else this.slow = true;
      }
      this.expSignOk = false;
    } else if (k === K_DOT) {
      if (this.sawDot || this.inExp) this.slow = true;
      this.sawDot = true;
      this.expSignOk = false;
    } else if (k === K_EXP) {
      if (this.inExp || !this.sawDigit) this.slow = true;
      this.inExp = true;
      this.expSignOk = true;
    } else if (k === K_SIGN) {
      if (!this.expSignOk) this.slow = true;
      else this.expNeg = c === 45;
      this.expSignOk = false;
    } else {
      this.slow = true;
    }
  }

  /** In the grammar, with an integer mantissa below 2^53: its value is ±mant * 10^exponent. */
  get exact(): boolean {
    return !this.slow && this.sawDigit && (!this.inExp || this.expDigits > 0) && (this.nd < 16 || (this.nd === 16 && this.mant < TWO53));
  }

  get exponent(): number {
    return this.scale + (this.expNeg ? -this.expVal : this.expVal);
  }
}

/** The state of one scan of a slice, fed one buffer at a time. */
class TextScan {
  readonly stats = emptyStats();
  /** offset in the input of the next buffer's first byte */
  base: number;
  private lookBack: boolean;
  private readonly block: RowBlock;
  private readonly token = new DecimalToken();
  private locatedAt: number | undefined;

  // What the layout and options say.
  private readonly cls: Uint8Array;
  private readonly delimited: boolean;
  /** the delimiter for fastRecord, or -2 when every record takes the general reader */
  private readonly fastDelim: number;
  private readonly skipBad: boolean;
  private readonly maxRecords: number;
  private readonly locateRow: number;
  /** lines that start in [headerAt, headerEnd) are header lines, not records */
  private readonly headerAt: number;
  private readonly headerEnd: number;
  /** lines end in CR alone, or LF, or CRLF (the general reader only) */
  private readonly crOnly: boolean;
  /** 0: a missing value is a bad record; 1: its record is left out (skip); 2: it reads as NaN (count) */
  private readonly missingMode: number;
  /** missing values per column, and records left out for them, with missingMode > 0 */
  private readonly missingColumns: number[] = [];
  private recordsLeftOut = 0;
  /** columns of the current line that hold a missing value */
  private lineMissing: number[] = [];
  /** delimited, with --missing: a # that begins or continues a field is part of it */
  private readonly hashInField: boolean;

  // Line state.
  private skipping = false; // skipping to the end of the current line, which is not a record
  private inComment = false; // skipping a comment; the line may still hold a record
  private atLineStart = true;
  private lineStart: number;
  private col = 0; // values of the line stored so far
  private field = 0; // fields of the line read so far (col, plus those not selected)
  /** with layout.select: the value slot of every field, -1 for a field not read */
  private readonly slots: Int32Array | null;
  /** with layout.select: the fields a record has */
  private readonly fieldsExpected: number;
  private skipField = false; // passing over a field that is not selected
  private skipQuote = false; // ... inside its quotes
  private rowBase = 0; // where the line's values go in the block
  private expectField = true; // delimited: a field must come next (line start or after a delimiter)
  private sawDelim = false;
  private afterTok = false; // delimited: a token ended on white space; a delimiter must come next
  private inTok = false; // a token is being read, into `token`
  private inQuote = false; // inside the quotes of a quoted token: delimiters, blanks and # are its bytes
  /** records left to the JavaScript fast path before the WebAssembly one is tried again */
  private wasmHoldoff = 0;

  constructor(
    private readonly file: string,
    layout: TextLayout,
    start: number,
    private readonly end: number,
    sink: RowSink,
    options: TextScanOptions,
  ) {
    this.base = start > 0 ? start - 1 : 0;
    this.lookBack = start > 0;
    this.lineStart = start;
    this.block = new RowBlock(sink, layout.columns, end - start);
    this.crOnly = layout.newline === 13;
    this.missingMode = layout.missing === 'skip' ? 1 : layout.missing === 'count' ? 2 : 0;
    this.missingColumns = new Array<number>(layout.columns).fill(0);
    this.hashInField = this.missingMode !== 0 && layout.delimiter >= 0;
    this.cls = classTable(layout.delimiter, this.crOnly);
    this.delimited = layout.delimiter >= 0;
    this.skipBad = options.onBadRecord === 'skip';
    this.maxRecords = options.maxRecords ?? Infinity;
    this.locateRow = options.locateRow ?? -1;
    this.headerAt = layout.headerAt;
    this.headerEnd = layout.headerAt < 0 ? -1 : (layout.dataAt ?? layout.headerAt + 1);
    if (layout.select) {
      this.fieldsExpected = layout.fields ?? 0;
      this.slots = new Int32Array(this.fieldsExpected).fill(-1);
      layout.select.forEach((f, slot) => (this.slots![f] = slot));
    } else {
      this.fieldsExpected = 0;
      this.slots = null;
    }
    const fast = fastDelimiter(layout.delimiter) && this.locateRow < 0 && options.fastPath !== false && !this.crOnly && !layout.select;
    this.fastDelim = fast ? layout.delimiter : -2;
  }

  /** Reads the next buffer of the input (FINAL_NEWLINE after its end); true when the slice's records are all read. */
  read(buf: Uint8Array): boolean {
    const n = buf.length;
    const base = this.base;
    const block = this.block;
    const cls = this.cls;
    // Records that start at or before the buffer's last newline end inside it: those can
    // take the fast path. One search per buffer, from its end, instead of one per record.
    const lastNewline = buf.lastIndexOf(NL);
    let done = false;
    let i = 0;
    if (this.lookBack) {
      // The byte before the slice: unless it is a newline, the first line is an earlier slice's.
      this.lookBack = false;
      i = 1;
      if (buf[0] !== NL && !(this.crOnly && buf[0] === 13)) this.skipping = true;
    }
    while (i < n) {
      if (this.inComment) {
        const k = this.lineEnd(buf, i);
        this.inComment = k < 0;
        i = k < 0 ? n : k;
        continue;
      }
      if (this.skipping) {
        const k = this.lineEnd(buf, i);
        if (k < 0) {
          i = n;
          break;
        }
        i = k + 1;
        this.skipping = false;
        this.atLineStart = true;
        this.lineStart = base + i;
        this.col = 0;
        continue;
      }
      if (this.skipField) {
        i = this.passField(buf, i);
        continue;
      }
      if (this.atLineStart) {
        if (this.lineStart >= this.end || block.rows >= this.maxRecords) {
          done = true;
          break;
        }
        this.atLineStart = false;
        this.col = 0;
        this.field = 0;
        this.rowBase = block.count * block.columns;
        this.expectField = true;
        this.sawDelim = false;
        this.afterTok = false;
        if (this.lineMissing.length > 0) this.lineMissing = [];
        if (this.lineStart < this.headerEnd && this.lineStart >= this.headerAt) {
          this.skipping = true;
          continue;
        }
        // A UTF-8 byte order mark at offset 0 belongs to the first record and is dropped.
        if (this.lineStart === 0 && n - i >= 3 && buf[i] === 0xef && buf[i + 1] === 0xbb && buf[i + 2] === 0xbf) {
          i += 3;
          continue;
        }
        if (i <= lastNewline && this.fastDelim !== -2 && block.columns > 0) {
          i = this.plainRecords(buf, i, lastNewline);
          if (this.atLineStart) continue;
        }
      }
      const c = buf[i]!;
      const k = cls[c]!;
      if (this.inTok) {
        if (k <= K_OTHER) {
          this.token.push(c, k);
          i++;
          continue;
        }
        if (this.inQuote || k === K_QUOTE || (k === K_HASH && this.hashInField)) {
          // A quoted token is read by its text (number.ts strips the quotes); a second
          // quote pair ("") reopens the quotes as RFC 4180's escaped quote does. With
          // --missing, a # inside a field is part of it (pandas' -1.#IND, 1.#QNAN).
          if (k === K_NL) {
            this.fail(this.token.start, 'a quoted field runs past the end of its line (line breaks inside quotes are not read)');
            continue;
          }
          if (k === K_QUOTE) this.inQuote = !this.inQuote;
          this.token.slow = true;
          i++;
          continue;
        }
        this.inTok = false;
        if (!this.endToken(buf, i, k)) continue;
      }
      switch (k) {
        case K_WS:
          i++;
          break;
        case K_DELIM:
          if (this.expectField) {
            if (this.slots !== null && !(this.slots[this.field]! >= 0)) this.field++; // an empty field not read
            else if (this.missingMode === 0) {
              this.fail(base + i, `empty field${MISSING_HINT}`);
              break;
            } else if (!this.store(NaN, base + i, K_DELIM, true)) break;
          }
          this.expectField = true;
          this.afterTok = false;
          this.sawDelim = true;
          i++;
          break;
        case K_NL:
          if (this.delimited && this.expectField && this.sawDelim) {
            if (this.slots !== null && !(this.slots[this.field]! >= 0)) {
              this.field++; // an empty field not read
              this.expectField = false;
            } else if (this.missingMode !== 0 && !this.store(NaN, base + i, K_NL, true)) break;
          }
          this.endLine(base + i);
          i++;
          this.atLineStart = true;
          this.lineStart = base + i;
          break;
        case K_HASH:
          // A comment runs to the end of the line; the newline then ends the line as usual.
          if (this.delimited && this.expectField && this.sawDelim) {
            // With --missing, a # that begins a field begins pandas' #N/A or #NA; a field
            // not read may hold anything.
            if (this.missingMode === 0 && (this.slots === null || this.slots[this.field]! >= 0)) {
              this.fail(base + i, 'empty field');
              break;
            }
          } else {
            this.inComment = true;
            break;
          }
        // falls through: a token starts
        default:
          // A token starts.
          if (this.afterTok) {
            this.fail(base + i, 'missing delimiter between fields');
            break;
          }
          if (this.slots !== null && !(this.slots[this.field]! >= 0)) {
            // A field that is not selected: passed over, whatever it holds.
            this.skipField = true;
            this.skipQuote = false;
            break;
          }
          this.inTok = true;
          this.inQuote = k === K_QUOTE;
          this.token.begin(c, k, base + i);
          i++;
      }
    }
    if (this.inTok && !done) this.token.carry += latin1(buf, Math.max(0, this.token.start - base), n);
    if (buf !== FINAL_NEWLINE) this.base += n;
    return done;
  }

  /**
   * Reads records from buf[i], a line start, through fastRecord, back to back, and returns
   * where it stopped: at a line start (atLineStart set) when the next line needs the checks
   * of read() (the slice's end, maxRecords, the header line, the buffer's last newline),
   * or at a record fastRecord declined, with the line state set for the general reader.
   */
  private plainRecords(buf: Uint8Array, i: number, lastNewline: number): number {
    const block = this.block;
    const columns = block.columns;
    const delimiter = this.fastDelim;
    const base = this.base;
    const end = this.end;
    const maxRecords = this.maxRecords;
    const headerEnd = this.headerEnd;
    let lineStart = this.lineStart;
    // Runs of records in WebAssembly (wasm-records.ts) when the block lives where it writes;
    // the record it stops at, if any, goes on below.
    if (delimiter >= 0 && maxRecords === Infinity && lineStart >= headerEnd && this.wasmHoldoff === 0 && wasmRecordsFor(block.values)) {
      const stop = Math.min(lastNewline + 1, end - base);
      let taken = 0;
      for (;;) {
        const room = block.cap - block.count;
        const rows = wasmRecords(buf, i, lastNewline + 1, stop, block.values, block.count * columns, columns, delimiter, room);
        i = recordsStop[0]!;
        taken += rows;
        block.commitRows(rows);
        if (i >= stop || recordsStop[1] === 1) break; // done, or a record it does not take
      }
      lineStart = base + i;
      if (i > lastNewline || lineStart >= end) {
        this.lineStart = lineStart;
        this.atLineStart = true;
        return i;
      }
      // A record it does not take: after a short run, leave the next records to JavaScript
      // for a while, so that a file of such records does not pay for two parsers each.
      if (taken < 8) this.wasmHoldoff = 64;
    }
    for (;;) {
      const rowBase = block.count * columns;
      const next = fastRecord(buf, i, block.values, rowBase, columns, delimiter);
      if (next < 0) {
        this.lineStart = lineStart;
        this.rowBase = rowBase;
        return i;
      }
      block.commit();
      i = next;
      lineStart = base + i;
      if (this.wasmHoldoff > 0 && --this.wasmHoldoff === 0) {
        this.lineStart = lineStart;
        this.atLineStart = true;
        return i;
      }
      // (A slice that starts before the header's end stops at every line until past it.)
      if (i > lastNewline || lineStart >= end || block.rows >= maxRecords || lineStart < headerEnd) {
        this.lineStart = lineStart;
        this.atLineStart = true;
        return i;
      }
    }
  }

  /**
   * Passes over the bytes of a field that is not selected, from buf[i]: up to the
   * delimiter (or blank) or line end that ends it, outside quotes. Returns where it stopped.
   */
  private passField(buf: Uint8Array, i: number): number {
    const cls = this.cls;
    const n = buf.length;
    for (; i < n; i++) {
      const k = cls[buf[i]!]!;
      if (k === K_QUOTE) this.skipQuote = !this.skipQuote;
      else if (k === K_NL) {
        if (this.skipQuote) {
          this.fail(this.base + i, 'a quoted field runs past the end of its line (line breaks inside quotes are not read)');
          return i;
        }
        break;
      } else if (!this.skipQuote && (this.delimited ? k === K_DELIM : k === K_WS)) break;
    }
    if (i < n) {
      // The field ends here; its terminator is read as after any field.
      this.skipField = false;
      this.field++;
      if (this.delimited) {
        this.expectField = false;
        this.afterTok = false;
      }
    }
    return i;
  }

  /** The first line end at or after buf[i], or -1. */
  private lineEnd(buf: Uint8Array, i: number): number {
    if (!this.crOnly) return buf.indexOf(NL, i);
    for (const n = buf.length; i < n; i++) if (buf[i] === NL || buf[i] === 13) return i;
    return -1;
  }

  /** The scan failed: its row block may serve the next scan. */
  abandon(): void {
    this.block.release();
  }

  /** The stats, once the last buffer is read. */
  finish(): TextScanStats {
    const block = this.block;
    block.flush();
    block.release();
    this.stats.rows = block.rows;
    const locatedAt = this.locatedAt;
    const missing = this.missingMode === 0 ? undefined : { columns: Array.from({ length: block.columns }, (_, c) => this.missingColumns[c] ?? 0), recordsLeftOut: this.recordsLeftOut };
    return { ...this.stats, columnsSeen: block.columns, ...(locatedAt === undefined ? {} : { locatedAt }), ...(missing ? { missing } : {}) };
  }

  /** The token ended at buf[i], a byte of class k: its value goes to the row, or the line is bad (false). */
  private endToken(buf: Uint8Array, i: number, k: number): boolean {
    const t = this.token;
    let v: number;
    if (t.exact) {
      const mant = t.mant;
      const e10 = t.exponent;
      if (e10 === 0) v = t.neg ? -mant : mant;
      else if (e10 > 0 && e10 <= 22) v = t.neg ? -(mant * P10[e10]!) : mant * P10[e10]!;
      else if (e10 < 0 && e10 >= -22) v = t.neg ? -(mant / P10[-e10]!) : mant / P10[-e10]!;
      else v = Number(t.carry + latin1(buf, Math.max(0, t.start - this.base), i)); // the text keeps its sign
    } else {
      const text = t.carry + latin1(buf, Math.max(0, t.start - this.base), i);
      const parsed = parseField(text);
      // By default nan is a number (NaN, as numpy reads it); with --missing it is missing, as in pandas.
      if ((parsed === undefined || (parsed !== parsed && this.missingMode !== 0)) && isMissing(text)) {
        t.carry = '';
        if (this.missingMode === 0) {
          this.fail(t.start, `a missing value: ${JSON.stringify(text)}${MISSING_HINT}`);
          return false;
        }
        return this.store(NaN, t.start, k, true);
      }
      if (parsed === undefined) {
        this.fail(t.start, notANumber(text));
        return false;
      }
      v = parsed;
    }
    t.carry = '';
    return this.store(v, t.start, k, false);
  }

  /** The value of the next field, at `at`, ended by a byte of class k; false when the line turned out bad. */
  private store(v: number, at: number, k: number, missing: boolean): boolean {
    const block = this.block;
    if (this.col >= block.columns) {
      if (block.columns !== 0) {
        this.fail(at, `more than ${block.columns} fields`);
        return false;
      }
      block.makeRoom(this.col);
    }
    const slot = this.slots === null ? this.col : this.slots[this.field]!;
    if (missing) this.lineMissing.push(slot);
    block.values[this.rowBase + slot] = v;
    this.col++;
    this.field++;
    if (this.delimited) {
      this.expectField = false;
      this.afterTok = k === K_WS;
    }
    return true;
  }

  /** The line ends at `at`: its row is committed, if it has one. */
  private endLine(at: number): void {
    if (this.field === 0 && !this.sawDelim) return; // blank or comment line: not a record
    if (this.delimited && this.expectField) {
      this.fail(at, `empty field at the end of the line${MISSING_HINT}`, false);
      return;
    }
    const block = this.block;
    if (this.slots !== null) {
      if (this.field !== this.fieldsExpected) {
        this.fail(this.lineStart, `expected ${this.fieldsExpected} fields, found ${this.field}`, false);
        return;
      }
    } else if (block.columns === 0) block.learned(this.col);
    else if (this.col !== block.columns) {
      this.fail(this.lineStart, `expected ${block.columns} fields, found ${this.col}`, false);
      return;
    }
    const lineMissing = this.lineMissing;
    if (lineMissing.length > 0) {
      const counts = this.missingColumns;
      for (const c of lineMissing) counts[c] = (counts[c] ?? 0) + 1;
      if (this.missingMode === 1) {
        this.recordsLeftOut++;
        return;
      }
    }
    if (block.rows === this.locateRow) this.locatedAt = this.lineStart;
    block.commit();
  }

  /** A bad record: thrown, or under onBadRecord 'skip' counted, and its row dropped (and the rest of its line ignored). */
  private fail(offset: number, problem: string, restOfLine = true): void {
    if (!this.skipBad) throw new InputError(this.file, offset, problem);
    const stats = this.stats;
    stats.skipped++;
    if (stats.skippedExamples.length < MAX_EXAMPLES) stats.skippedExamples.push({ offset, problem });
    this.inTok = false;
    this.inQuote = false;
    this.skipField = false;
    this.token.carry = '';
    this.col = 0;
    this.field = 0;
    this.skipping = restOfLine;
  }
}
