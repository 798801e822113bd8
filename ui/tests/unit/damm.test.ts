import { describe, expect, it } from 'vitest';
import { dammCheckDigit, dammIsValid } from '../../src/lib/damm';

// The same table as crates/protocol/src/code.rs, copied here so a drift between the two is a
// failing test, not a silent disagreement between the keypad and the server.
const RUST_TABLE = [
  [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
  [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
  [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
  [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
  [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
  [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
  [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
  [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
  [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
  [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

function rustCheckDigit(digits: string): number {
  return [...digits].reduce((interim, ch) => RUST_TABLE[interim]![Number(ch)]!, 0);
}

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
  it('gives 572 the check digit 4 like the rust crate', () => {
    expect(dammCheckDigit('572')).toBe(4);
    expect(dammIsValid('5724')).toBe(true);
  });

  it('uses exactly the table of the rust protocol crate for every single step', () => {
    for (let a = 0; a < 10; a++) {
      for (let b = 0; b < 10; b++) {
        expect(dammCheckDigit(`${a}${b}`)).toBe(RUST_TABLE[RUST_TABLE[0]![a]!]![b]);
      }
    }
  });

  it('agrees with the rust table on a sweep of generated codes', () => {
    for (const digits of codes(500, 6)) {
      expect(dammCheckDigit(digits)).toBe(rustCheckDigit(digits));
      expect(dammIsValid(digits + String(rustCheckDigit(digits)))).toBe(true);
    }
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
