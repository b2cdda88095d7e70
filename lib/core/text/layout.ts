/**
 * How a text input is laid out: its delimiter, its header line, its column count. The
 * planner detects the first two from the head of the file (textLayout) and learns the
 * column count by reading the first record (scanText with maxRecords 1).
 */
import { InputError, UsageError } from '../errors.ts';
import { isMissing, parseField } from './number.ts';

export interface TextLayout {
  kind: 'text';
  /** Delimiter byte (44 for comma, 9 for tab, ...) or -1 for runs of spaces and tabs. */
  delimiter: number;
  /** Fields per record; 0 while learning it from the first record. */
  columns: number;
  /** Byte offset of a header line to skip, or -1. */
  headerAt: number;
  /** With more than one header line: the first data line's offset; lines before it are not records. */
  dataAt?: number;
  /** The fields of the (first) header line. */
  header?: string[];

  /**
   * 13: lines end in CR alone (old Mac files), and CR, LF and CRLF all end a line; absent:
   * lines end in LF or CRLF (the only kind the fast path reads).
   */
  newline?: 13;
  /** The fields (0-based) read, in the order of the values they give; absent: every field. */
  select?: number[];
  /** With select: the fields a record has. */
  fields?: number;
  /** --missing skip or count (absent: fail, a missing value is a bad record) */
  missing?: 'skip' | 'count';
}

export interface TextLayoutOptions {
  /** "," "\t" ";" ..., "whitespace", or undefined to detect */
  delimiter?: string;
  /** header lines to skip (true: 1); undefined or false: a header line is detected */
  skipHeader?: boolean | number;
  missing?: 'fail' | 'skip' | 'count';
  /** the fields to read, by 0-based index or header name: "0,2" or "x,y"; undefined: every numeric field */
  columns?: string;
}

const DELIMITERS: Record<string, number> = { ',': 44, comma: 44, '\t': 9, '\\t': 9, tab: 9, ';': 59, '|': 124, pipe: 124 };

/**
 * The layout of a text input of `size` bytes from its first bytes (`head`, up to 64 KiB),
 * with columns 0.
 *
 * Header: `opts.skipHeader` lines (comments and blank lines aside) when it says; else the
 * first line is a header when none of its fields is a number, one holds a letter (not a
 * number's e), and the
 * line after it holds numbers (a first line with some numbers is a bad record).
 * Delimiter: unless `opts.delimiter` says, detected from the first data line (the line
 * after the header): comma, then tab, then semicolon when the line holds no space, then
 * |, else runs of white space.
 */
