// Scan: start a stop by scanning its first parcel, add the stop's other parcels, continue.
// Mobile uses the native scanner plugin; desktop a camera or an image through ZXing, and
// always a text field (typed, pasted, or driven by WebDriver).

import type { Ctx, Screen } from '../app';
import type { HandoverView, ScanResult } from '../lib/backend';
import { h, icon, ICONS, replaceChildren } from '../lib/dom';
import { scanImageFile, scanWithPlugin, startCameraScan, ScanError } from '../lib/scanner';
import { t } from '../i18n';
import { appBar, layout, syncBadge, tabBar } from './chrome';
import { handOverBy } from './method';

function resultText(r: ScanResult): string {
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
        : r.message;
    case 'invalid':
      return t('scan.invalid');
  }
}

const GOOD: ReadonlySet<string> = new Set(['added', 'already_scanned']);

export function scanScreen(ctx: Ctx): Screen {
  const badge = syncBadge(ctx);
  const stopCard = h('div', { class: 'stop-card', testid: 'scan-stop' });
  const result = h('div', { class: 'scan-result', testid: 'scan-result', role: 'status', 'aria-live': 'assertive', hidden: true });
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
  const video = h('video', { class: 'camera', muted: true, playsinline: true, hidden: true, 'aria-hidden': 'true' });
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
  let stopCamera: (() => void) | null = null;
  let busy = false;

  const showCameraMessage = (msg: string | null) => {
    cameraMsg.textContent = msg ?? '';
    cameraMsg.hidden = msg === null;
  };

  const scan = async (raw: string) => {
    const barcode = raw.trim();
    if (!barcode || busy) return;
    busy = true;
    submit.disabled = true;
    const view = await ctx.run(() => ctx.backend.scanParcel(barcode));
    busy = false;
    submit.disabled = false;
    if (view) {
      input.value = '';
      ctx.setView(view);
    }
    if (ctx.platform === 'desktop') input.focus();
  };

  const scanFailed = (e: unknown) => {
    if (e instanceof ScanError) {
      if (e.reason === 'cancelled') return;
      showCameraMessage(
        e.reason === 'denied'
          ? t('scan.camera_denied')
          : e.reason === 'nothing_found'
            ? t('scan.nothing_found')
            : t('scan.camera_unavailable'),
      );
    } else {
      showCameraMessage(t('scan.camera_unavailable'));
    }
  };

  const cameraBtn = h('button', { class: 'btn secondary', testid: 'scan-camera' }, icon(ICONS.camera), t('scan.camera'));
  cameraBtn.addEventListener('click', async () => {
    showCameraMessage(null);
    if (ctx.platform === 'mobile') {
      try {
        await scan(await scanWithPlugin('label'));
      } catch (e) {
        scanFailed(e);
      }
      return;
    }
    if (stopCamera) {
      stopCamera();
      stopCamera = null;
      video.hidden = true;
      cameraBtn.lastChild!.textContent = t('scan.camera');
      return;
    }
    try {
      cameraBtn.lastChild!.textContent = t('scan.camera_starting');
      video.hidden = false;
      stopCamera = await startCameraScan(video, (code) => {
        stopCamera = null;
        video.hidden = true;
        cameraBtn.lastChild!.textContent = t('scan.camera');
        void scan(code);
      });
      cameraBtn.lastChild!.textContent = t('scan.stop_camera');
    } catch (e) {
      video.hidden = true;
      cameraBtn.lastChild!.textContent = t('scan.camera');
      scanFailed(e);
    }
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
      scanFailed(e);
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

  const footer = h('div', { class: 'stack' });
  const tabs = tabBar(ctx, 'scan');
  const bar = appBar(t('scan.title'), {
    back: () => (ctx.state.view.step === 'scanning' ? cancel.click() : ctx.setTab('route')),
    right: badge.el,
  });

  const el = layout(
    bar,
    [stopCard, result, h('div', { class: 'scan-tools' }, cameraBtn, imageBtn, imageInput), cameraMsg, video, form],
    footer,
  );
  el.classList.add('scan-screen');

  const draw = (view: HandoverView) => {
    const last = view.step === 'idle' || view.step === 'scanning' ? view.last_scan : null;
    if (last) {
      result.hidden = false;
      result.dataset.outcome = last.outcome;
      result.className = `scan-result ${GOOD.has(last.outcome) ? 'good' : 'bad'}`;
      replaceChildren(result, icon(GOOD.has(last.outcome) ? ICONS.check : ICONS.warning), h('span', null, resultText(last)));
    } else {
      result.hidden = true;
    }
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
        h('p', { class: 'progress-text', testid: 'scan-count' }, t('scan.scanned', { done: scanned.length, total: stop.parcels.length })),
        h(
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
        ),
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
      stopCamera?.();
    },
  };
}
