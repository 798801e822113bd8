// Enroll: scan the fleet manager's QR (mobile) or type the code and the server address.

import type { Ctx, Screen } from '../app';
import { h, icon, ICONS } from '../lib/dom';
import { scanWithPlugin, ScanError } from '../lib/scanner';
import { errorText, t } from '../i18n';
import { appBar, layout } from './chrome';

export function enrollScreen(ctx: Ctx): Screen {
  const error = h('p', { class: 'field-error', role: 'alert', testid: 'enroll-error', hidden: true });
  const code = h('input', {
    id: 'enroll-code',
    class: 'input mono',
    testid: 'enroll-input',
    autocomplete: 'off',
    autocapitalize: 'characters',
    spellcheck: 'false',
    placeholder: t('enroll.code_hint'),
    'aria-describedby': 'enroll-error',
  });
  const server = h('input', {
    id: 'enroll-server',
    class: 'input',
    testid: 'enroll-server',
    type: 'url',
    inputmode: 'url',
    autocomplete: 'url',
    autocapitalize: 'off',
    spellcheck: 'false',
    placeholder: t('enroll.server_hint'),
    // A fleet build names its server (DOORSTEP_SERVER_URL): the courier only types the code.
    value: ctx.state.status?.default_server_url ?? '',
  });
  const submit = h('button', { class: 'btn primary big', type: 'submit', testid: 'enroll-submit' }, t('enroll.submit'));
  error.id = 'enroll-error';

  const showError = (msg: string | null) => {
    error.textContent = msg ?? '';
    error.hidden = msg === null;
  };

  const enroll = async (input: string, serverUrl: string | null) => {
    submit.disabled = true;
    submit.textContent = t('common.working');
    const r = await ctx.attempt(() => ctx.backend.enroll(input, serverUrl));
    submit.disabled = false;
    submit.textContent = t('enroll.submit');
    if ('err' in r) {
      error.dataset.code = r.err.code;
      showError(errorText(r.err.code));
      return;
    }
    ctx.setStatus(r.ok);
    // The first manifest also brings the fleet's update policy (refreshRoute reads the status).
    const [, view, sync] = await Promise.all([
      ctx.refreshRoute(),
      ctx.run(() => ctx.backend.handoverView()),
      ctx.run(() => ctx.backend.syncStatus()),
    ]);
    if (view) ctx.setView(view);
    if (sync) ctx.setSync(sync);
  };

  const form = h(
    'form',
    {
      class: 'stack',
      novalidate: true,
      onsubmit: (e: Event) => {
        e.preventDefault();
        const input = code.value.trim();
        const url = server.value.trim();
        if (!input) return showError(t('enroll.need_code'));
        const isLink = input.toLowerCase().startsWith('doorstep://');
        if (!isLink && !url) return showError(t('enroll.need_server'));
        showError(null);
        void enroll(input, url || null);
      },
    },
    h('label', { class: 'label', for: 'enroll-code' }, t('enroll.code_label')),
    code,
    h('label', { class: 'label', for: 'enroll-server' }, t('enroll.server_label')),
    server,
    error,
    submit,
  );

  const scanQr =
    ctx.platform === 'mobile'
      ? [
          h(
            'button',
            {
              class: 'btn primary big',
              testid: 'enroll-scan',
              onclick: async () => {
                try {
                  const payload = await scanWithPlugin('qr');
                  showError(null);
                  await enroll(payload, null);
                } catch (e) {
                  if (e instanceof ScanError && e.reason === 'denied') showError(t('scan.camera_denied'));
                  else if (!(e instanceof ScanError && e.reason === 'cancelled')) showError(t('scan.camera_unavailable'));
                }
              },
            },
            icon(ICONS.qr),
            t('enroll.scan_qr'),
          ),
          h('p', { class: 'divider' }, h('span', null, t('enroll.or_type'))),
        ]
      : null;

  const el = layout(
    appBar(t('enroll.title')),
    h(
      'div',
      { class: 'enroll' },
      h('div', { class: 'hero', 'aria-hidden': 'true' }, icon(ICONS.qr, 56)),
      h('p', { class: 'lead' }, t('enroll.intro')),
      scanQr,
      form,
    ),
  );
  el.dataset.testid = 'enroll-screen';
  return { el, focus: () => (ctx.platform === 'desktop' ? code.focus() : undefined) };
}
