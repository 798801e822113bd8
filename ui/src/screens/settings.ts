// Settings: server, fleet, device, app version, language, and removing the phone from the fleet.

import type { Ctx, Screen } from '../app';
import { h } from '../lib/dom';
import { getLang, LANG_NAMES, LANGS, setLang, t, type Lang } from '../i18n';
import { appBar, layout, tabBar } from './chrome';

export function settingsScreen(ctx: Ctx): Screen {
  const s = ctx.state.status;
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

  const unenroll = h('button', { class: 'btn danger', testid: 'unenroll' }, t('settings.unenroll'));
  unenroll.addEventListener('click', async () => {
    if (!window.confirm(t('settings.unenroll_confirm'))) return;
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
      h('div', { class: 'spacer' }),
      unenroll,
    ),
    tabBar(ctx, 'settings'),
  );
  return { el };
}
