// The Damm check digit: the UI's one copy of the table in crates/protocol/src/code.rs, held to
// it by tests/unit/contract.test.ts (through the fixture a Rust test writes). The keypad uses it
// to catch a typo or two swapped neighbouring digits the moment the last digit is typed, before
// anything is sent. It reveals nothing about the real code: it is a function of what was typed.

const DAMM: readonly (readonly number[])[] = [
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

/** The Damm interim digit of a string of digits; appending it makes the string check to 0. */
export function dammCheckDigit(digits: string): number {
  let interim = 0;
  for (const ch of digits) {
    const d = ch.charCodeAt(0) - 48;
    if (d < 0 || d > 9) throw new RangeError('dammCheckDigit takes digits only');
    interim = DAMM[interim]![d]!;
  }
  return interim;
}

/** Whether a code (check digit included) passes the Damm check. Non-digits fail. */
export function dammIsValid(code: string): boolean {
  return /^[0-9]+$/.test(code) && dammCheckDigit(code) === 0;
}
