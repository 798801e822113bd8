// Update required: blocks the app when the server says this version is below the minimum.

import type { Ctx, Screen } from '../app';
import { h, icon, ICONS } from '../lib/dom';
import { t } from '../i18n';
import { appBar, layout } from './chrome';

export function updateScreen(ctx: Ctx): Screen {
  const s = ctx.state.status;
  const u = s?.update;
  const el = layout(
    appBar(t('update.title')),
    h(
      'div',
      { class: 'center-card', testid: 'update-screen' },
      h('div', { class: 'big-icon warn', 'aria-hidden': 'true' }, icon(ICONS.warning, 56)),
      h('p', { class: 'lead' }, t('update.body', { current: s?.app_version ?? '?', minimum: u?.minimum ?? '?' })),
      u?.update_url ? null : h('p', { class: 'muted' }, t('update.ask_manager')),
    ),
    u?.update_url
      ? h('a', { class: 'btn primary big', href: u.update_url, target: '_blank', rel: 'noopener', testid: 'update-link' }, t('update.get'))
      : null,
  );
  return { el };
}

/** Shown until app_status answers; offers a retry if it failed (the banner says why). */
export function loadingScreen(ctx: Ctx): Screen {
  const retry = h('button', { class: 'btn primary', testid: 'retry', hidden: true, onclick: () => ctx.reload() }, t('common.retry'));
  const el = h(
    'div',
    { class: 'loading', role: 'status', testid: 'loading' },
    h('div', { class: 'spinner', 'aria-hidden': 'true' }),
    t('app.loading'),
    retry,
  );
  return { el, update: (c) => (retry.hidden = c.state.error === null) };
}
