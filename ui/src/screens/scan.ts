// Scan: start a stop by scanning its first parcel, add the stop's other parcels, continue.
// The camera stays open and collects parcel after parcel until Done (camera.ts): the native
// scanner plugin on mobile, a camera through ZXing on desktop, which also reads a picture; and
// always a text field (typed, pasted, or driven by WebDriver). A parcel that is not on the
// route can be reported to the fleet manager from here, with a photo and a note.

import type { Ctx, Screen } from '../app';
import type { HandoverView, RouteStop, ScanResult } from '../lib/backend';
import { h, icon, ICONS, replaceChildren } from '../lib/dom';
import { scanImageFile } from '../lib/scanner';
import { t } from '../i18n';
import { cameraMessage, cameraSheet } from './camera';
import { appBar, layout, syncBadge, tabBar } from './chrome';
import { customerNote } from './customer';
import { handOverBy } from './method';
import { photoField, type PhotoField } from './photo';

/** What a scan did, in the courier's language (the core's `message` is English). */
export function resultText(r: ScanResult): string {
  switch (r.outcome) {
    case 'added':
      return t('scan.added');
    case 'already_scanned':
      return t('scan.already_scanned');
    case 'not_on_route':
      return t('scan.not_on_route');
    case 'already_delivered':
      return t('scan.already_delivered');
    case 'other_stop':
      return r.other_stop
        ? t('scan.other_stop', { sequence: r.other_stop.sequence, address: r.other_stop.address })
        : t('scan.other_stop_unknown');
    case 'invalid':
      return t('scan.invalid');
  }
}

const GOOD: ReadonlySet<string> = new Set(['added', 'already_scanned']);

function fillResult(el: HTMLElement, r: ScanResult): void {
  const good = GOOD.has(r.outcome);
  el.dataset.outcome = r.outcome;
  el.className = `scan-result ${good ? 'good' : 'bad'}`;
  replaceChildren(el, icon(good ? ICONS.check : ICONS.warning), h('span', null, resultText(r)));
}

/** The stop's parcels, each ticked once scanned. */
function parcelList(stop: RouteStop, scanned: string[]): HTMLElement {
  return h(
    'ul',
    { class: 'parcels' },
    stop.parcels.map((p) => {
      const ok = scanned.includes(p.parcel_id);
      return h(
        'li',
        { class: `parcel${ok ? ' scanned' : ''}`, 'data-scanned': String(ok) },
        h('span', { class: 'check', 'aria-hidden': 'true' }, ok ? icon(ICONS.check, 20) : null),
        h('span', { class: 'mono' }, p.barcode),
        p.description ? h('span', { class: 'muted' }, p.description) : null,
      );
    }),
  );
}

