// Sync queue: everything recorded on this phone, and whether the server has it yet.
// Disputed records (the server refused them for good) stay visible with the server's reason,
// in the courier's words (`reject.<code>`).
//
// A mistake after the handover: a delivery of today can be corrected once ("handed to the wrong
// door", "not handed over after all"). A committed record is signed and chained, so nothing is
// undone: the core adds a correction record and puts the parcels back on the route. The core
// decides; the screen only leaves the action off records it knows cannot be corrected.

import type { Ctx, Screen } from '../app';
import { CORRECTION_REASONS, type CorrectionReason, type QueueItem, type QueueKind } from '../lib/backend';
import { h, icon, ICONS, replaceChildren } from '../lib/dom';
import { errorText, formatTime, rejectText, t, type MessageKey } from '../i18n';
import { appBar, layout, syncBadge, syncErrorText, tabBar, updateBanner } from './chrome';

const KIND_TEXT: Record<QueueKind, MessageKey> = {
  delivered: 'queue.delivered',
  failed: 'queue.failed',
  unexpected: 'queue.unexpected',
  depot_check_in: 'queue.depot_check_in',
  correction: 'queue.correction',
};

/** `YYYY-MM-DD` of a moment in the phone's time zone, as the route's `date` is written. */
function localDate(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
}

const sameParcels = (a: QueueItem, b: QueueItem) =>
  a.barcodes.length === b.barcodes.length && a.barcodes.every((code) => b.barcodes.includes(code));

/**
 * Whether to offer "Correct this delivery" on `items[i]` (newest first): a handover of `today`
 * that the server has not refused (a disputed one is the fleet manager's) and that no newer
 * correction in the list covers.
 */
function correctable(items: QueueItem[], i: number, today: string): boolean {
  const q = items[i]!;
  if (q.kind !== 'delivered' || q.state === 'disputed' || localDate(q.committed_at_ms) !== today) return false;
  return !items.slice(0, i).some((newer) => newer.kind === 'correction' && sameParcels(newer, q));
}

/** Why the server refused a record: the text of its code, the server's English only without one. */
function refusal(q: QueueItem): HTMLElement | null {
  const text = q.reject_code ? rejectText(q.reject_code) : q.reason;
  if (!text) return null;
  return h('p', { class: 'queue-reason', testid: 'queue-reason', 'data-reject-code': q.reject_code ?? null }, text);
}

function item(q: QueueItem, onCorrect: ((q: QueueItem) => void) | null): HTMLElement {
  const where = `queue-where-${q.event_id}`;
  return h(
    'li',
    { class: `queue-item q-${q.state}`, testid: `queue-item-${q.event_id}`, 'data-state': q.state, 'data-kind': q.kind },
    h(
      'div',
      { class: 'queue-main' },
      h('div', { class: 'stop-address', id: where }, q.stop_address),
      h('div', { class: 'stop-meta' }, `${formatTime(q.committed_at_ms)} · ${q.recipient_name} · `, t(KIND_TEXT[q.kind])),
      h('div', { class: 'mono small muted' }, q.barcodes.join(', ')),
      refusal(q),
      onCorrect
        ? h(
            'button',
            { class: 'btn secondary correct-btn', testid: `correct-${q.event_id}`, 'aria-describedby': where, onclick: () => onCorrect(q) },
            t('correct.action'),
          )
        : null,
    ),
    h('span', { class: `chip chip-q-${q.state}` }, t(`queue.${q.state}`)),
  );
}

/**
 * The correction sheet for one delivery: what went wrong and an optional note. `done` runs once
 * the core has recorded the correction; a refusal shows its code's text on the sheet.
 */
