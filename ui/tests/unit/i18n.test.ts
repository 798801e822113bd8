import { afterEach, describe, expect, it } from 'vitest';
import { en } from '../../src/i18n/en';
import { es } from '../../src/i18n/es';
import { langFor, setLang, t } from '../../src/i18n';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('translations', () => {
  afterEach(() => setLang('en'));

  it('has every english key in spanish and no extra ones', () => {
    expect(Object.keys(es).sort()).toEqual(Object.keys(en).sort());
  });

  it('uses the same placeholders in both languages', () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(placeholders(es[key]), key).toEqual(placeholders(en[key]));
    }
  });

  it('has no empty spanish message', () => {
    for (const [key, value] of Object.entries(es)) expect(value.trim(), key).not.toBe('');
  });

  it('picks spanish for any spanish locale and english otherwise', () => {
    expect(langFor('es-MX')).toBe('es');
    expect(langFor('es')).toBe('es');
    expect(langFor('en-GB')).toBe('en');
    expect(langFor('de-DE')).toBe('en');
    expect(langFor(undefined)).toBe('en');
  });

  it('fills placeholders and switches language at once', () => {
    expect(t('code.attempts_left', { count: 3 })).toBe('3 attempts left');
    setLang('es');
    expect(t('code.attempts_left', { count: 3 })).toBe('Quedan 3 intentos');
    expect(document.documentElement.lang).toBe('es');
  });
});

describe('formatTime', () => {
  it('falls back to the app language when the webview reports a POSIX locale like C', async () => {
    const { validLocale, formatTime } = await import('../../src/i18n');
    expect(validLocale('C')).toMatch(/^(en|es)$/);
    expect(validLocale('es-ES')).toBe('es-ES');
    const original = Object.getOwnPropertyDescriptor(Navigator.prototype, 'language');
    Object.defineProperty(navigator, 'language', { value: 'C', configurable: true });
    try {
      expect(formatTime(Date.UTC(2026, 10, 25, 14, 5))).toMatch(/\d{1,2}:\d{2}/);
    } finally {
      if (original) Object.defineProperty(navigator, 'language', original);
    }
  });
});
