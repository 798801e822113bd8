// Done: the delivery (or the exception) is saved on the phone; on to the next one.

import type { Ctx, Screen } from '../app';
import type { HandoverView } from '../lib/backend';
import { h, icon, ICONS } from '../lib/dom';
import { t } from '../i18n';
import { appBar, layout, syncBadge } from './chrome';

type DoneView = Extract<HandoverView, { step: 'done' }>;

export function doneScreen(ctx: Ctx): Screen {
  const view = ctx.state.view as DoneView;
  const badge = syncBadge(ctx);
  const delivered = view.outcome === 'delivered';
  const count = view.scanned.length;
  const next = h('button', { class: 'btn primary big', testid: 'next-delivery' }, t('done.next'));
  next.addEventListener('click', async () => {
    next.disabled = true;
    const v = await ctx.run(() => ctx.backend.resetHandover());
    const route = await ctx.run(() => ctx.backend.route());
    next.disabled = false;
    if (route) ctx.setRoute(route);
    ctx.setTab('route');
    if (v) ctx.setView(v);
  });
  const el = layout(
    appBar(delivered ? t('done.delivered') : t('done.exception'), { right: badge.el }),
    h(
      'div',
      { class: 'center-card', testid: 'done-screen', 'data-outcome': view.outcome },
      h('div', { class: `big-icon ${delivered ? 'good' : 'warn'}`, 'aria-hidden': 'true' }, icon(delivered ? ICONS.check : ICONS.warning, 64)),
      h('h2', null, delivered ? t('done.delivered') : t('done.exception')),
      h('p', { class: 'lead' }, count === 1 ? t('done.parcel', { address: view.stop.address }) : t('done.parcels', { count, address: view.stop.address })),
      ctx.state.doneReason && !delivered
        ? h('p', { class: 'lead', testid: 'done-reason', 'data-reason': ctx.state.doneReason }, t('done.reason', { reason: t(`reason.${ctx.state.doneReason}`) }))
        : null,
      h('p', { class: 'muted' }, t('done.saved')),
    ),
    next,
  );
  return { el, update: (c) => badge.update(c), focus: () => next.focus() };
}
