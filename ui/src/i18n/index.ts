// Picks the language (saved choice, else navigator.language) and fills placeholders.
import type { AppErrorCode, RejectCode } from '../lib/codes';
import { en, type MessageKey } from './en';
import { es } from './es';

export type Lang = 'en' | 'es';
export const LANGS: readonly Lang[] = ['en', 'es'];
export const LANG_NAMES: Record<Lang, string> = { en: 'English', es: 'Español' };

const tables: Record<Lang, Record<MessageKey, string>> = { en, es };
const STORAGE_KEY = 'doorstep.lang';

/** The language for a BCP 47 tag such as `es-MX`; English when we have no translation. */
export function langFor(tag: string | undefined | null): Lang {
  const base = (tag ?? '').toLowerCase().split(/[-_]/)[0];
  return base === 'es' ? 'es' : 'en';
}

function initialLang(): Lang {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'en' || saved === 'es') return saved;
  } catch {
    /* storage can be unavailable; fall back to the browser language */
  }
  return langFor(typeof navigator === 'undefined' ? 'en' : navigator.language);
}

let current: Lang = initialLang();

export function getLang(): Lang {
  return current;
}

export function setLang(lang: Lang): void {
  current = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    /* not fatal: the choice just won't survive a restart */
  }
  if (typeof document !== 'undefined') document.documentElement.lang = lang;
}

/** The message for `key` in the current language with `{name}` placeholders filled in. */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  const template = tables[current][key] ?? en[key];
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (m, name: string) =>
    name in params ? String(params[name]) : m,
  );
}

/**
 * The courier's sentence for an error code, in the current language. Every code has an
 * `error.<code>` message: a code without one does not compile.
 */
export function errorText(code: AppErrorCode): string {
  return t(`error.${code}`);
}

/**
 * The courier's sentence for why the server refused a record (`QueueItem.reject_code`): what
 * to do about it. Every reject code has a `reject.<code>` message, or this does not compile.
 */
export function rejectText(code: RejectCode): string {
  return t(`reject.${code}`);
}

/** Local clock time (e.g. 14:05) for a millisecond timestamp, in the current language. */
export function formatTime(ms: number): string {
  const browser = typeof navigator === 'undefined' ? '' : navigator.language;
  const wanted = langFor(browser) === current ? browser : current;
  return new Date(ms).toLocaleTimeString(validLocale(wanted), { hour: '2-digit', minute: '2-digit' });
}

/**
 * `tag` if Intl accepts it, else the app's language. A webview may report POSIX names such as
 * `C` or `en_US.UTF-8` (seen in WebKitGTK under LANG=C), which Intl refuses with a RangeError.
 */
export function validLocale(tag: string): string {
  try {
    return Intl.getCanonicalLocales(tag)[0] ?? current;
  } catch {
    return current;
  }
}

export { type MessageKey };