export function textLayout(name: string, head: Uint8Array, size: number, opts: TextLayoutOptions): TextLayout {
  refuseWideUnicode(name, head);
  const cr = crOnly(head);
  const given = givenDelimiter(opts.delimiter);
  const missing = opts.missing === 'skip' || opts.missing === 'count' ? opts.missing : undefined;
  const lines = firstLines(head, cr, typeof opts.skipHeader === 'number' ? opts.skipHeader + 2 : 3, head.length >= size);
  const skip = opts.skipHeader === true ? 1 : typeof opts.skipHeader === 'number' ? opts.skipHeader : undefined;
  let headerLines: number;
  if (skip !== undefined) {
    if (skip > 0 && lines.length < skip && lines.length > 0 && head.length < size) {
      throw new InputError(name, head.length, `--skip-header ${skip}: ${lines.length} line${lines.length === 1 ? '' : 's'} (comments and blank lines aside) before this byte, where reading the header stops`);
    }
    // The whole file is in the head and holds fewer lines than asked to skip: a wrong N (or
    // the wrong file) would otherwise be a result of 0 records that exits 0. A file with no
    // line at all (empty, or comments only) gives its 0 records with or without the option.
    if (skip > lines.length && lines.length > 0 && head.length >= size) {
      throw new InputError(name, size, `--skip-header ${skip} skips past the end of the file, which has ${lines.length} line${lines.length === 1 ? '' : 's'} (comments and blank lines aside)`);
    }
    headerLines = Math.min(skip, lines.length);
  } else {
    // A header is a first line none of whose fields is a number, followed by one that
    // holds numbers (a first line with some numbers is a bad record, not a header). The
    // second line may hold text columns (species, dates) and missing values beside its
    // numbers: the scan reports those it cannot read, with their byte offset.
    // A name holds a letter other than a number's e: a first line of "-", "." or "1+0.0e0"
    // is a damaged record, to be reported, not a header to drop.
    const fields = (l: Line) => fieldsOf(head, l, given ?? detectDelimiter(head, l), missing !== undefined);
    const first = lines.length >= 2 ? fields(lines[0]!) : [];
    headerLines =
      lines.length >= 2 && first.every((f) => parseField(f) === undefined) && first.some((f) => /(?![eE])\p{L}/u.test(f)) && fields(lines[1]!).some((f) => parseField(f) !== undefined) ? 1 : 0;
  }
  const data = lines[headerLines];
  const delimiter = given ?? (data ? detectDelimiter(head, data) : lines[0] ? detectDelimiter(head, lines[0]) : -1);
  const header = headerLines > 0 ? fieldsOf(head, lines[0]!, given ?? detectDelimiter(head, lines[0]!)).map(unquote) : undefined;
  const whole = (l: Line | undefined) => l !== undefined && (l.end < head.length || head.length >= size);
  const dataFields = whole(data) ? fieldsOf(head, data!, delimiter, missing !== undefined) : undefined;
  // A column is text when the first two data lines both hold text there (one alone may be a bad record).
  const next = lines[headerLines + 1];
  const nextFields = whole(next) ? fieldsOf(head, next!, delimiter, missing !== undefined) : undefined;
  const select = selectFields(opts.columns, header, dataFields, nextFields, missing !== undefined);
  return {
    kind: 'text',
    delimiter,
    columns: select ? select.length : 0,
    ...(select ? { select, fields: dataFields!.length } : {}),
    headerAt: headerLines > 0 ? lines[0]!.start : -1,
    // Lines before the first data line are not records; one header line needs no more than headerAt.
    ...(headerLines > 1 ? { dataAt: data ? data.start : lines[headerLines - 1]!.end + 1 } : {}),
    ...(header ? { header } : {}),
    ...(cr ? { newline: 13 as const } : {}),
    ...(missing ? { missing } : {}),
  };
}

/** A line of the head: it starts at `start`, its text is [from, end) (without a byte order mark and its line end). */
interface Line {
  start: number;
  from: number;
  end: number;
}

/** The first `count` lines of the head that are not blank or comments (a UTF-8 BOM dropped). */
function firstLines(head: Uint8Array, cr: boolean, count: number, whole: boolean): Line[] {
  const lines: Line[] = [];
  for (let at = 0; at < head.length && lines.length < count; ) {
    const nl = lineEnd(head, at, cr);
    // A line the head cuts short is only good for detecting the delimiter of the first.
    if (nl === head.length && !whole && lines.length > 0) break;
    let i = at === 0 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : at;
    const start = i;
    while (i < nl && (head[i] === 32 || head[i] === 9 || head[i] === 13)) i++;
    if (i < nl && head[i] !== 35) lines.push({ start: at, from: start, end: nl > start && head[nl - 1] === 13 ? nl - 1 : nl });
    at = nl + 1;
  }
  return lines;
}

function detectDelimiter(head: Uint8Array, l: Line): number {
  const line = head.subarray(l.from, l.end);
  return line.includes(44) ? 44 : line.includes(9) ? 9 : line.includes(59) && !line.includes(32) ? 59 : line.includes(124) ? 124 : -1;
}

