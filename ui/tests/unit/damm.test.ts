import { describe, expect, it } from 'vitest';
import { dammCheckDigit, dammIsValid } from '../../src/lib/damm';

/** A small deterministic generator so the sweep is reproducible. */
function* codes(count: number, length: number): Generator<string> {
  let x = 0x2545f491;
  for (let i = 0; i < count; i++) {
    let s = '';
    for (let j = 0; j < length; j++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      s += String((x >>> 0) % 10);
    }
    yield s;
  }
}

describe('damm check digit', () => {
  // Agreement with the Rust table is tests/unit/contract.test.ts; these are Damm's properties.
  it('gives 572 the check digit 4 like the rust crate', () => {
    expect(dammCheckDigit('572')).toBe(4);
    expect(dammIsValid('5724')).toBe(true);
  });

  it('catches every single wrong digit in a valid code', () => {
    for (const digits of codes(60, 6)) {
      const code = digits + String(dammCheckDigit(digits));
      for (let i = 0; i < code.length; i++) {
        for (let d = 0; d < 10; d++) {
          if (String(d) === code[i]) continue;
          const typo = code.slice(0, i) + String(d) + code.slice(i + 1);
          expect(dammIsValid(typo)).toBe(false);
        }
      }
    }
  });

  it('catches every swap of two different neighbouring digits', () => {
    for (const digits of codes(60, 6)) {
      const code = digits + String(dammCheckDigit(digits));
      for (let i = 0; i + 1 < code.length; i++) {
        if (code[i] === code[i + 1]) continue;
        const swapped = code.slice(0, i) + code[i + 1] + code[i] + code.slice(i + 2);
        expect(dammIsValid(swapped)).toBe(false);
      }
    }
  });

  it('rejects anything that is not only digits', () => {
    expect(dammIsValid('')).toBe(false);
    expect(dammIsValid('57 24')).toBe(false);
    expect(() => dammCheckDigit('5a')).toThrow(RangeError);
  });
});
