// Route: today's stops with their status, the sync badge, pull to refresh and a refresh button;
// under the stops, the way to the end-of-day depot check-in.

import type { Ctx, Screen } from '../app';
import type { Route, RouteStop } from '../lib/backend';
import { h, icon, ICONS, replaceChildren } from '../lib/dom';
import { formatTime, t } from '../i18n';
import { openInMaps } from '../lib/platform';
import { appBar, layout, statusChip, syncBadge, tabBar, updateBanner } from './chrome';
import { customerNote } from './customer';

const PULL_THRESHOLD = 72;

function stopItem(stop: RouteStop, expanded: boolean, toggle: () => void, mobile: boolean): HTMLElement {
  const status = t(`status.${stop.status}`);
  const parcels = stop.parcels.length === 1 ? t('route.parcel') : t('route.parcels', { count: stop.parcels.length });
  return h(
    'li',
    { class: `stop stop-${stop.status}`, testid: `stop-${stop.sequence}`, 'data-status': stop.status },
    h(
      'button',
      {
        class: 'stop-main',
        'aria-expanded': String(expanded),
        'aria-label': t('route.stop_label', { sequence: stop.sequence, name: stop.recipient_name, address: stop.address, status }),
        onclick: toggle,
      },
      h('span', { class: 'seq', 'aria-hidden': 'true' }, String(stop.sequence)),
      h(
        'span',
        { class: 'stop-text' },
        h('span', { class: 'stop-address' }, stop.address),
        h(
          'span',
          { class: 'stop-meta' },
          stop.recipient_name,
          ' · ',
          parcels,
          stop.code_required ? h('span', { class: 'tag' }, icon(ICONS.lock, 14), t('route.code')) : null,
          stop.customer ? h('span', { class: 'tag', testid: `customer-tag-${stop.sequence}` }, icon(ICONS.person, 14), t('route.customer')) : null,
        ),
      ),
      statusChip(stop.status),
    ),
    expanded
      ? h(
          'div',
          { class: 'stop-detail' },
          customerNote(stop),
          h(
            'ul',
            { class: 'parcels' },
            stop.parcels.map((p) =>
              h(
                'li',
                { class: 'parcel' },
                h('span', { class: 'mono' }, p.barcode),
                p.description ? h('span', { class: 'muted' }, ' ', p.description) : null,
                statusChip(p.status),
              ),
            ),
          ),
          stop.reasons.length ? h('p', { class: 'muted small' }, stop.reasons.join(' · ')) : null,
          // Phones open the maps app through the opener plugin; a desktop webview has no maps app.
          mobile &&
          h(
            'a',
            {
              class: 'btn secondary',
              href: `geo:0,0?q=${encodeURIComponent(stop.address)}`,
              testid: `maps-${stop.sequence}`,
              onclick: (e: Event) => {
                e.preventDefault();
                void openInMaps(stop.address).catch(() => undefined);
              },
            },
            icon(ICONS.route),
            t('route.open_maps'),
          ),
        )
      : null,
  );
}

export function routeScreen(ctx: Ctx): Screen {
  const badge = syncBadge(ctx);
  const banner = updateBanner(ctx);
  let expanded: string | null = null;
  let refreshing = false;

  const list = h('ol', { class: 'stops', testid: 'route-list', 'aria-label': t('route.title') });
  const meta = h('p', { class: 'route-meta', testid: 'route-meta', 'aria-live': 'polite' });
  const pull = h('div', { class: 'pull', 'aria-hidden': 'true' }, icon(ICONS.refresh), h('span', null, t('route.pull')));
  const refreshBtn = h(
    'button',
    { class: 'icon-btn', testid: 'refresh-route', 'aria-label': t('route.refresh') },
    icon(ICONS.refresh),
  );
  const depot = h(
    'button',
    { class: 'btn secondary depot-open', testid: 'depot-open', onclick: () => ctx.setTab('depot') },
    icon(ICONS.check),
    t('depot.open'),
  );
  const scroller = h('div', { class: 'scroller' }, pull, meta, list, depot);

  const draw = (route: Route | null) => {
    const stops = route?.stops ?? [];
    const done = stops.filter((s) => s.status !== 'todo').length;
    replaceChildren(
      meta,
      route
        ? [
            h('strong', null, t('route.progress', { done, total: stops.length })),
            route.fetched_at_ms !== null
              ? h(
                  'span',
                  { class: route.from_cache ? 'cached' : 'muted', testid: route.from_cache ? 'route-cached' : null },
                  route.from_cache
                    ? [icon(ICONS.cloudOff, 16), t('route.cached', { time: formatTime(route.fetched_at_ms) })]
                    : t('route.updated', { time: formatTime(route.fetched_at_ms) }),
                )
              : null,
          ]
        : t('app.loading'),
    );
    replaceChildren(
      list,
      stops.length === 0 && route
        ? h('li', { class: 'empty', testid: 'route-empty' }, t('route.empty'))
        : stops.map((s) =>
            stopItem(s, expanded === s.stop_id, () => {
              expanded = expanded === s.stop_id ? null : s.stop_id;
              draw(ctx.state.route);
            }, ctx.platform === 'mobile'),
          ),
    );
  };

  const refresh = async () => {
    if (refreshing) return;
    refreshing = true;
    el.classList.add('refreshing');
    refreshBtn.disabled = true;
    replaceChildren(pull, icon(ICONS.refresh), h('span', null, t('route.refreshing')));
    // Also reads the status again: the manifest carries the fleet's update policy.
    await ctx.refreshRoute();
    refreshing = false;
    el.classList.remove('refreshing');
    refreshBtn.disabled = false;
    pull.style.height = '';
    replaceChildren(pull, icon(ICONS.refresh), h('span', null, t('route.pull')));
  };
  refreshBtn.addEventListener('click', () => void refresh());

  // Pull to refresh: drag down from the top of the list.
  let startY: number | null = null;
  let pulled = 0;
  scroller.addEventListener(
    'touchstart',
    (e) => {
      startY = scroller.scrollTop <= 0 && !refreshing ? (e.touches[0]?.clientY ?? null) : null;
      pulled = 0;
    },
    { passive: true },
  );
  scroller.addEventListener(
    'touchmove',
    (e) => {
      if (startY === null) return;
      pulled = Math.max(0, (e.touches[0]?.clientY ?? startY) - startY);
      pull.style.height = `${Math.min(pulled, PULL_THRESHOLD * 1.5)}px`;
      pull.classList.toggle('ready', pulled >= PULL_THRESHOLD);
      pull.lastElementChild!.textContent = pulled >= PULL_THRESHOLD ? t('route.release') : t('route.pull');
    },
    { passive: true },
  );
  scroller.addEventListener('touchend', () => {
    if (startY === null) return;
    startY = null;
    pull.classList.remove('ready');
    if (pulled >= PULL_THRESHOLD) void refresh();
    else pull.style.height = '';
  });

  const scanBtn = h(
    'button',
    { class: 'fab', testid: 'scan-button', onclick: () => ctx.setTab('scan') },
    icon(ICONS.scan, 28),
    h('span', null, t('route.scan')),
  );

  const el = layout(
    appBar(t('route.title'), { right: [badge.el, refreshBtn] }),
    [scroller, scanBtn],
    tabBar(ctx, 'route'),
    banner.el,
  );
  el.classList.add('route-screen');

  return {
    el,
    update(c) {
      badge.update(c);
      banner.update(c);
      draw(c.state.route);
    },
  };
}
