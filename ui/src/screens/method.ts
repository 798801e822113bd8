// How are you handing it over? After "Continue" on the scan screen, when the scanned parcels
// may leave the courier's hands in more than one way: one big button per way the policy allows,
// each with the steps it will ask for at the door. With one way the scan screen skips this.
// The core names the method to open on (`preselected`, kept in `data-preselected`); when that
// is the customer's choice from their page, its button is marked as theirs, and a line says
// what they asked for (the proof screen then fills in the place they gave). Without a choice
// nothing is marked, as before.

import type { Ctx, Screen } from '../app';
import type { DoorMethod, HandoverView } from '../lib/backend';
import { h } from '../lib/dom';
import { t } from '../i18n';
import { appBar, layout } from './chrome';
import { customerNote } from './customer';

/** The steps a method asks for, in the order they come at the door. */
export function doorSteps(d: DoorMethod): string[] {
  const steps: string[] = [];
  if (d.open_box_check) steps.push(t('step.open_box'));
  if (d.code_required) steps.push(t('step.code'));
  if (d.minimum_age) steps.push(t('step.age', { age: d.minimum_age }));
  else if (d.id_check) steps.push(t('step.id'));
  if (d.photo_required) steps.push(t('step.photo'));
  if (d.signature_required) steps.push(t('step.signature'));
  return steps;
}

/** Finishes scanning with `method` and shows the step the core moves to. */
export async function handOverBy(ctx: Ctx, method: DoorMethod['method'] | null): Promise<void> {
  const v = await ctx.run(() => ctx.backend.finishScanning(method));
  if (v) ctx.setView(v);
}

export function methodScreen(ctx: Ctx): Screen {
  const view = ctx.state.view as Extract<HandoverView, { step: 'scanning' }>;
  const asked = view.stop.customer?.method;
  const buttons = view.methods.map((d) => {
    const steps = doorSteps(d);
    const preselected = d.method === view.preselected;
    const theirs = preselected && d.method === asked;
    const b = h(
      'button',
      {
        class: theirs ? 'method-btn preselected' : 'method-btn',
        testid: `method-${d.method}`,
        'data-steps': steps.join(', '),
        'data-preselected': preselected ? 'true' : null,
      },
      h('span', { class: 'method-name' }, t(`method.${d.method}`)),
      theirs ? h('span', { class: 'tag customer-choice', testid: 'method-customer-choice' }, t('method.customer_choice')) : null,
      h(
        'span',
        { class: 'method-steps' },
        steps.length ? steps.map((s) => h('span', { class: 'step' }, s)) : h('span', { class: 'step none' }, t('step.none')),
      ),
    );
    b.addEventListener('click', async () => {
      for (const other of buttons) other.disabled = true;
      await handOverBy(ctx, d.method);
      for (const other of buttons) other.disabled = false;
    });
    return b;
  });
  const el = layout(
    appBar(t('method.bar'), { back: () => ctx.setOverlay(null) }),
    h(
      'div',
      { class: 'stack', testid: 'method-screen' },
      h('h2', { class: 'question' }, t('method.title')),
      h(
        'div',
        { class: 'stop-card compact' },
        h('div', { class: 'stop-address' }, view.stop.address),
        h('div', { class: 'stop-meta' }, view.stop.recipient_name),
        customerNote(view.stop),
      ),
      asked && buttons.length > 0 && !view.methods.some((d) => d.method === asked)
        ? h('p', { class: 'muted', testid: 'method-customer-not-offered' }, t('method.customer_not_offered'))
        : null,
      buttons.length ? h('p', { class: 'muted' }, t('method.intro')) : h('p', { class: 'field-error', testid: 'method-none' }, t('method.none')),
      h('div', { class: 'methods' }, buttons),
    ),
    h('button', { class: 'btn secondary', testid: 'method-cant-deliver', onclick: () => ctx.setOverlay('exceptions') }, t('scan.cant_deliver')),
  );
  return { el };
}
