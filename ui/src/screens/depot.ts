// Depot check-in, at the end of the day: every parcel of the route that was not delivered
// should be back in the van. The courier scans each label (the camera stays open, or types
// it); the list ticks them off and counts, labels that were not expected show apart. Finishing
// asks first, naming the parcels still missing, so finishing without them takes a second,
// deliberate tap; then the recorded check-in is confirmed.

import type { Ctx, Screen } from '../app';
import type { DepotParcel, DepotView } from '../lib/backend';
import { h, icon, ICONS, replaceChildren, type Child } from '../lib/dom';
import { t } from '../i18n';
import { cameraSheet } from './camera';
import { appBar, layout, syncBadge } from './chrome';

/** What the last label did: ticked a parcel, was ticked already, or was not expected. */
type Feedback = { kind: 'checked' | 'already' | 'extra'; barcode: string; address: string | null };

function feedbackFor(before: DepotView | null, after: DepotView): Feedback | null {
  const barcode = after.last_scanned;
  if (!barcode) return null;
  const hit = after.expected.find((p) => p.barcode === barcode);
  const seenBefore = hit
    ? before?.expected.some((p) => p.barcode === barcode && p.checked)
    : before?.extra.includes(barcode);
  return {
    kind: seenBefore ? 'already' : hit ? 'checked' : 'extra',
    barcode,
    address: hit?.address ?? null,
  };
}

function feedbackEl(f: Feedback, testid: string): HTMLElement {
  const good = f.kind !== 'extra';
  const text =
    f.kind === 'checked'
      ? t('depot.checked', { barcode: f.barcode })
      : f.kind === 'already'
        ? t('depot.already', { barcode: f.barcode })
        : t('depot.not_expected', { barcode: f.barcode });
  return h(
    'div',
    { class: `scan-result ${good ? 'good' : 'bad'}`, testid, 'data-kind': f.kind, role: 'status' },
    icon(good ? ICONS.check : ICONS.warning),
    h('span', null, h('span', { class: 'mono' }, text), f.address ? h('span', { class: 'depot-address' }, f.address) : null),
  );
}

const counts = (v: DepotView) => ({ done: v.expected.filter((p) => p.checked).length, total: v.expected.length });

function expectedList(parcels: DepotParcel[], testid: string | null): HTMLElement {
  return h(
    'ul',
    { class: 'parcels depot-list', testid },
    parcels.map((p) =>
      h(
        'li',
        { class: `parcel${p.checked ? ' scanned' : ''}`, testid: testid && `depot-parcel-${p.barcode}`, 'data-checked': String(p.checked) },
        h('span', { class: 'check', 'aria-hidden': 'true' }, p.checked ? icon(ICONS.check, 20) : null),
        h(
          'span',
          { class: 'depot-parcel-text' },
          h('span', { class: 'mono' }, p.barcode),
          h('span', { class: 'depot-address' }, p.address),
        ),
        h('span', { class: 'visually-hidden' }, p.checked ? t('depot.is_checked') : t('depot.not_checked')),
      ),
    ),
  );
}

const missingText = (missing: DepotParcel[]) =>
  t('depot.missing', { list: missing.map((p) => `${p.barcode} (${p.address})`).join(', ') });

