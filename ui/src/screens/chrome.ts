// Pieces shared by screens: the app bar, the sync badge, the update banner, the tab bar, status
// chips.

import type { Ctx, Tab } from '../app';
import type { ParcelState, SyncStatus } from '../lib/backend';
import { h, icon, ICONS, replaceChildren, type Child } from '../lib/dom';
import { errorText, t } from '../i18n';

export function appBar(title: string, opts: { back?: () => void; right?: Child } = {}): HTMLElement {
  return h(
    'header',
    { class: 'appbar' },
    opts.back
      ? h('button', { class: 'icon-btn', 'aria-label': t('common.back'), onclick: opts.back, testid: 'back' }, icon(ICONS.back))
      : null,
    h('h1', { class: 'appbar-title' }, title),
    h('div', { class: 'appbar-right' }, opts.right ?? null),
  );
}

function syncWords(s: SyncStatus | null): { state: string; cls: string } {
  if (!s || s.online === null) return { state: t('sync.unknown'), cls: 'unknown' };
  if (s.syncing) return { state: t('sync.syncing'), cls: 'syncing' };
  return s.online ? { state: t('sync.online'), cls: 'online' } : { state: t('sync.offline'), cls: 'offline' };
}

/**
 * The last sync problem in the courier's language: the text of its code, the core's English
 * words only when the status carries no code (null: no problem).
 */
export function syncErrorText(s: SyncStatus | null): string | null {
  if (s?.last_error_code) return errorText(s.last_error_code);
  return s?.last_error ?? null;
}

/** A live sync badge: online/offline and how many records wait to be sent. */
export function syncBadge(ctx: Ctx): { el: HTMLElement; update(ctx: Ctx): void } {
  const el = h('button', { class: 'sync-badge', testid: 'sync-badge', 'aria-live': 'polite' });
  el.addEventListener('click', () => ctx.setTab('queue'));
  const update = (c: Ctx) => {
    const s = c.state.sync;
    const { state, cls } = syncWords(s);
    const pending = s?.pending ?? 0;
    el.className = `sync-badge ${cls}`;
    el.dataset.online = String(s?.online ?? 'unknown');
    el.dataset.pending = String(pending);
    el.setAttribute('aria-label', t('sync.badge_label', { state, pending }));
    replaceChildren(
      el,
      h('span', { class: 'dot', 'aria-hidden': 'true' }),
      h('span', { class: 'sync-state' }, state),
      pending > 0 ? h('span', { class: 'sync-count', testid: 'sync-pending' }, String(pending)) : null,
    );
  };
  update(ctx);
  return { el, update };
}

/**
 * A quiet "Update available: X" strip for the tab screens, shown while the fleet offers this
 * phone a newer release and nothing is required. "Update" asks Rust to open the link; × hides it
 * for this release until the app restarts.
 */
export function updateBanner(ctx: Ctx): { el: HTMLElement; update(ctx: Ctx): void } {
  const text = h('span', { class: 'update-note-text' });
  const open = h(
    'button',
    { class: 'btn primary small', testid: 'update-banner-open', onclick: () => void ctx.run(() => ctx.backend.openUpdate()) },
    t('update.open'),
  );
  const el = h(
    'div',
    { class: 'update-note', role: 'status', testid: 'update-banner', hidden: true },
    icon(ICONS.sync, 22),
    text,
    open,
    h(
      'button',
      { class: 'icon-btn', testid: 'update-banner-dismiss', 'aria-label': t('update.dismiss'), onclick: () => ctx.dismissUpdate() },
      '×',
    ),
  );
  const update = (c: Ctx) => {
    const u = c.state.status?.update;
    const show = !!u && u.available && !u.required && c.state.dismissedUpdate !== u.latest;
    el.hidden = !show;
    open.hidden = !u?.update_url;
    if (u) {
      el.dataset.version = u.latest;
      text.textContent = t('update.available', { version: u.latest });
    }
  };
  update(ctx);
  return { el, update };
}

export function tabBar(ctx: Ctx, active: Tab): HTMLElement {
  const item = (tab: Tab, label: string, d: string) =>
    h(
      'button',
      {
        class: `tab${tab === active ? ' active' : ''}`,
        testid: `nav-${tab}`,
        'aria-current': tab === active ? 'page' : null,
        onclick: () => ctx.setTab(tab),
      },
      icon(d, 26),
      h('span', null, label),
    );
  return h(
    'nav',
    { class: 'tabbar', 'aria-label': t('nav.main') },
    item('route', t('nav.route'), ICONS.route),
    item('scan', t('nav.scan'), ICONS.scan),
    item('queue', t('nav.queue'), ICONS.sync),
    item('settings', t('nav.settings'), ICONS.settings),
  );
}

export function statusChip(status: ParcelState): HTMLElement {
  return h('span', { class: `chip chip-${status}`, 'data-status': status }, t(`status.${status}`));
}

/**
 * The standard screen layout: bar on top, an optional notice strip under it (the update
 * banner), scrolling content, optional footer.
 */
export function layout(bar: HTMLElement, content: Child, footer?: Child, notice?: HTMLElement): HTMLElement {
  return h(
    'section',
    { class: 'screen' },
    bar,
    notice ?? null,
    h('main', { class: 'content' }, content),
    footer ? h('footer', { class: 'footer' }, footer) : null,
  );
}
