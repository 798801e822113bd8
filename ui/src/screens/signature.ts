// The signature pad: a finger or a stylus (pointer events, one pointer at a time so a resting
// palm draws nothing), a baseline to sign on, Clear to start again. The strokes are kept as
// points, so a resize (the phone turned to landscape) draws them again, scaled to fit, and the
// export is drawn from them too: black on white, cropped to the ink, as PNG bytes for
// `savePhoto`.

import { h } from '../lib/dom';
import { t } from '../i18n';

type Point = [number, number];

export type SignaturePad = {
  el: HTMLElement;
  isEmpty(): boolean;
  /** The signature as a PNG. */
  png(): Promise<Uint8Array>;
  destroy(): void;
};

/** Line width in the pad's own units (CSS pixels when the first stroke began). */
const INK = 3;

function paint(g: CanvasRenderingContext2D, strokes: Point[][], s: number, ox: number, oy: number): void {
  g.lineCap = 'round';
  g.lineJoin = 'round';
  g.lineWidth = Math.max(2, INK * s);
  for (const stroke of strokes) {
    g.beginPath();
    stroke.forEach(([x, y], i) => (i ? g.lineTo(ox + x * s, oy + y * s) : g.moveTo(ox + x * s, oy + y * s)));
    // A tap is a dot.
    if (stroke.length === 1) g.lineTo(ox + stroke[0]![0] * s + 0.01, oy + stroke[0]![1] * s);
    g.stroke();
  }
}

export function signaturePad(onChange: (signed: boolean) => void): SignaturePad {
  const canvas = h('canvas', { class: 'sig-canvas', testid: 'signature-pad', role: 'img', 'aria-label': t('sig.pad') });
  const strokes: Point[][] = [];
  let current: Point[] | null = null;
  let pointer: number | null = null;
  // The pad's size when the first stroke began: the strokes' units. Later sizes show them
  // scaled to fit and centred, so a signature never stretches or leaves the pad.
  let base: { w: number; h: number } | null = null;
  let frame = 0;

  const size = () => {
    const r = canvas.getBoundingClientRect();
    return { w: r.width || 300, h: r.height || 150 };
  };
  const fit = () => {
    const { w, h: ht } = size();
    const b = base ?? { w, h: ht };
    const s = Math.min(w / b.w, ht / b.h);
    return { s, x: (w - b.w * s) / 2, y: (ht - b.h * s) / 2 };
  };
  const redraw = () => {
    frame = 0;
    const { w, h: ht } = size();
    const dpr = window.devicePixelRatio || 1;
    const bw = Math.round(w * dpr);
    const bh = Math.round(ht * dpr);
    if (canvas.width !== bw || canvas.height !== bh) {
      canvas.width = bw;
      canvas.height = bh;
    }
    const g = canvas.getContext('2d');
    if (!g) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, ht);
    g.strokeStyle = getComputedStyle(canvas).color || '#000';
    const f = fit();
    paint(g, strokes, f.s, f.x, f.y);
  };
  const schedule = () => {
    frame ||= requestAnimationFrame(redraw);
  };
  const at = (e: PointerEvent): Point => {
    const r = canvas.getBoundingClientRect();
    const f = fit();
    return [(e.clientX - r.left - f.x) / f.s, (e.clientY - r.top - f.y) / f.s];
  };
  const changed = () => {
    el.dataset.signed = String(strokes.length > 0);
    onChange(strokes.length > 0);
  };

  canvas.addEventListener('pointerdown', (e) => {
    if (pointer !== null) return;
    e.preventDefault();
    pointer = e.pointerId;
    try {
      canvas.setPointerCapture(e.pointerId);
    } catch {
      /* capture is a nicety: strokes leaving the pad just end there */
    }
    base ??= size();
    current = [at(e)];
    strokes.push(current);
    if (strokes.length === 1) changed();
    schedule();
  });
  canvas.addEventListener('pointermove', (e) => {
    if (e.pointerId !== pointer || !current) return;
    const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) current.push(at(ev));
    schedule();
  });
  const end = (e: PointerEvent) => {
    if (e.pointerId !== pointer) return;
    pointer = null;
    current = null;
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);

  const resize = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(schedule);
  resize?.observe(canvas);

  const clear = h(
    'button',
    {
      class: 'btn ghost sig-clear',
      type: 'button',
      testid: 'signature-clear',
      onclick: () => {
        strokes.length = 0;
        current = null;
        pointer = null;
        base = null;
        changed();
        // Wiped at once, in the same task as the tap, not at the next frame.
        if (frame) cancelAnimationFrame(frame);
        redraw();
      },
    },
    t('sig.clear'),
  );
  const el = h(
    'div',
    { class: 'stack', testid: 'signature-section', 'data-signed': 'false' },
    h('span', { class: 'label' }, t('sig.label')),
    h('p', { class: 'muted small' }, t('sig.hint')),
    h('div', { class: 'sig-box' }, canvas, h('div', { class: 'sig-line', 'aria-hidden': 'true' }, '×'), clear),
  );

  return {
    el,
    isEmpty: () => strokes.length === 0,
    async png() {
      const pts = strokes.flat();
      const xs = pts.map((p) => p[0]);
      const ys = pts.map((p) => p[1]);
      const margin = 2 * INK;
      const x0 = Math.min(...xs) - margin;
      const y0 = Math.min(...ys) - margin;
      const bw = Math.max(...xs) + margin - x0;
      const bh = Math.max(...ys) + margin - y0;
      const s = Math.min(2, 1600 / Math.max(bw, bh, 1));
      const out = document.createElement('canvas');
      out.width = Math.max(1, Math.ceil(bw * s));
      out.height = Math.max(1, Math.ceil(bh * s));
      const g = out.getContext('2d');
      if (g) {
        g.fillStyle = '#fff';
        g.fillRect(0, 0, out.width, out.height);
        g.strokeStyle = '#000';
        paint(g, strokes, s, -x0 * s, -y0 * s);
      }
      const blob = await new Promise<Blob | null>((resolve) => out.toBlob(resolve, 'image/png'));
      if (!blob) throw new Error(t('sig.failed'));
      return new Uint8Array(await blob.arrayBuffer());
    },
    destroy() {
      resize?.disconnect();
      if (frame) cancelAnimationFrame(frame);
    },
  };
}