export function depotScreen(ctx: Ctx): Screen {
  const badge = syncBadge(ctx);
  let view: DepotView | null = null;
  let feedback: Feedback | null = null;
  let phase: 'scanning' | 'confirm' | 'recorded' = 'scanning';
  let busy = false;

  const body = h('div', { class: 'stack', testid: 'depot-screen' });
  const footer = h('div', { class: 'stack' });
  const cameraMsg = h('p', { class: 'field-error', role: 'alert', testid: 'depot-camera-error', hidden: true });
  const showCameraMessage = (msg: string | null) => {
    cameraMsg.textContent = msg ?? '';
    cameraMsg.hidden = msg === null;
  };

  const send = async (label: string): Promise<boolean> => {
    const before = view;
    const next = await ctx.run(() => ctx.backend.depotScan(label));
    if (!next) return false;
    feedback = feedbackFor(before, next);
    view = next;
    draw();
    return true;
  };

  const input = h('input', {
    id: 'depot-input',
    class: 'input mono',
    testid: 'depot-input',
    autocomplete: 'off',
    autocapitalize: 'characters',
    spellcheck: 'false',
    enterkeyhint: 'send',
    placeholder: t('scan.input_hint'),
  });
  const submit = h('button', { class: 'btn primary', type: 'submit', testid: 'depot-submit' }, t('scan.submit'));
  const form = h(
    'form',
    {
      class: 'scan-form',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const label = input.value.trim();
        if (!label || busy) return;
        busy = true;
        submit.disabled = true;
        if (await send(label)) input.value = '';
        busy = false;
        submit.disabled = false;
        if (ctx.platform === 'desktop') input.focus();
      },
    },
    h('label', { class: 'label', for: 'depot-input' }, t('scan.input_label')),
    h('div', { class: 'row' }, input, submit),
  );

  const cameraBtn = h('button', { class: 'btn secondary', testid: 'depot-camera' }, icon(ICONS.camera), t('scan.camera'));
  const camera = cameraSheet(ctx, {
    title: t('depot.title'),
    onLabel: send,
    onError: showCameraMessage,
    onClose: () => {
      draw();
      cameraBtn.focus();
    },
  });
  cameraBtn.addEventListener('click', () => {
    showCameraMessage(null);
    void camera.open();
    draw();
  });

  const finish = h('button', { class: 'btn primary big', testid: 'depot-finish', onclick: () => setPhase('confirm') }, t('depot.finish'));

  const setPhase = (p: typeof phase) => {
    phase = p;
    draw();
    el.querySelector<HTMLElement>('h2')?.focus();
  };

  const record = async (btn: HTMLButtonElement) => {
    btn.disabled = true;
    const recorded = await ctx.run(() => ctx.backend.depotFinish());
    btn.disabled = false;
    if (!recorded) return;
    view = recorded;
    feedback = null;
    setPhase('recorded');
  };

  const heading = (text: string) => h('h2', { class: 'depot-heading', tabindex: '-1' }, text);

  const scanningContent = (v: DepotView): Child[] => {
    const { done, total } = counts(v);
    return [
      h(
        'div',
        { class: 'stop-card' },
        h('p', { class: 'depot-intro' }, t('depot.intro')),
        h('p', { class: 'progress-text depot-count', testid: 'depot-count', 'aria-live': 'polite' }, t('depot.count', { done, total })),
        h('progress', { class: 'depot-progress', max: String(Math.max(total, 1)), value: String(done), 'aria-hidden': 'true' }),
      ),
      feedback ? feedbackEl(feedback, 'depot-last') : null,
      h('div', { class: 'scan-tools' }, cameraBtn),
      cameraMsg,
      form,
      heading(t('depot.expected')),
      total ? expectedList(v.expected, 'depot-expected') : h('p', { class: 'muted', testid: 'depot-none' }, t('depot.none_expected')),
      v.extra.length
        ? h(
            'section',
            { class: 'stack depot-extra', testid: 'depot-extra', 'aria-labelledby': 'depot-extra-title' },
            h('h2', { id: 'depot-extra-title', class: 'depot-heading' }, t('depot.extra')),
            h('p', { class: 'muted small' }, t('depot.extra_hint')),
            h('ul', { class: 'parcels depot-list' }, v.extra.map((b) => h('li', { class: 'parcel extra' }, icon(ICONS.warning, 20), h('span', { class: 'mono' }, b)))),
          )
        : null,
    ];
  };

  const confirmContent = (v: DepotView): Child => {
    const { done, total } = counts(v);
    const missing = v.expected.filter((p) => !p.checked);
    const confirm = h(
      'button',
      { class: `btn big ${missing.length ? 'danger' : 'primary'}`, testid: 'depot-confirm-finish' },
      missing.length ? t('depot.finish_missing', { count: missing.length }) : t('depot.finish'),
    );
    confirm.addEventListener('click', () => void record(confirm));
    return h(
      'div',
      { class: 'stack depot-confirm', testid: 'depot-confirm', 'data-missing': String(missing.length) },
      heading(t('depot.confirm_title')),
      h('p', { class: 'lead', testid: 'depot-confirm-count' }, t('depot.count', { done, total })),
      missing.length
        ? h(
            'div',
            { class: 'depot-warning', role: 'alert' },
            icon(ICONS.warning),
            h(
              'div',
              null,
              h('p', { class: 'depot-missing', testid: 'depot-missing' }, missingText(missing)),
              h('p', null, missing.length === 1 ? t('depot.missing_one') : t('depot.missing_many', { count: missing.length })),
            ),
          )
        : h('p', { class: 'lead' }, t('depot.all_scanned')),
      v.extra.length ? h('p', { testid: 'depot-confirm-extra' }, t('depot.extra_list', { list: v.extra.join(', ') })) : null,
      confirm,
      h('button', { class: 'btn secondary', testid: 'depot-keep-scanning', onclick: () => setPhase('scanning') }, t('depot.keep_scanning')),
    );
  };

  const recordedContent = (v: DepotView): Child => {
    const { done, total } = counts(v);
    const missing = v.expected.filter((p) => !p.checked);
    return h(
      'div',
      { class: 'center-card', testid: 'depot-done', 'data-event': v.recorded_event_id ?? '' },
      h('div', { class: 'big-icon good', 'aria-hidden': 'true' }, icon(ICONS.check, 64)),
      heading(t('depot.recorded')),
      h('p', { class: 'lead', testid: 'depot-done-count' }, t('depot.count', { done, total })),
      missing.length ? h('p', { class: 'lead', testid: 'depot-done-missing' }, missingText(missing)) : null,
      h('p', { class: 'muted' }, t('done.saved')),
    );
  };

  const toRoute = () => ctx.setTab('route');

  const draw = () => {
    if (!view) {
      replaceChildren(body, h('p', { class: 'muted' }, t('app.loading')));
      replaceChildren(footer);
      return;
    }
    if (phase === 'scanning') {
      replaceChildren(body, scanningContent(view));
      replaceChildren(footer, finish);
    } else if (phase === 'confirm') {
      replaceChildren(body, confirmContent(view));
      replaceChildren(footer);
    } else {
      replaceChildren(body, recordedContent(view));
      replaceChildren(footer, h('button', { class: 'btn primary big', testid: 'depot-close', onclick: toRoute }, t('depot.back')));
    }
    (footer.parentElement ?? footer).hidden = footer.childElementCount === 0;
    if (camera.isOpen()) {
      const { done, total } = counts(view);
      camera.draw(
        h('p', { class: 'progress-text', testid: 'camera-count' }, t('depot.count', { done, total })),
        feedback ? feedbackEl(feedback, 'camera-result') : null,
        expectedList(view.expected, null),
      );
    }
  };

  const el = layout(
    appBar(t('depot.title'), { back: () => (phase === 'confirm' ? setPhase('scanning') : toRoute()), right: badge.el }),
    body,
    footer,
  );
  el.classList.add('depot-screen');
  el.appendChild(camera.el);

  void ctx.run(() => ctx.backend.depotView()).then((v) => {
    if (v) view = v;
    draw();
  });
  draw();

  return {
    el,
    update(c) {
      badge.update(c);
    },
    destroy() {
      camera.destroy();
    },
  };
}
