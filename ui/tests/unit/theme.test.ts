import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  getThemeChoice,
  resolveTheme,
  setThemeChoice,
  startTheme,
  THEME_CHOICES,
  type ThemeChoice,
} from '../../src/lib/theme';
import { setLang } from '../../src/i18n';
import { $, click, root, startApp, useAppHarness } from '../fixtures/harness';

/** A phone whose dark-mode and contrast settings the test flips, firing `change` like a webview. */
function fakePhone(initial: { dark?: boolean; moreContrast?: boolean } = {}) {
  const state: Record<string, boolean> = {
    '(prefers-color-scheme: dark)': initial.dark ?? false,
    '(prefers-contrast: more)': initial.moreContrast ?? false,
  };
  const listeners: Record<string, Set<() => void>> = {};
  vi.stubGlobal('matchMedia', (query: string) => ({
    media: query,
    get matches() {
      return state[query] ?? false;
    },
    addEventListener: (_: 'change', fn: () => void) => (listeners[query] ??= new Set()).add(fn),
    removeEventListener: (_: 'change', fn: () => void) => listeners[query]?.delete(fn),
  }));
  return {
    set(query: keyof typeof state, matches: boolean) {
      state[query] = matches;
      for (const fn of listeners[query] ?? []) fn();
    },
    listening: () => Object.values(listeners).reduce((n, s) => n + s.size, 0),
  };
}

const shown = () => document.documentElement.dataset.theme;

useAppHarness();

beforeEach(() => {
  document.head.innerHTML = '<meta name="color-scheme" content="light"><meta name="theme-color" content="#0b1f3a">';
});
afterEach(() => {
  setThemeChoice('system');
  localStorage.clear();
  vi.unstubAllGlobals();
  delete document.documentElement.dataset.theme;
});

describe('resolving the choice', () => {
  const phone = (dark: boolean, moreContrast: boolean) => ({ dark, moreContrast });

  it('follows the phone: more contrast wins over dark, dark over light', () => {
    expect(resolveTheme('system', phone(false, false))).toBe('light');
    expect(resolveTheme('system', phone(true, false))).toBe('dark');
    expect(resolveTheme('system', phone(false, true))).toBe('high-contrast');
    expect(resolveTheme('system', phone(true, true))).toBe('high-contrast');
  });

  it('keeps an explicit choice whatever the phone says', () => {
    for (const choice of ['light', 'dark', 'high-contrast'] as const) {
      expect(resolveTheme(choice, phone(true, true))).toBe(choice);
      expect(resolveTheme(choice, phone(false, false))).toBe(choice);
    }
  });
});

describe('the theme on screen', () => {
  it('follows the phone by default and changes live when the phone does', () => {
    const phone = fakePhone({ dark: true });
    const stop = startTheme();
    expect(getThemeChoice()).toBe('system');
    expect(shown()).toBe('dark');
    expect(document.querySelector('meta[name="color-scheme"]')?.getAttribute('content')).toBe('dark');
    phone.set('(prefers-color-scheme: dark)', false);
    expect(shown()).toBe('light');
    phone.set('(prefers-contrast: more)', true);
    expect(shown()).toBe('high-contrast');
    expect(document.querySelector('meta[name="color-scheme"]')?.getAttribute('content')).toBe('light');
    stop();
    expect(phone.listening()).toBe(0);
  });

  it('stops following the phone once the courier picks a theme', () => {
    const phone = fakePhone();
    const stop = startTheme();
    setThemeChoice('dark');
    expect(shown()).toBe('dark');
    phone.set('(prefers-contrast: more)', true);
    expect(shown()).toBe('dark');
    setThemeChoice('system');
    expect(shown()).toBe('high-contrast');
    stop();
  });

  it('is light where the webview has no matchMedia', () => {
    vi.stubGlobal('matchMedia', undefined);
    startTheme()();
    expect(shown()).toBe('light');
  });
});

describe('remembering the choice', () => {
  it('saves the choice and shows it again after a restart', async () => {
    fakePhone({ dark: true });
    setThemeChoice('high-contrast');
    expect(localStorage.getItem('doorstep.theme')).toBe('high-contrast');
    delete document.documentElement.dataset.theme;

    vi.resetModules();
    const restarted = await import('../../src/lib/theme');
    expect(restarted.getThemeChoice()).toBe('high-contrast');
    restarted.startTheme()();
    expect(shown()).toBe('high-contrast');
  });

  it('follows the phone when the saved value is not a theme', async () => {
    fakePhone({ dark: true });
    localStorage.setItem('doorstep.theme', 'sepia');
    vi.resetModules();
    const restarted = await import('../../src/lib/theme');
    expect(restarted.getThemeChoice()).toBe('system');
    restarted.startTheme()();
    expect(shown()).toBe('dark');
  });

  it('still switches for this session when storage refuses the write', () => {
    fakePhone();
    const setItem = vi.spyOn(Storage.prototype, 'setItem').mockImplementation(() => {
      throw new DOMException('quota', 'QuotaExceededError');
    });
    try {
      setThemeChoice('dark');
      expect(getThemeChoice()).toBe('dark');
      expect(shown()).toBe('dark');
    } finally {
      setItem.mockRestore();
    }
  });
});

describe('the settings screen', () => {
  const select = () => $('theme-select') as HTMLSelectElement;

  it('offers every choice, follow-the-phone first and selected by default', async () => {
    fakePhone();
    await startApp();
    await click('nav-settings');
    expect([...select().options].map((o) => o.value)).toEqual([...THEME_CHOICES]);
    expect([...select().options].map((o) => o.textContent)).toEqual([
      'Follow the phone',
      'Light',
      'Dark (night)',
      'High contrast (bright sun)',
    ]);
    expect(select().value).toBe('system');
    expect(root.querySelector('label[for="theme"]')?.textContent).toBe('Colours');
  });

  it('switches the theme at once and keeps it', async () => {
    fakePhone();
    await startApp();
    await click('nav-settings');
    select().value = 'high-contrast' satisfies ThemeChoice;
    select().dispatchEvent(new Event('change'));
    expect(shown()).toBe('high-contrast');
    expect(localStorage.getItem('doorstep.theme')).toBe('high-contrast');
    expect($('settings-screen')).not.toBeNull();
    await click('nav-route');
    await click('nav-settings');
    expect(select().value).toBe('high-contrast');
  });

  it('names the choices in spanish', async () => {
    fakePhone();
    setLang('es');
    await startApp();
    await click('nav-settings');
    expect([...select().options].map((o) => o.textContent)).toContain('Como el teléfono');
    expect(root.querySelector('label[for="theme"]')?.textContent).toBe('Colores');
  });
});