function givenDelimiter(d: string | undefined): number | undefined {
  if (d === undefined || d === 'auto') return undefined;
  if (d === 'whitespace' || d === ' ') return -1;
  const byte = DELIMITERS[d] ?? (d.length === 1 ? d.charCodeAt(0) : undefined);
  if (byte === undefined || byte > 127 || /[0-9.eE+\-#\n\r"]/.test(String.fromCharCode(byte))) {
    throw new UsageError(`--delimiter ${JSON.stringify(d)}: use one ASCII character (not a digit, sign, dot, quote or #), "tab" or "whitespace"`);
  }
  return byte;
}

const UTF8 = new TextDecoder();

/** The fields of a line: split at the delimiter outside quotes (or at runs of blanks), trimmed. */
function fieldsOf(head: Uint8Array, l: Line, delimiter: number, hashInField = false): string[] {
  // UTF-8 (header names need not be ASCII); every delimiter is ASCII, so it splits alike.
  const text = UTF8.decode(head.subarray(l.from, l.end));
  // A comment after the fields is not a field.
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    // An unquoted # begins a comment at a field's start or after a blank; glued to text
    // it is part of it (C#), and so with --missing in a delimited file (-1.#IND).
    if (!quoted && ch === '#' && !(hashInField && delimiter >= 0) && (field.trim() === '' || /\s$/.test(field))) break;
    if (!quoted && (delimiter < 0 ? ch === ' ' || ch === '\t' : ch.charCodeAt(0) === delimiter)) {
      if (delimiter >= 0 || field !== '') fields.push(field.trim());
      field = '';
    } else field += ch;
  }
  if (delimiter >= 0 || field.trim() !== '') fields.push(field.trim());
  return fields;
}

/**
 * The fields read: those --columns names, or else, when the first two data lines hold
 * text (a species, a row name) in some fields beside numbers, or nothing in a column
 * without a header name, the others; undefined: all.
 */
function selectFields(columns: string | undefined, header: string[] | undefined, data: string[] | undefined, next: string[] | undefined, missingOk: boolean): number[] | undefined {
  if (columns === undefined || columns === '') {
    if (!data) return undefined;
    // Text, or empty in both lines (the column after a delimiter that ends every line).
    // Text in both lines; or nothing in both, in a column without a name (after a
    // delimiter that ends every line): a named column that starts empty is data.
    const unnamed = (i: number) => !header?.[i];
    const text = (f: string | undefined, i: number) => f !== undefined && ((isTextField(f) && !(missingOk && isMissing(f))) || (f === '' && unnamed(i)));
    const numeric = data.flatMap((f, i) => (text(f, i) && (next === undefined ? f !== '' : text(next[i], i)) ? [] : [i]));
    return numeric.length > 0 && numeric.length < data.length ? numeric : undefined;
  }
  if (!data) throw new UsageError('--columns: the first data line is not in the first 64 KiB of the input');
  const select = columns.split(',').map((name) => {
    const t = name.trim();
    const byName = header ? header.indexOf(t) : -1;
    const index = byName >= 0 ? byName : /^\d+$/.test(t) ? Number(t) : -1;
    if (index < 0 || index >= data.length) {
      const known = header ? `the header names ${header.map((h) => JSON.stringify(h)).join(', ')}, or` : 'no header names:';
      throw new UsageError(`--columns ${JSON.stringify(columns)}: no column ${JSON.stringify(t)}: the input has ${known} indices 0 to ${data.length - 1}`);
    }
    return index;
  });
  if (new Set(select).size !== select.length) throw new UsageError(`--columns ${JSON.stringify(columns)}: a column is named twice`);
  return select;
}

// Dates and times: 2020-01-31, 31/01/2020, 19-Sep-03, 2020-01-31T12:00:00Z, 12:30:05.
const DATE_OR_TIME = /^(\d{1,4}([-/.])(\d{1,2}|[A-Za-z]{3,9})\2\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?|\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)$/;

/** A text field, not a bad number: it does not begin as a number does (a digit, a sign, a dot) or is a date or time, and is no number. */
function isTextField(f: string): boolean {
  const t = unquote(f);
  return t !== '' && parseField(t) === undefined && (!/^[+-]?\.?\d/.test(t) || DATE_OR_TIME.test(t));
}

function unquote(f: string): string {
  return f.length >= 2 && f.startsWith('"') && f.endsWith('"') ? f.slice(1, -1).replace(/""/g, '"').trim() : f;
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
