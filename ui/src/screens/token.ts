// Desktop fallback for "scan customer's QR": a camera or picture through ZXing, or the QR's
// text pasted. (On mobile the code screen opens the native scanner directly.)

import type { Ctx, Screen } from '../app';
import { h, icon, ICONS } from '../lib/dom';
import { scanImageFile, startCameraScan, ScanError } from '../lib/scanner';
import { errorText, t } from '../i18n';
import { appBar, layout } from './chrome';

export function tokenScreen(ctx: Ctx): Screen {
  const error = h('p', { class: 'field-error', role: 'alert', testid: 'token-error', hidden: true });
  const showError = (msg: string | null) => {
    error.textContent = msg ?? '';
    error.hidden = msg === null;
  };
  const input = h('textarea', { id: 'token-input', class: 'input mono', testid: 'token-input', rows: '3', spellcheck: 'false', autocomplete: 'off' });
  const video = h('video', { class: 'camera', muted: true, playsinline: true, hidden: true, 'aria-hidden': 'true' });
  let stop: (() => void) | null = null;

  const submitToken = async (token: string) => {
    if (!token.trim()) return;
    const r = await ctx.attempt(() => ctx.backend.submitToken(token.trim()));
    if ('ok' in r) ctx.setView(r.ok);
    else showError(errorText(r.err.code));
  };
  const failed = (e: unknown) =>
    showError(e instanceof ScanError && e.reason === 'nothing_found' ? t('scan.nothing_found') : e instanceof ScanError && e.reason === 'denied' ? t('scan.camera_denied') : t('scan.camera_unavailable'));

  const camera = h('button', { class: 'btn secondary', testid: 'token-camera' }, icon(ICONS.camera), t('scan.camera'));
  camera.addEventListener('click', async () => {
    showError(null);
    if (stop) {
      stop();
      stop = null;
      video.hidden = true;
      return;
    }
    try {
      video.hidden = false;
      stop = await startCameraScan(
        video,
        (value) => {
          stop = null;
          video.hidden = true;
          input.value = value;
          void submitToken(value);
        },
        // The app went to the background: the camera is off; the courier taps it on again.
        () => {
          stop = null;
          video.hidden = true;
        },
      );
    } catch (e) {
      video.hidden = true;
      failed(e);
    }
  });
  const file = h('input', { id: 'token-file', type: 'file', accept: 'image/*', class: 'visually-hidden' });
  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    file.value = '';
    if (!f) return;
    try {
      const value = await scanImageFile(f);
      input.value = value;
      await submitToken(value);
    } catch (e) {
      failed(e);
    }
  });

  const form = h(
    'form',
    {
      id: 'token-form',
      class: 'stack',
      onsubmit: (e: Event) => {
        e.preventDefault();
        void submitToken(input.value);
      },
    },
    h('div', { class: 'scan-tools' }, camera, h('label', { class: 'btn secondary', for: 'token-file' }, icon(ICONS.image), t('scan.image')), file),
    video,
    h('label', { class: 'label', for: 'token-input' }, t('code.token_label')),
    input,
    error,
  );
  const el = layout(
    appBar(t('code.scan_qr'), { back: () => ctx.setOverlay(null) }),
    h('div', { testid: 'token-screen' }, form),
    h('button', { class: 'btn primary big', type: 'submit', form: 'token-form', testid: 'token-submit' }, t('code.token_submit')),
  );
  return { el, destroy: () => stop?.() };
}
