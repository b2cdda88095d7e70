/**
 * The text reader's fast path: a plain record parsed in one tight loop with all its state
 * in locals (V8 keeps them in registers), calling out only for 16-19 digit decimals
 * (number.ts). scanText (scan.ts) tries it on every record that ends in the buffer at
 * hand, and reads whatever it declines with its general reader.
 */
import { decimalInto, MANTISSA_SLOTS, POWERS_OF_TEN } from './number.ts';

// Module-local copies: an imported binding is read through its cell on every use (number.ts).
const P10 = POWERS_OF_TEN;
const MANTISSA = MANTISSA_SLOTS;
const NL = 10;

/**
 * Parses one whole record that starts at buf[i] when it is plain (exactly
 * `columns` decimal numbers, one delimiter between them, or runs of spaces and tabs when
 * delimiter < 0, ended by LF or CRLF). The caller guarantees a newline at or after buf[i]
 * in this buffer. Writes its values to out[at..at+columns) and returns the index after the
 * newline, or -1 for anything else (the general reader then reads the record from its
 * start, so both always agree).
 */
export function fastRecord(buf: Uint8Array, i: number, out: Float64Array, at: number, columns: number, delimiter: number): number {
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
      out[at + col] = (m1 / P10[0 - e10]!) * (minus | 1); // 0 - e10, not -e10: -0 is no array index (V8 takes a slow path)
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
export function fastDelimiter(delimiter: number): boolean {
  if (delimiter < 0) return true;
  return !(delimiter >= 48 && delimiter <= 57) && ![46, 101, 69, 43, 45, 35, 13, NL].includes(delimiter);
}
