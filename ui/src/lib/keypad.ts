// The code keypad's input model, separate from the DOM so it can be unit tested: a fixed
// length, digits only, backspace, and a "complete" signal at full length.

/** Splits digits into groups of 3 or 4, like `group_digits` in crates/protocol (7 → 3+4). */
export function groupSizes(n: number): number[] {
  if (n <= 4) return [n];
  if (n === 5) return [2, 3];
  if (n === 6) return [3, 3];
  if (n === 7) return [3, 4];
  if (n === 8) return [4, 4];
  const sizes = new Array<number>(Math.floor(n / 3)).fill(3);
  if (n % 3 === 1) sizes[sizes.length - 1] = 4;
  if (n % 3 === 2) sizes.push(2);
  return sizes;
}

/** The digits (or blanks) in display groups: `['123', '4567']`, padded with `pad`. */
export function groupDigits(digits: string, length: number, pad = ''): string[] {
  const out: string[] = [];
  let at = 0;
  for (const size of groupSizes(length)) {
    let group = '';
    for (let i = 0; i < size; i++, at++) group += digits[at] ?? pad;
    out.push(group);
  }
  return out;
}

export class KeypadInput {
  private value = '';
  constructor(readonly length: number) {
    if (!Number.isInteger(length) || length < 1) throw new RangeError('code length must be ≥ 1');
  }

  get digits(): string {
    return this.value;
  }

  get complete(): boolean {
    return this.value.length === this.length;
  }

  /** Adds one digit; returns false (and changes nothing) when full or not a digit. */
  press(digit: string): boolean {
    if (!/^[0-9]$/.test(digit) || this.complete) return false;
    this.value += digit;
    return true;
  }

  /** Removes the last digit; returns false when already empty. */
  backspace(): boolean {
    if (this.value === '') return false;
    this.value = this.value.slice(0, -1);
    return true;
  }

  clear(): void {
    this.value = '';
  }

  /**
   * Replaces the value with the digits found in free text (a paste, an OS one-time-code
   * suggestion, a hardware keyboard): spaces and dashes dropped, cut at the code length.
   */
  setFromText(text: string): void {
    this.value = text.replace(/[^0-9]/g, '').slice(0, this.length);
  }
}
