// The open-box check, for valuable parcels before the code: the customer opens the box, the
// courier photographs the contents, and the customer confirms them or refuses. A refusal is
// recorded at once as a failed delivery ("refused: contents") with the photo.

import type { Ctx, Screen } from '../app';
import type { HandoverView } from '../lib/backend';
import { h, icon, ICONS } from '../lib/dom';
import { errorText, t } from '../i18n';
import { appBar, layout } from './chrome';
import { photoField } from './photo';

export function openBoxScreen(ctx: Ctx): Screen {
  const view = ctx.state.view as Extract<HandoverView, { step: 'open_box' }>;
  const error = h('p', { class: 'field-error', role: 'alert', testid: 'open-box-error', hidden: true });
  const showError = (msg: string | null) => {
    error.textContent = msg ?? '';
    error.hidden = msg === null;
  };
  const photo = photoField(ctx, t('open_box.photo_label'), null, () => showError(null));

  const answer = async (accepted: boolean) => {
    if (!photo.has()) return showError(t('open_box.need_photo'));
    confirm.disabled = refuse.disabled = true;
    const r = await ctx.attempt(async () => ctx.backend.checkContents(await photo.save(), accepted));
    confirm.disabled = refuse.disabled = false;
    if ('ok' in r) ctx.setView(r.ok, accepted ? null : 'refused_contents');
    else showError(errorText(r.err.code));
  };
  const confirm = h('button', { class: 'btn primary big', testid: 'contents-confirm', onclick: () => void answer(true) }, icon(ICONS.check), t('open_box.confirm'));
  const refuse = h('button', { class: 'btn danger big', testid: 'contents-refuse', onclick: () => void answer(false) }, t('open_box.refuse'));

  const el = layout(
    appBar(t('open_box.title')),
    h(
      'div',
      { class: 'stack', testid: 'open-box-screen' },
      h('div', { class: 'stop-card compact' }, h('div', { class: 'stop-address' }, view.stop.address), h('div', { class: 'stop-meta' }, view.stop.recipient_name)),
      h('ol', { class: 'open-box-steps' }, h('li', null, t('open_box.step_open')), h('li', null, t('open_box.step_photo')), h('li', null, t('open_box.step_ask'))),
      photo.el,
      error,
      h('button', { class: 'link-btn', testid: 'open-box-cant-deliver', onclick: () => ctx.setOverlay('exceptions') }, t('scan.cant_deliver')),
    ),
    h('div', { class: 'answer-row' }, confirm, refuse),
  );
  return { el, destroy: () => photo.destroy() };
}
