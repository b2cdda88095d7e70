/** Decimal tokens for property tests of the text reader's number conversion (test/core/text/). */
import fc from 'fast-check';

/** A decimal token: optional sign, 1..25 digits around an optional dot, optional exponent. */
export const decimalToken = fc
  .record({
    sign: fc.constantFrom('', '-', '+'),
    digits: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 25 }).map((d) => d.join('')),
    dot: fc.integer({ min: -1, max: 25 }),
    exp: fc.option(fc.record({ e: fc.constantFrom('e', 'E'), sign: fc.constantFrom('', '-', '+'), value: fc.integer({ min: 0, max: 340 }) }), { nil: undefined }),
  })
  .map(({ sign, digits, dot, exp }) => {
    const body = dot < 0 || dot > digits.length ? digits : `${digits.slice(0, dot)}.${digits.slice(dot)}`;
    return `${sign}${body === '.' ? '0' : body}${exp ? `${exp.e}${exp.sign}${exp.value}` : ''}`;
  });