function correctionSheet(ctx: Ctx, q: QueueItem, close: () => void, done: () => Promise<void>): HTMLElement {
  let reason: CorrectionReason | null = null;
  const error = h('p', { class: 'field-error', role: 'alert', testid: 'correct-error', hidden: true });
  const showError = (text: string | null, code?: string) => {
    error.textContent = text ?? '';
    error.hidden = text === null;
    if (code) error.dataset.code = code;
    else delete error.dataset.code;
  };
  const options = CORRECTION_REASONS.map((r) =>
    h(
      'label',
      { class: 'option', for: `correct-reason-${r}` },
      h('input', {
        type: 'radio',
        name: 'correct-reason',
        value: r,
        id: `correct-reason-${r}`,
        testid: `correct-reason-${r}`,
        onchange: () => {
          reason = r;
          showError(null);
        },
      }),
      h('span', null, t(`correct.${r}`)),
    ),
  );
  const note = h('textarea', { id: 'correct-note', class: 'input', testid: 'correct-note', rows: '2', maxlength: '500' });
  const submit = h('button', { class: 'btn primary big', type: 'submit', form: 'correct-form', testid: 'correct-submit' }, t('correct.submit'));
  const form = h(
    'form',
    {
      id: 'correct-form',
      class: 'stack',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        if (!reason) return showError(t('correct.pick_reason'));
        const chosen = reason;
        const text = note.value.trim();
        submit.disabled = true;
        const r = await ctx.attempt(() => ctx.backend.correctDelivery(q.event_id, chosen, text || null));
        submit.disabled = false;
        if ('err' in r) return showError(errorText(r.err.code), r.err.code);
        await done();
      },
    },
    h(
      'div',
      { class: 'correct-subject' },
      h('div', { class: 'stop-address' }, q.stop_address),
      h('div', { class: 'stop-meta' }, `${formatTime(q.committed_at_ms)} · ${q.recipient_name}`),
      h('div', { class: 'mono small muted' }, q.barcodes.join(', ')),
    ),
    h('p', { class: 'muted' }, t('correct.explain')),
    h('fieldset', { class: 'options' }, h('legend', { class: 'label' }, t('correct.intro')), options),
    h('label', { class: 'label', for: 'correct-note' }, t('correct.note_label')),
    note,
    error,
  );
  return layout(appBar(t('correct.title'), { back: close }), h('div', { testid: 'correction-sheet', 'data-event': q.event_id }, form), submit);
}

export function queueScreen(ctx: Ctx): Screen {
  const badge = syncBadge(ctx);
  const banner = updateBanner(ctx);
  const list = h('ul', { class: 'queue', testid: 'queue-list', 'aria-label': t('queue.title') });
  const summary = h('div', { class: 'queue-summary', 'aria-live': 'polite' });
  const notice = h('p', { class: 'correct-done', role: 'status', testid: 'correct-done', hidden: true });
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

  const listView = layout(
    appBar(t('queue.title'), { right: badge.el }),
    [summary, notice, syncNow, list],
    tabBar(ctx, 'queue'),
    banner.el,
  );
  // The list, or the correction sheet over it (the screen stays `queue`).
  const el = h('div', { class: 'screen-swap' }, listView);
  const focusHeading = (view: HTMLElement) => {
    const heading = view.querySelector<HTMLElement>('h1');
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
  };
  const showList = (focus: HTMLElement | null) => {
    replaceChildren(el, listView);
    if (focus?.isConnected) focus.focus({ preventScroll: true });
    else focusHeading(listView);
  };
  const correct = (q: QueueItem) => {
    notice.hidden = true;
    const back = () => showList(list.querySelector<HTMLElement>(`[data-testid="correct-${q.event_id}"]`));
    const sheet = correctionSheet(ctx, q, back, async () => {
      // The parcels are to deliver again: the stored route (no network) shows them so.
      const [route, sync] = await Promise.all([ctx.run(() => ctx.backend.route()), ctx.run(() => ctx.backend.syncStatus())]);
      if (route) ctx.setRoute(route);
      if (sync) ctx.setSync(sync);
      await load();
      notice.textContent = t('correct.done');
      notice.hidden = false;
      showList(null);
    });
    replaceChildren(el, sheet);
    focusHeading(sheet);
  };

  let lastPending: number | null = null;
  const draw = (c: Ctx) => {
    const s = c.state.sync;
    const problem = syncErrorText(s);
    replaceChildren(
      summary,
      h(
        'div',
        { class: 'summary-row' },
        h('div', { class: 'summary-num', testid: 'queue-pending' }, h('strong', null, String(s?.pending ?? 0)), h('span', null, t('queue.pending'))),
        h('div', { class: 'summary-num bad' }, h('strong', null, String(s?.disputed ?? 0)), h('span', null, t('queue.disputed'))),
      ),
      h('p', { class: 'muted small' }, s?.last_success_ms ? t('queue.last_success', { time: formatTime(s.last_success_ms) }) : t('queue.never')),
      problem ? h('p', { class: 'field-error', testid: 'sync-error', 'data-code': s?.last_error_code ?? null }, problem) : null,
    );
    const items = c.state.queue;
    const today = c.state.route?.date ?? localDate(Date.now());
    replaceChildren(
      list,
      items === null
        ? h('li', { class: 'empty' }, t('app.loading'))
        : items.length === 0
          ? h('li', { class: 'empty', testid: 'queue-empty' }, t('queue.empty'))
          : items.map((q, i) => item(q, correctable(items, i, today) ? correct : null)),
    );
    // The queue changes when sync progresses: reload it when the pending count moves.
    if (s && lastPending !== null && s.pending !== lastPending) void load();
    lastPending = s?.pending ?? null;
  };

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
