import { describe, expect, it } from 'vitest';
import { groupDigits, groupSizes, KeypadInput } from '../../src/lib/keypad';

describe('keypad input', () => {
  it('takes digits up to the code length and then reports complete', () => {
    const k = new KeypadInput(4);
    for (const d of '1234') expect(k.press(d)).toBe(true);
    expect(k.complete).toBe(true);
    expect(k.press('5')).toBe(false);
    expect(k.digits).toBe('1234');
  });

  it('ignores keys that are not single digits', () => {
    const k = new KeypadInput(7);
    expect(k.press('a')).toBe(false);
    expect(k.press('12')).toBe(false);
    expect(k.press('')).toBe(false);
    expect(k.digits).toBe('');
  });

  it('removes the last digit on backspace and does nothing when empty', () => {
    const k = new KeypadInput(7);
    k.press('9');
    k.press('8');
    expect(k.backspace()).toBe(true);
    expect(k.digits).toBe('9');
    expect(k.backspace()).toBe(true);
    expect(k.backspace()).toBe(false);
    expect(k.digits).toBe('');
  });

  it('takes a pasted or autofilled code with spaces and dashes, cut at the length', () => {
    const k = new KeypadInput(7);
    k.setFromText(' 482-913 57 99');
    expect(k.digits).toBe('4829135');
    expect(k.complete).toBe(true);
  });

  it('refuses a length below one', () => {
    expect(() => new KeypadInput(0)).toThrow(RangeError);
  });
});

describe('digit grouping', () => {
  it('groups like the rust group_digits function', () => {
    expect(groupDigits('1234567', 7)).toEqual(['123', '4567']);
    expect(groupDigits('12345678', 8)).toEqual(['1234', '5678']);
    expect(groupDigits('1234567890', 10)).toEqual(['123', '456', '7890']);
    expect(groupDigits('12345', 5)).toEqual(['12', '345']);
  });

  it('pads the groups of a partly typed code', () => {
    expect(groupDigits('12', 7, '_')).toEqual(['12_', '____']);
  });

  it('always covers exactly the code length with groups of two to four', () => {
    for (let n = 5; n <= 13; n++) {
      const sizes = groupSizes(n);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(n);
      for (const s of sizes) expect(s >= 2 && s <= 4).toBe(true);
    }
  });
});
