// Settings: server, fleet, device, app version, language, colours (theme), and removing the
// phone from the fleet.

import type { Ctx, Screen } from '../app';
import { h } from '../lib/dom';
import { getLang, LANG_NAMES, LANGS, setLang, t, type Lang, type MessageKey } from '../i18n';
import { getThemeChoice, setThemeChoice, THEME_CHOICES, type ThemeChoice } from '../lib/theme';
import { appBar, layout, tabBar, updateBanner } from './chrome';

const THEME_NAMES: Record<ThemeChoice, MessageKey> = {
  system: 'settings.theme_system',
  light: 'settings.theme_light',
  dark: 'settings.theme_dark',
  'high-contrast': 'settings.theme_high_contrast',
};

export function settingsScreen(ctx: Ctx): Screen {
  const s = ctx.state.status;
  const banner = updateBanner(ctx);
  const row = (label: string, value: string | null | undefined, testid: string) =>
    h('div', { class: 'kv' }, h('dt', null, label), h('dd', { testid, class: 'mono-ish' }, value || t('settings.none')));

  const lang = h(
    'select',
    {
      id: 'language',
      class: 'input',
      testid: 'language-select',
      onchange: (e: Event) => {
        setLang((e.target as HTMLSelectElement).value as Lang);
        ctx.rerender();
      },
    },
    LANGS.map((l) => {
      const o = h('option', { value: l }, LANG_NAMES[l]);
      o.selected = l === getLang();
      return o;
    }),
  );

  // Only colours change: the style sheet follows <html data-theme>, nothing needs rendering again.
  const theme = h(
    'select',
    {
      id: 'theme',
      class: 'input',
      testid: 'theme-select',
      onchange: (e: Event) => setThemeChoice((e.target as HTMLSelectElement).value as ThemeChoice),
    },
    THEME_CHOICES.map((c) => h('option', { value: c }, t(THEME_NAMES[c]))),
  );
  theme.value = getThemeChoice();

  const unenroll = h('button', { class: 'btn danger', testid: 'unenroll' }, t('settings.unenroll'));
  // Two taps instead of window.confirm (not every mobile webview shows JS dialogs): the first
  // arms the button and says what will happen, the second within a few seconds does it.
  let armed: ReturnType<typeof setTimeout> | null = null;
  unenroll.addEventListener('click', async () => {
    if (!armed) {
      unenroll.textContent = t('settings.unenroll_confirm');
      unenroll.dataset.armed = 'true';
      armed = setTimeout(() => {
        armed = null;
        unenroll.textContent = t('settings.unenroll');
        delete unenroll.dataset.armed;
      }, 5000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    const st = await ctx.run(() => ctx.backend.unenroll());
    if (st) {
      ctx.setTab('route');
      ctx.setStatus(st);
    }
  });

  const el = layout(
    appBar(t('settings.title')),
    h(
      'div',
      { class: 'stack', testid: 'settings-screen' },
      h(
        'dl',
        { class: 'card kvs' },
        row(t('settings.server'), s?.server_url, 'settings-server'),
        row(t('settings.fleet'), s?.fleet_name, 'settings-fleet'),
        row(t('settings.courier'), s?.courier_name, 'settings-courier'),
        row(t('settings.device'), s?.device_id, 'settings-device'),
        row(t('settings.version'), s?.app_version, 'settings-version'),
      ),
      h('label', { class: 'label', for: 'language' }, t('settings.language')),
      lang,
      h('label', { class: 'label', for: 'theme' }, t('settings.theme')),
      theme,
      h('div', { class: 'spacer' }),
      unenroll,
    ),
    tabBar(ctx, 'settings'),
    banner.el,
  );
  return { el, update: (c) => banner.update(c) };
}
