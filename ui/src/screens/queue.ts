// Sync queue: everything recorded on this phone, and whether the server has it yet.
// Disputed records (the server refused them for good) stay visible with the reason.

import type { Ctx, Screen } from '../app';
import type { QueueItem } from '../lib/backend';
import { h, icon, ICONS, replaceChildren } from '../lib/dom';
import { formatTime, t } from '../i18n';
import { appBar, layout, syncBadge, tabBar, updateBanner } from './chrome';

function item(q: QueueItem): HTMLElement {
  return h(
    'li',
    { class: `queue-item q-${q.state}`, testid: `queue-item-${q.event_id}`, 'data-state': q.state },
    h(
      'div',
      { class: 'queue-main' },
      h('div', { class: 'stop-address' }, q.stop_address),
      h('div', { class: 'stop-meta' }, `${formatTime(q.committed_at_ms)} · ${q.recipient_name} · `, t(q.kind === 'delivered' ? 'queue.delivered' : 'queue.failed')),
      h('div', { class: 'mono small muted' }, q.barcodes.join(', ')),
      q.reason ? h('p', { class: 'queue-reason', testid: 'queue-reason' }, q.reason) : null,
    ),
    h('span', { class: `chip chip-q-${q.state}` }, t(`queue.${q.state}`)),
  );
}

export function queueScreen(ctx: Ctx): Screen {
  const badge = syncBadge(ctx);
  const banner = updateBanner(ctx);
  const list = h('ul', { class: 'queue', testid: 'queue-list', 'aria-label': t('queue.title') });
  const summary = h('div', { class: 'queue-summary', 'aria-live': 'polite' });
  const syncNow = h('button', { class: 'btn primary', testid: 'sync-now' }, icon(ICONS.sync), t('queue.sync_now'));

  const load = async () => {
    const q = await ctx.run(() => ctx.backend.syncQueue());
    if (q) ctx.setQueue(q);
  };
  syncNow.addEventListener('click', async () => {
    syncNow.disabled = true;
    const s = await ctx.run(() => ctx.backend.syncNow());
    syncNow.disabled = false;
    if (s) ctx.setSync(s);
    // A sync answer carries the fleet's update policy.
    await ctx.refreshStatus();
    await load();
  });

  let lastPending: number | null = null;
  const draw = (c: Ctx) => {
    const s = c.state.sync;
    replaceChildren(
      summary,
      h(
        'div',
        { class: 'summary-row' },
        h('div', { class: 'summary-num', testid: 'queue-pending' }, h('strong', null, String(s?.pending ?? 0)), h('span', null, t('queue.pending'))),
        h('div', { class: 'summary-num bad' }, h('strong', null, String(s?.disputed ?? 0)), h('span', null, t('queue.disputed'))),
      ),
      h('p', { class: 'muted small' }, s?.last_success_ms ? t('queue.last_success', { time: formatTime(s.last_success_ms) }) : t('queue.never')),
      s?.last_error ? h('p', { class: 'field-error', testid: 'sync-error' }, s.last_error) : null,
    );
    const items = c.state.queue;
    replaceChildren(
      list,
      items === null
        ? h('li', { class: 'empty' }, t('app.loading'))
        : items.length === 0
          ? h('li', { class: 'empty', testid: 'queue-empty' }, t('queue.empty'))
          : items.map(item),
    );
    // The queue changes when sync progresses: reload it when the pending count moves.
    if (s && lastPending !== null && s.pending !== lastPending) void load();
    lastPending = s?.pending ?? null;
  };

  const el = layout(
    appBar(t('queue.title'), { right: badge.el }),
    [summary, syncNow, list],
    tabBar(ctx, 'queue'),
    banner.el,
  );
  void load();
  return {
    el,
    update(c) {
      badge.update(c);
      banner.update(c);
      draw(c);
    },
  };
}
