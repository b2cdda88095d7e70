/**
 * Decimal tokens to doubles, exactly: a token gives the double Number(token) gives, but
 * only the grammar [+-]digits[.digits][e[+-]digits] and nan/inf/infinity is a number;
 * anything else (an empty field, "12abc", "1,000" in a whitespace file, a lone "-") is
 * not (parseToken says undefined, the reader reports the record).
 *
 * The readers keep the conversion cheap: an integer mantissa below 2^53 times or over
 * an exact power of ten (up to 1e22) is correctly rounded in one multiply or divide
 * (Clinger's fast path, P10); decimals of up to 19 significant digits go through
 * decimalInto (double-double arithmetic, rounded once when provably right); everything
 * else goes through the text (parseToken, Number()).
 */
import { splitProductError } from '../exact-sum.ts';

// What hot code reads is held in module-local consts; the modules that share them import
// them under a second name and copy them into consts of their own (see POWERS_OF_TEN).
// V8 keeps an exported or imported binding in a cell, read again on every use in a loop:
// about 2 % of the reader's time on CSV, measured.
const P10 = new Float64Array(Array.from({ length: 23 }, (_, i) => 10 ** i));
const TWO53 = 2 ** 53;

/** 10^0 .. 10^22, the powers of ten a double holds exactly: copy it into a module-local const to use it in a loop. */
export const POWERS_OF_TEN = P10;

// Powers of ten as double-double: 10^j = PH[j + DD_MAX] + PL[j + DD_MAX], to about 2^-105
// relative. The range keeps every intermediate of decimalToDouble() normal and finite.
// Filled on the first decimal that needs them (fillPowers): their BigInt arithmetic
// costs 2-5 ms at every start of a process or worker thread, and text whose numbers
// take Clinger's fast path (up to 15 digits, |exponent| up to 22) never reads them.
const DD_MAX = 280;
const PH = new Float64Array(2 * DD_MAX + 1);
const PL = new Float64Array(2 * DD_MAX + 1);
let powersFilled = false;
function fillPowers(): void {
  powersFilled = true;
  for (let j = -DD_MAX; j <= DD_MAX; j++) fillPower(j);
}
function fillPower(j: number): void {
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

// decimalInto's mantissas m1 and m2 travel through here, not as arguments: V8 boxes a
// double passed to a call it does not inline (a heap number per token: about a gigabyte
// of garbage per 300 MB of 19-digit CSV), and stores to a typed array stay unboxed.
const MANTISSA = new Float64Array(2);

/** decimalInto's input: m1 in [0], m2 in [1] (copy it into a module-local const, as POWERS_OF_TEN). */
export const MANTISSA_SLOTS = MANTISSA;

/**
 * decimalToDouble() of the mantissas in MANTISSA_SLOTS, negated when `neg`, stored to
 * out[index]; false when it declines. Storing instead of returning keeps the double
 * unboxed when V8 does not inline this.
 */
export function decimalInto(k: number, e10: number, neg: boolean, out: Float64Array, index: number): boolean {
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
  if (!powersFilled) fillPowers();
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

/**
 * parseToken of a field's text, with RFC 4180 quotes: "345" is 345; blanks inside the
 * quotes are dropped as Python's float() drops them; undefined for anything else.
 */
export function parseField(text: string): number | undefined {
  if (text.charCodeAt(0) !== 34) return parseToken(text);
  if (text.length < 2 || text.charCodeAt(text.length - 1) !== 34) return undefined;
  const inner = text.slice(1, -1).trim();
  return inner.includes('"') ? undefined : parseToken(inner);
}

/**
 * The spellings pandas' read_csv reads as missing by default (its na_values defaults, 2.x),
 * and the empty field. `#N/A N/A` is one of them, and is read only when quoted (a blank
 * ends an unquoted field).
 */
export const MISSING_SPELLINGS: readonly string[] = ['', '#N/A', '#N/A N/A', '#NA', '-1.#IND', '-1.#QNAN', '-NaN', '-nan', '1.#IND', '1.#QNAN', '<NA>', 'N/A', 'NA', 'NULL', 'NaN', 'None', 'n/a', 'nan', 'null'];
const MISSING = new Set(MISSING_SPELLINGS);

/** A field's text (quoted or not) is one of pandas' missing spellings. */
export function isMissing(text: string): boolean {
  if (text.charCodeAt(0) === 34 && text.length >= 2 && text.charCodeAt(text.length - 1) === 34) return MISSING.has(text.slice(1, -1).trim());
  return MISSING.has(text);
}

/** The text of a token's bytes (ASCII, so one character a byte). */
export function latin1(bytes: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** The problem reported for a token outside the grammar, the token shortened to 40 characters. */
export function notANumber(token: string): string {
  const t = token.length > 40 ? `${token.slice(0, 40)}...` : token;
  return `not a number: ${JSON.stringify(t)}`;
}
