// The colour theme: light, dark for night rounds, high contrast for bright sunlight.
//
// The courier picks one in settings or lets the phone decide ("system", the default): a phone
// set to more contrast gets high contrast (it wins over dark, since that setting is the one
// asked for sunlight), a phone in dark mode gets dark. The choice is kept in localStorage like
// the language. `startTheme` runs before the first screen renders (main.ts) and follows the
// phone's settings live while the choice is "system".
//
// The colours themselves live only in styles.css, keyed on <html data-theme>; the status-bar
// colour (<meta name="theme-color">) is read back from there, so no colour is written twice.

export type Theme = 'light' | 'dark' | 'high-contrast';
export type ThemeChoice = 'system' | Theme;
export const THEME_CHOICES: readonly ThemeChoice[] = ['system', 'light', 'dark', 'high-contrast'];

/** What the phone asks for, as the two media queries report it. */
export type SystemPrefs = { dark: boolean; moreContrast: boolean };

const STORAGE_KEY = 'doorstep.theme';
const DARK_QUERY = '(prefers-color-scheme: dark)';
const CONTRAST_QUERY = '(prefers-contrast: more)';

function isChoice(value: unknown): value is ThemeChoice {
  return (THEME_CHOICES as readonly unknown[]).includes(value);
}

function savedChoice(): ThemeChoice {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (isChoice(saved)) return saved;
  } catch {
    /* storage can be unavailable; follow the phone */
  }
  return 'system';
}

let current: ThemeChoice = savedChoice();

export function getThemeChoice(): ThemeChoice {
  return current;
}

/** Remembers the choice across restarts and shows it at once. */
export function setThemeChoice(choice: ThemeChoice): void {
  current = choice;
  try {
    localStorage.setItem(STORAGE_KEY, choice);
  } catch {
    /* not fatal: the choice just won't survive a restart */
  }
  applyTheme(resolveTheme(choice, systemPrefs()));
}

/** The theme to show for a choice, given what the phone asks for. */
export function resolveTheme(choice: ThemeChoice, prefs: SystemPrefs): Theme {
  if (choice !== 'system') return choice;
  if (prefs.moreContrast) return 'high-contrast';
  return prefs.dark ? 'dark' : 'light';
}

function query(q: string): MediaQueryList | null {
  return typeof window !== 'undefined' && typeof window.matchMedia === 'function' ? window.matchMedia(q) : null;
}

/** The phone's current settings; light and normal contrast where the webview cannot say. */
export function systemPrefs(): SystemPrefs {
  return { dark: query(DARK_QUERY)?.matches ?? false, moreContrast: query(CONTRAST_QUERY)?.matches ?? false };
}

/**
 * Shows `theme`: <html data-theme>, which the style sheet keys its colours on, the colour scheme
 * the webview draws its own controls in, and the status-bar colour (the app bar's).
 */
export function applyTheme(theme: Theme): void {
  if (typeof document === 'undefined') return;
  const root = document.documentElement;
  root.dataset.theme = theme;
  const scheme = theme === 'dark' ? 'dark' : 'light';
  document.querySelector('meta[name="color-scheme"]')?.setAttribute('content', scheme);
  const bar = getComputedStyle(root).getPropertyValue('--bar').trim();
  if (bar) document.querySelector('meta[name="theme-color"]')?.setAttribute('content', bar);
}

/**
 * Applies the remembered choice now and again whenever the phone's dark-mode or contrast
 * setting changes. Returns a function that stops listening (for tests).
 */
export function startTheme(): () => void {
  const follow = () => applyTheme(resolveTheme(current, systemPrefs()));
  follow();
  const lists = [query(DARK_QUERY), query(CONTRAST_QUERY)].filter((l): l is MediaQueryList => l !== null);
  for (const l of lists) l.addEventListener('change', follow);
  return () => {
    for (const l of lists) l.removeEventListener('change', follow);
  };
}
