// Proof: who received it, a photo where the policy asks for one, confirm. Confirm commits
// the delivery on the phone (durably) — from then on it is safe whatever happens.

import { currentLocation } from '../lib/location';
import type { Ctx, Screen } from '../app';
import type { HandoverView, Verification } from '../lib/backend';
import { h, icon, ICONS, replaceChildren } from '../lib/dom';
import { t, type MessageKey } from '../i18n';
import { appBar, layout } from './chrome';

type ProofView = Extract<HandoverView, { step: 'proof' }>;

const VERIFICATION_TEXT: Record<Verification, MessageKey> = {
  not_required: 'proof.no_check',
  online_code: 'proof.verified_online',
  offline_code: 'proof.verified_offline',
  token: 'proof.verified_token',
};

export function proofScreen(ctx: Ctx): Screen {
  const view = ctx.state.view as ProofView;
  let photo: File | null = null;
  let previewUrl: string | null = null;

  const check = h(
    'div',
    { class: `verified ${view.verification === 'offline_code' ? 'offline' : 'good'}`, testid: 'proof-verification', 'data-verification': view.verification },
    icon(view.verification === 'offline_code' ? ICONS.cloudOff : ICONS.check, 28),
    h('span', null, t(VERIFICATION_TEXT[view.verification])),
  );
  const offline = view.offline
    ? h('p', { class: 'offline-label', testid: 'offline-label' }, icon(ICONS.cloudOff, 20), h('span', null, t('sync.offline')))
    : null;

  const name = h('input', {
    id: 'recipient-name',
    class: 'input',
    testid: 'recipient-name',
    autocomplete: 'off',
    autocapitalize: 'words',
    enterkeyhint: 'done',
    placeholder: t('proof.name_hint'),
    value: view.stop.recipient_name,
  });
  const error = h('p', { class: 'field-error', role: 'alert', testid: 'proof-error', hidden: true });
  const showError = (msg: string | null) => {
    error.textContent = msg ?? '';
    error.hidden = msg === null;
  };

  const fileInput = h('input', {
    id: 'photo-input',
    class: 'visually-hidden',
    testid: 'photo-input',
    type: 'file',
    accept: 'image/*',
    capture: ctx.platform === 'mobile' ? 'environment' : null,
  });
  const preview = h('div', { class: 'photo-preview', testid: 'photo-preview', hidden: true });
  const photoBtnText = h('span', null, ctx.platform === 'mobile' ? t('proof.photo_take') : t('proof.photo_pick'));
  fileInput.addEventListener('change', () => {
    photo = fileInput.files?.[0] ?? null;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = photo ? URL.createObjectURL(photo) : null;
    preview.hidden = !photo;
    replaceChildren(preview, previewUrl ? h('img', { src: previewUrl, alt: t('proof.photo_label') }) : null);
    photoBtnText.textContent = photo ? t('proof.photo_retake') : ctx.platform === 'mobile' ? t('proof.photo_take') : t('proof.photo_pick');
    if (photo) showError(null);
  });

  const photoSection =
    view.photo_required || view.stop.parcels.some((p) => p.photo_required)
      ? h(
          'div',
          { class: 'stack', testid: 'photo-section' },
          h('span', { class: 'label' }, t('proof.photo_label')),
          h('p', { class: 'muted small' }, t('proof.photo_required')),
          preview,
          h('label', { class: 'btn secondary', for: 'photo-input' }, icon(ICONS.camera), photoBtnText),
          fileInput,
        )
      : null;

  const confirm = h('button', { class: 'btn primary big', type: 'submit', testid: 'confirm-proof' }, icon(ICONS.check), t('proof.confirm'));
  const form = h(
    'form',
    {
      class: 'stack',
      novalidate: true,
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const who = name.value.trim();
        if (!who) return showError(t('proof.need_name'));
        if (view.photo_required && !photo) return showError(t('proof.need_photo'));
        showError(null);
        confirm.disabled = true;
        // A webview gives files, not paths: the bytes go to Rust, which answers the path.
        const picked = photo;
        const r = await ctx.attempt(async () => {
          if (ctx.platform === 'mobile') {
            // Best effort: the position goes with the proof when the phone has one.
            await ctx.backend.setLocation(await currentLocation()).catch(() => null);
          }
          const path = picked ? await ctx.backend.savePhoto(new Uint8Array(await picked.arrayBuffer())) : null;
          return ctx.backend.submitProof(who, path);
        });
        confirm.disabled = false;
        if ('ok' in r) ctx.setView(r.ok);
        else if (r.err.code === 'recipient_required') showError(t('proof.need_name'));
        else if (r.err.code === 'photo_required') showError(t('proof.need_photo'));
        else showError(r.err.message);
      },
    },
    h('label', { class: 'label', for: 'recipient-name' }, t('proof.name_label')),
    name,
    photoSection,
    error,
  );
  confirm.setAttribute('form', 'proof-form');
  form.id = 'proof-form';

  const el = layout(
    appBar(t('proof.title')),
    h(
      'div',
      { class: 'stack proof', testid: 'proof-screen' },
      check,
      offline,
      h('div', { class: 'stop-card compact' }, h('div', { class: 'stop-address' }, view.stop.address), h(
          'div',
          { class: 'stop-meta' },
          view.stop.recipient_name,
          ' · ',
          view.scanned.length === 1 ? t('route.parcel') : t('route.parcels', { count: view.scanned.length }),
        )),
      form,
    ),
    confirm,
  );
  return {
    el,
    destroy() {
      if (previewUrl) URL.revokeObjectURL(previewUrl);
    },
  };
}
