// Exceptions: why this stop cannot be delivered, with an optional note. Commits like a delivery.

import type { Ctx, Screen } from '../app';
import { EXCEPTION_REASONS, type ExceptionReason } from '../lib/backend';
import { h } from '../lib/dom';
import { t } from '../i18n';
import { appBar, layout } from './chrome';

export function exceptionsScreen(ctx: Ctx): Screen {
  let reason: ExceptionReason | null = ctx.state.reasonHint;
  const error = h('p', { class: 'field-error', role: 'alert', testid: 'exception-error', hidden: true });
  const options = EXCEPTION_REASONS.map((r) => {
    const input = h('input', {
      type: 'radio',
      name: 'reason',
      value: r,
      id: `reason-${r}`,
      testid: `reason-${r}`,
      checked: r === reason,
      onchange: () => {
        reason = r;
        error.hidden = true;
      },
    });
    return h('label', { class: 'option', for: `reason-${r}` }, input, h('span', null, t(`reason.${r}`)));
  });
  const note = h('textarea', { id: 'exception-note', class: 'input', testid: 'exception-note', rows: '2', maxlength: '500' });
  const submit = h('button', { class: 'btn danger big', type: 'submit', form: 'exception-form', testid: 'exception-submit' }, t('exception.submit'));
  const form = h(
    'form',
    {
      id: 'exception-form',
      class: 'stack',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        if (!reason) {
          error.textContent = t('exception.pick_reason');
          error.hidden = false;
          return;
        }
        submit.disabled = true;
        const chosen = reason;
        const text = note.value.trim();
        const v = await ctx.run(() => ctx.backend.reportException(chosen, text || null));
        submit.disabled = false;
        if (v) ctx.setView(v, chosen);
      },
    },
    h('fieldset', { class: 'options' }, h('legend', { class: 'label' }, t('exception.intro')), options),
    h('label', { class: 'label', for: 'exception-note' }, t('exception.note_label')),
    note,
    error,
  );
  const el = layout(appBar(t('exception.title'), { back: () => ctx.setOverlay(null) }), h('div', { testid: 'exceptions-screen' }, form), submit);
  return { el };
}
