// Update required: blocks new deliveries when this version is below the fleet's minimum. What
// is already recorded still goes out: the screen says how much waits and syncs it on request,
// so no delivery is stuck behind an update. "Get the update" asks Rust to open the fleet's link
// (Rust checks it: the enrolled server or an app store); the webview opens nothing itself.

import type { Ctx, Screen } from '../app';
import { h, icon, ICONS, replaceChildren } from '../lib/dom';
import { t } from '../i18n';
import { appBar, layout, syncErrorText } from './chrome';

export function updateScreen(ctx: Ctx): Screen {
  const s = ctx.state.status;
  const u = s?.update;
  const pending = h('p', { class: 'lead', testid: 'update-pending', 'aria-live': 'polite' });
  const syncError = h('p', { class: 'field-error', testid: 'update-sync-error', hidden: true });
  const syncNow = h('button', { class: 'btn secondary big', testid: 'update-sync' });
  let syncing = false;

  const draw = (c: Ctx) => {
    const sync = c.state.sync;
    const count = sync?.pending ?? 0;
    pending.dataset.count = String(count);
    replaceChildren(
      pending,
      count === 0 ? t('update.all_sent') : count === 1 ? t('update.pending_one') : t('update.pending', { count }),
      count > 0 ? [' ', t('update.sync_first')] : null,
    );
    const problem = syncErrorText(sync);
    syncError.textContent = problem ?? '';
    syncError.hidden = !problem;
    if (sync?.last_error_code) syncError.dataset.code = sync.last_error_code;
    else delete syncError.dataset.code;
    const busy = syncing || sync?.syncing === true;
    syncNow.disabled = busy;
    replaceChildren(syncNow, icon(ICONS.sync), busy ? t('update.syncing') : t('update.sync_now'));
  };

  syncNow.addEventListener('click', async () => {
    syncing = true;
    draw(ctx);
    const status = await ctx.run(() => ctx.backend.syncNow());
    if (status) ctx.setSync(status);
    // The fleet may have lowered its minimum: the manifest says so even when nothing was sent.
    await ctx.refreshRoute();
    syncing = false;
    draw(ctx);
  });

  const el = layout(
    appBar(t('update.title')),
    [
      h(
        'div',
        { class: 'center-card', testid: 'update-screen' },
        h('div', { class: 'big-icon warn', 'aria-hidden': 'true' }, icon(ICONS.warning, 56)),
        h('p', { class: 'lead' }, t('update.body', { current: s?.app_version ?? '?', minimum: u?.minimum ?? '?' })),
        u?.update_url ? null : h('p', { class: 'muted' }, t('update.ask_manager')),
        pending,
        syncError,
      ),
      syncNow,
    ],
    u?.update_url
      ? h(
          'button',
          { class: 'btn primary big', testid: 'update-get', onclick: () => void ctx.run(() => ctx.backend.openUpdate()) },
          t('update.get'),
        )
      : null,
  );
  draw(ctx);
  return { el, update: draw };
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