export function scanScreen(ctx: Ctx): Screen {
  const badge = syncBadge(ctx);
  const stopCard = h('div', { class: 'stop-card', testid: 'scan-stop' });
  const result = h('div', { class: 'scan-result', testid: 'scan-result', role: 'status', 'aria-live': 'assertive', hidden: true });
  const reported = h('p', { class: 'scan-result good', role: 'status', testid: 'report-done', hidden: true });
  const cameraMsg = h('p', { class: 'field-error', role: 'alert', testid: 'scan-camera-error', hidden: true });
  const input = h('input', {
    id: 'barcode-input',
    class: 'input mono',
    testid: 'barcode-input',
    autocomplete: 'off',
    autocapitalize: 'characters',
    spellcheck: 'false',
    enterkeyhint: 'send',
    placeholder: t('scan.input_hint'),
  });
  const submit = h('button', { class: 'btn primary', type: 'submit', testid: 'scan-submit' }, t('scan.submit'));
  const finish = h('button', { class: 'btn primary big', testid: 'finish-scanning' }, t('scan.continue'));
  const cantDeliver = h(
    'button',
    { class: 'btn secondary', testid: 'scan-cant-deliver', onclick: () => ctx.setOverlay('exceptions') },
    t('scan.cant_deliver'),
  );
  const cancel = h(
    'button',
    {
      class: 'btn ghost',
      testid: 'scan-cancel',
      onclick: async () => {
        const v = await ctx.run(() => ctx.backend.resetHandover());
        if (v) ctx.setView(v);
      },
    },
    t('scan.cancel_stop'),
  );
  let busy = false;
  /** The label of the view's last scan, when this screen sent it (the ScanResult has no label). */
  let lastLabel: string | null = null;
  /** Labels reported as not on the route while this screen was up. */
  const reportedLabels = new Set<string>();
  /** The report form, while it is open. */
  let report: { label: string; el: HTMLElement; photo: PhotoField } | null = null;

  const showCameraMessage = (msg: string | null) => {
    cameraMsg.textContent = msg ?? '';
    cameraMsg.hidden = msg === null;
  };

  /** Sends one label to the core; false when the command failed (the banner says why). */
  const send = async (barcode: string): Promise<boolean> => {
    const view = await ctx.run(() => ctx.backend.scanParcel(barcode));
    if (!view) return false;
    lastLabel = barcode;
    reported.hidden = true;
    ctx.setView(view);
    return true;
  };

  const scan = async (raw: string) => {
    const barcode = raw.trim();
    if (!barcode || busy) return;
    busy = true;
    submit.disabled = true;
    const ok = await send(barcode);
    busy = false;
    submit.disabled = false;
    if (ok) input.value = '';
    if (ctx.platform === 'desktop') input.focus();
  };

  const cameraBtn = h('button', { class: 'btn secondary', testid: 'scan-camera' }, icon(ICONS.camera), t('scan.camera'));
  const camera = cameraSheet(ctx, {
    title: t('scan.camera_title'),
    onLabel: send,
    onError: showCameraMessage,
    onClose: () => {
      draw(ctx.state.view);
      cameraBtn.focus();
    },
  });
  cameraBtn.addEventListener('click', () => {
    showCameraMessage(null);
    void camera.open();
    drawCamera(ctx.state.view);
  });

  const imageInput = h('input', { type: 'file', accept: 'image/*', class: 'visually-hidden', id: 'scan-image-file', testid: 'scan-image-input' });
  imageInput.addEventListener('change', async () => {
    const file = imageInput.files?.[0];
    imageInput.value = '';
    if (!file) return;
    showCameraMessage(null);
    try {
      await scan(await scanImageFile(file));
    } catch (e) {
      showCameraMessage(cameraMessage(e));
    }
  });
  const imageBtn =
    ctx.platform === 'desktop'
      ? h('label', { class: 'btn secondary', for: 'scan-image-file', testid: 'scan-image' }, icon(ICONS.image), t('scan.image'))
      : null;

  // More than one way to hand the parcels over: ask which. One way: straight on with it.
  finish.addEventListener('click', async () => {
    const view = ctx.state.view;
    const methods = view.step === 'scanning' ? view.methods : [];
    if (methods.length !== 1) return ctx.setOverlay('method');
    finish.disabled = true;
    await handOverBy(ctx, methods[0]!.method);
    finish.disabled = false;
  });

  const form = h(
    'form',
    {
      class: 'scan-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        void scan(input.value);
      },
    },
    h('label', { class: 'label', for: 'barcode-input' }, t('scan.input_label')),
    h('div', { class: 'row' }, input, submit),
  );

  /** "Report it", for the last label when the core said it is not on the route. */
  const reportBtn = h(
    'button',
    { class: 'btn secondary', testid: 'report-unexpected', hidden: true, onclick: () => lastLabel && openReport(lastLabel) },
    icon(ICONS.warning),
    t('report.open'),
  );
  const canReport = (last: ScanResult | null) =>
    last?.outcome === 'not_on_route' && lastLabel !== null && !reportedLabels.has(lastLabel);

  const openReport = (label: string) => {
    camera.close();
    const photo = photoField(ctx, t('report.photo_label'), null, () => undefined);
    const note = h('textarea', { id: 'report-note', class: 'input', testid: 'report-note', rows: '3', maxlength: '500', placeholder: t('report.note_hint') });
    const sendBtn = h('button', { class: 'btn primary big', testid: 'report-send' }, t('report.send'));
    sendBtn.addEventListener('click', async () => {
      sendBtn.disabled = true;
      const id = await ctx.run(async () =>
        ctx.backend.reportUnexpected(label, await photo.save(), note.value.trim() || null),
      );
      sendBtn.disabled = false;
      if (id === undefined) return;
      reportedLabels.add(label);
      closeReport();
      reported.textContent = t('report.done');
      reported.hidden = false;
    });
    const heading = h('h2', { id: 'report-title', class: 'report-title', tabindex: '-1' }, t('report.title'));
    const el = h(
      'section',
      { class: 'report-form stack', testid: 'report-form', 'aria-labelledby': 'report-title' },
      heading,
      h('p', { class: 'muted' }, t('report.intro')),
      h('div', { class: 'stack tight' }, h('span', { class: 'label' }, t('report.label')), h('p', { class: 'mono report-label', testid: 'report-barcode' }, label)),
      photo.el,
      h('label', { class: 'label', for: 'report-note' }, t('report.note_label')),
      note,
      sendBtn,
      h('button', { class: 'btn ghost', testid: 'report-cancel', onclick: () => closeReport() }, t('common.cancel')),
    );
    report = { label, el, photo };
    draw(ctx.state.view);
    heading.focus();
  };
  const closeReport = () => {
    report?.photo.destroy();
    report = null;
    draw(ctx.state.view);
    input.focus();
  };

  const footer = h('div', { class: 'stack' });
  const tabs = tabBar(ctx, 'scan');
  const bar = appBar(t('scan.title'), {
    back: () => (report ? closeReport() : ctx.state.view.step === 'scanning' ? cancel.click() : ctx.setTab('route')),
    right: badge.el,
  });

  const scanPart = h(
    'div',
    { class: 'stack' },
    stopCard,
    result,
    reportBtn,
    reported,
    h('div', { class: 'scan-tools' }, cameraBtn, imageBtn, imageInput),
    cameraMsg,
    form,
  );
  const reportHost = h('div', { class: 'stack' });
  const el = layout(bar, [scanPart, reportHost], footer);
  el.classList.add('scan-screen');
  el.appendChild(camera.el);

  /** The panel under the open camera: the stop, its parcels ticked, what the last label did. */
  const drawCamera = (view: HandoverView) => {
    if (!camera.isOpen()) return;
    const last = view.step === 'idle' || view.step === 'scanning' ? view.last_scan : null;
    const res = last ? h('div', { testid: 'camera-result', role: 'status' }) : null;
    if (res && last) fillResult(res, last);
    camera.draw(
      view.step === 'scanning'
        ? [
            h('p', { class: 'stop-address' }, `${view.stop.sequence}. ${view.stop.address}`),
            h('p', { class: 'progress-text', testid: 'camera-count' }, t('scan.scanned', { done: view.scanned.length, total: view.stop.parcels.length })),
            parcelList(view.stop, view.scanned),
          ]
        : h('p', { class: 'hint' }, t('scan.idle_hint')),
      res,
      canReport(last)
        ? h('button', { class: 'btn secondary', testid: 'camera-report', onclick: () => lastLabel && openReport(lastLabel) }, t('report.open'))
        : null,
    );
  };

  const draw = (view: HandoverView) => {
    drawCamera(view);
    scanPart.hidden = report !== null;
    replaceChildren(reportHost, report?.el ?? null);
    const last = view.step === 'idle' || view.step === 'scanning' ? view.last_scan : null;
    if (last) {
      result.hidden = false;
      fillResult(result, last);
    } else {
      result.hidden = true;
    }
    reportBtn.hidden = !canReport(last);
    if (view.step === 'scanning') {
      const { stop, scanned } = view;
      replaceChildren(
        stopCard,
        h(
          'div',
          { class: 'stop-card-head' },
          h('span', { class: 'seq' }, String(stop.sequence)),
          h('div', null, h('div', { class: 'stop-address' }, stop.address), h('div', { class: 'stop-meta' }, stop.recipient_name)),
        ),
        customerNote(stop),
        h('p', { class: 'progress-text', testid: 'scan-count' }, t('scan.scanned', { done: scanned.length, total: stop.parcels.length })),
        parcelList(stop, scanned),
      );
      stopCard.hidden = false;
      finish.textContent =
        scanned.length < stop.parcels.length ? t('scan.continue_count', { count: scanned.length }) : t('scan.continue');
      replaceChildren(footer, finish, h('div', { class: 'row' }, cantDeliver, cancel));
      tabs.remove();
    } else {
      replaceChildren(stopCard, h('p', { class: 'hint' }, icon(ICONS.scan, 40), h('span', null, t('scan.idle_hint'))));
      replaceChildren(footer, tabs);
    }
    (footer.parentElement ?? footer).hidden = report !== null;
  };

  return {
    el,
    update(c) {
      badge.update(c);
      draw(c.state.view);
    },
    focus() {
      if (ctx.platform === 'desktop') input.focus();
    },
    destroy() {
      camera.destroy();
      report?.photo.destroy();
    },
  };
}
