// The camera kept open to collect label after label (a stop with several parcels, the van at
// the depot) until the courier taps Done. Each label goes to the screen once per session:
// the camera sees a label many times while it is in view, and a parcel is ticked once.
//
// On a phone the plugin's camera runs behind the webview, which turns transparent where the
// viewfinder is; on desktop the viewfinder is a <video>. Under it a panel shows what was
// collected, drawn by the screen that opened the camera, and a big Done button.

import type { Ctx } from '../app';
import { h, replaceChildren, type Child } from '../lib/dom';
import { hapticTick } from '../lib/platform';
import { ScanError, startLabelStream, type LabelStream } from '../lib/scanner';
import { t } from '../i18n';

export type CameraSheet = {
  /** The full-screen sheet, hidden while the camera is closed; add it to the screen. */
  el: HTMLElement;
  /** Shows the sheet at once (draw it right after) and starts the camera; a failure goes to `onError`. */
  open(): Promise<void>;
  /** Closes the camera (what Done does). */
  close(): void;
  isOpen(): boolean;
  /** Redraws the panel under the viewfinder. */
  draw(...children: Child[]): void;
  destroy(): void;
};

export type CameraSheetOptions = {
  title: string;
  /** Hands one new label to the core; false when that failed, so a new read tries again. */
  onLabel(label: string): Promise<boolean>;
  /** The camera could not start or stopped by itself: the message to show. */
  onError(message: string): void;
  /** After the camera closed (Done, or stopped by itself). */
  onClose?(): void;
};

/** The courier's words for a camera that failed. */
export function cameraMessage(e: unknown): string {
  if (e instanceof ScanError) {
    if (e.reason === 'denied') return t('scan.camera_denied');
    if (e.reason === 'nothing_found') return t('scan.nothing_found');
  }
  return t('scan.camera_unavailable');
}

let sheets = 0;

export function cameraSheet(ctx: Ctx, opts: CameraSheetOptions): CameraSheet {
  const titleId = `camera-title-${++sheets}`;
  const windowed = ctx.platform === 'mobile';
  const video = h('video', { class: 'camera-video', muted: true, playsinline: true, 'aria-hidden': 'true' });
  const panel = h('div', { class: 'camera-panel-body', testid: 'camera-panel' });
  const done = h('button', { class: 'btn primary big', testid: 'camera-done', onclick: () => close() }, t('scan.camera_done'));
  const el = h(
    'div',
    {
      class: 'camera-sheet',
      role: 'dialog',
      'aria-modal': 'true',
      'aria-labelledby': titleId,
      testid: 'camera-sheet',
      'data-mode': windowed ? 'windowed' : 'video',
      hidden: true,
    },
    h('div', { class: 'camera-view' }, windowed ? null : video, h('div', { class: 'camera-frame', 'aria-hidden': 'true' })),
    h(
      'div',
      { class: 'camera-panel' },
      h('h2', { id: titleId, class: 'camera-title' }, opts.title),
      h('p', { class: 'muted small' }, t('scan.camera_hint')),
      panel,
      done,
    ),
  );

  let stream: LabelStream | null = null;
  /** From the tap on the camera button to Done: labels read count. */
  let active = false;
  /** Labels of this session, each handed on once. */
  let seen = new Set<string>();
  /** One label at a time goes to the core, in the order read. */
  let queue: Promise<void> = Promise.resolve();

  const shown = (open: boolean) => {
    el.hidden = !open;
    if (windowed) document.documentElement.classList.toggle('camera-behind', open);
  };

  const onCode = (raw: string) => {
    const label = raw.trim();
    if (!label || seen.has(label) || !active) return;
    seen.add(label);
    hapticTick();
    queue = queue.then(async () => {
      if (!(await opts.onLabel(label))) seen.delete(label);
    });
  };

  const close = () => {
    if (!active) return;
    active = false;
    stream?.stop();
    stream = null;
    shown(false);
    opts.onClose?.();
  };

  const open = async () => {
    if (active) return;
    active = true;
    seen = new Set();
    shown(true);
    done.focus();
    try {
      const s = await startLabelStream(ctx.platform, video, onCode, (e) => {
        close();
        if (e.reason !== 'cancelled') opts.onError(cameraMessage(e));
      });
      // Done tapped while the camera was starting: close it again at once.
      if (active) stream = s;
      else s.stop();
    } catch (e) {
      active = false;
      shown(false);
      if (!(e instanceof ScanError && e.reason === 'cancelled')) opts.onError(cameraMessage(e));
    }
  };

  return {
    el,
    open,
    close,
    isOpen: () => active,
    draw: (...children) => replaceChildren(panel, ...children),
    destroy() {
      active = false;
      stream?.stop();
      stream = null;
      if (windowed) document.documentElement.classList.remove('camera-behind');
    },
  };
}
