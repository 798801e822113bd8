// The UI's copies of the IPC contract held to the one a Rust test writes from the Rust sources
// (crates/courier/tests/courier/contract.rs → ui/tests/fixtures/contract.json; see docs/ipc.md).
// When this fails after a Rust change, follow the Rust side here; never edit the fixture by hand.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { APP_ERROR_CODES, REJECT_CODES } from '../../src/lib/codes';
import { dammCheckDigit, dammIsValid } from '../../src/lib/damm';
import { en } from '../../src/i18n/en';
import { es } from '../../src/i18n/es';

type Contract = {
  error_codes: string[];
  /** The server's closed reasons for refusing a record (QueueItem.reject_code). */
  reject_codes: string[];
  damm: {
    table: number[][];
    samples: { body: string; check_digit: number; code: string }[];
  };
};

// A path, not `new URL(...)`: the DOM test environment replaces the global URL.
const fixture = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/contract.json');
const contract = JSON.parse(readFileSync(fixture, 'utf8')) as Contract;

describe('the IPC contract with the Rust core', () => {
  it('lists exactly the error codes of the rust enum', () => {
    expect([...APP_ERROR_CODES].sort()).toEqual([...contract.error_codes].sort());
    expect(new Set(APP_ERROR_CODES).size).toBe(APP_ERROR_CODES.length);
  });

  it('has an english and a spanish sentence for every error code', () => {
    for (const code of contract.error_codes) {
      const key = `error.${code}`;
      expect(Object.keys(en), key).toContain(key);
      expect(Object.keys(es), key).toContain(key);
    }
  });

  it('lists exactly the reject codes of the rust protocol crate, in its order', () => {
    expect(contract.reject_codes.length).toBeGreaterThan(0);
    expect([...REJECT_CODES]).toEqual(contract.reject_codes);
  });

  it('tells the courier in english and in spanish what to do about every reject code', () => {
    for (const code of contract.reject_codes) {
      const key = `reject.${code}`;
      expect(Object.keys(en), key).toContain(key);
      expect(Object.keys(es), key).toContain(key);
    }
    // No text for a code the server does not send.
    const keys = (table: object) => Object.keys(table).filter((k) => k.startsWith('reject.')).sort();
    const expected = contract.reject_codes.map((c) => `reject.${c}`).sort();
    expect(keys(en)).toEqual(expected);
    expect(keys(es)).toEqual(expected);
  });

  it('uses the damm table of the rust protocol crate in every cell', () => {
    const table = contract.damm.table;
    expect(table).toHaveLength(10);
    // The check digit of `ab` is table[table[0][a]][b], and row 0 is a permutation, so the 100
    // two-digit bodies reach every cell.
    for (let a = 0; a < 10; a++) {
      for (let b = 0; b < 10; b++) {
        expect(dammCheckDigit(`${a}${b}`), `${a}${b}`).toBe(table[table[0]![a]!]![b]);
      }
    }
  });

  it('gives every sample body the check digit the rust crate gives it', () => {
    expect(contract.damm.samples.length).toBeGreaterThan(0);
    for (const { body, check_digit, code } of contract.damm.samples) {
      expect(dammCheckDigit(body), body).toBe(check_digit);
      expect(dammIsValid(code), code).toBe(true);
    }
  });
});
