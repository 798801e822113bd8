// The photo field of the proof and open-box screens: the phone's camera on mobile (a file
// picker on desktop), a preview, retake. A webview gives files, not paths: `save` hands the
// bytes to Rust, which answers the path the next command takes.

import type { Ctx } from '../app';
import { h, icon, ICONS, replaceChildren } from '../lib/dom';
import { t } from '../i18n';

export type PhotoField = {
  el: HTMLElement;
  /** Whether a photo was taken or picked. */
  has(): boolean;
  /** Saves the photo through the core; null when there is none. */
  save(): Promise<string | null>;
  destroy(): void;
};

export function photoField(ctx: Ctx, label: string, hint: string | null, onPick: () => void): PhotoField {
  let photo: File | null = null;
  let previewUrl: string | null = null;
  const take = () => (ctx.platform === 'mobile' ? t('proof.photo_take') : t('proof.photo_pick'));
  const input = h('input', {
    id: 'photo-input',
    class: 'visually-hidden',
    testid: 'photo-input',
    type: 'file',
    accept: 'image/*',
    capture: ctx.platform === 'mobile' ? 'environment' : null,
  });
  const preview = h('div', { class: 'photo-preview', testid: 'photo-preview', hidden: true });
  const text = h('span', null, take());
  input.addEventListener('change', () => {
    photo = input.files?.[0] ?? null;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = photo ? URL.createObjectURL(photo) : null;
    preview.hidden = !photo;
    replaceChildren(preview, previewUrl ? h('img', { src: previewUrl, alt: label }) : null);
    text.textContent = photo ? t('proof.photo_retake') : take();
    if (photo) onPick();
  });
  const el = h(
    'div',
    { class: 'stack', testid: 'photo-section' },
    h('span', { class: 'label' }, label),
    hint ? h('p', { class: 'muted small' }, hint) : null,
    preview,
    h('label', { class: 'btn secondary', for: 'photo-input' }, icon(ICONS.camera), text),
    input,
  );
  return {
    el,
    has: () => photo !== null,
    save: async () => (photo ? ctx.backend.savePhoto(new Uint8Array(await photo.arrayBuffer())) : null),
    destroy() {
      if (previewUrl) URL.revokeObjectURL(previewUrl);
    },
  };
}
