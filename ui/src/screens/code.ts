// The code keypad: a big 3×4 keypad, the digits in grouped boxes, backspace, a haptic tick,
// automatic submit at full length, the Damm typo check before the server is asked, attempts
// left, a plain offline label, and the two ways out (customer's QR, can't give the code).
// A nearly invisible one-time-code input over the boxes lets hardware keyboards, the OS
// keyboard and the OS's SMS code suggestion type too.

import type { Ctx, Screen } from '../app';
import type { HandoverView } from '../lib/backend';
import { dammIsValid } from '../lib/damm';
import { h, icon, ICONS, replaceChildren } from '../lib/dom';
import { groupDigits, KeypadInput } from '../lib/keypad';
import { hapticTick } from '../lib/platform';
import { scanWithPlugin, ScanError } from '../lib/scanner';
import { errorText, t } from '../i18n';
import { appBar, layout } from './chrome';

type CodeView = Extract<HandoverView, { step: 'code' }>;

export function codeScreen(ctx: Ctx): Screen {
  const first = ctx.state.view as CodeView;
  const keypad = new KeypadInput(first.code_length);
  let lastView: HandoverView | null = null;
  /** Set when the last submit came back as a wrong code; shown by the next `apply`. */
  let wrongAnswer = false;
  let busy = false;
  /** Set when the typed digits failed a check: the next digit starts over. */
  let rejected = false;

  const prompt = h('p', { class: 'code-prompt' });
  const offline = h(
    'p',
    { class: 'offline-label', testid: 'offline-label', role: 'status', hidden: true },
    icon(ICONS.cloudOff, 20),
    h('span', null, t('code.offline')),
  );
  const boxes = h('div', { class: 'code-boxes', 'aria-hidden': 'true' });
  const hidden = h('input', {
    class: 'code-input',
    testid: 'code-input',
    type: 'text',
    inputmode: 'numeric',
    pattern: '[0-9]*',
    autocomplete: 'one-time-code',
    maxlength: String(first.code_length + 4),
    'aria-label': t('code.hidden_input'),
    spellcheck: 'false',
  });
  const display = h('div', { class: 'code-display', testid: 'code-display', role: 'group' }, boxes, hidden);
  const error = h('p', { class: 'code-error', testid: 'code-error', role: 'alert', 'aria-live': 'assertive' });
  const attempts = h('p', { class: 'attempts', testid: 'attempts-left', 'aria-live': 'polite' });
  const status = h('p', { class: 'code-status', role: 'status', 'aria-live': 'polite', testid: 'code-status' });

  const setError = (text: string | null, code?: string) => {
    error.textContent = text ?? '';
    error.hidden = text === null;
    if (code) error.dataset.code = code;
    else delete error.dataset.code;
    display.classList.toggle('error', text !== null);
    if (text !== null) {
      display.classList.remove('shake');
      void display.offsetWidth; // restart the animation
      display.classList.add('shake');
    }
  };

  const draw = () => {
    const len = keypad.length;
    const groups = groupDigits(keypad.digits, len, ' ');
    let at = 0;
    replaceChildren(
      boxes,
      groups.map((g) =>
        h(
          'span',
          { class: 'code-group' },
          [...g].map((ch) => {
            const filled = ch !== ' ';
            const isNext = at++ === keypad.digits.length;
            return h('span', { class: `code-box${filled ? ' filled' : ''}${isNext && !busy ? ' next' : ''}` }, filled ? ch : '');
          }),
        ),
      ),
    );
    display.dataset.value = keypad.digits.length === len ? 'complete' : 'partial';
    display.dataset.length = String(keypad.digits.length);
    display.setAttribute('aria-label', t('code.display_label', { count: keypad.digits.length, total: len }));
    if (hidden.value !== keypad.digits) hidden.value = keypad.digits;
  };

  const submit = async () => {
    if (busy || !keypad.complete) return;
    const code = keypad.digits;
    if (!dammIsValid(code)) {
      rejected = true;
      setError(t('code.check_with_customer'), 'code_format');
      // The core refuses it the same way without asking the server, and counts it for the
      // record's typos_caught; the answer adds nothing to what is shown already.
      void ctx.attempt(() => ctx.backend.submitCode(code));
      return;
    }
    busy = true;
    el.classList.add('busy');
    status.textContent = t('code.checking');
    draw();
    const view = await ctx.run(() => ctx.backend.submitCode(code));
    busy = false;
    el.classList.remove('busy');
    status.textContent = '';
    keypad.clear();
    draw();
    // Still on the code step with no error: the server said the code is wrong.
    if (view?.step === 'code' && !view.error) wrongAnswer = true;
    if (view) ctx.setView(view);
  };

  const press = (digit: string) => {
    if (busy) return;
    if (rejected) {
      keypad.clear();
      rejected = false;
    }
    if (keypad.digits === '') setError(null);
    if (!keypad.press(digit)) return;
    hapticTick();
    draw();
    if (keypad.complete) void submit();
  };

  const backspace = () => {
    if (busy) return;
    if (keypad.backspace()) {
      hapticTick();
      rejected = false;
      setError(null);
      draw();
    }
  };

  hidden.addEventListener('input', () => {
    if (busy) {
      hidden.value = keypad.digits;
      return;
    }
    const before = keypad.digits;
    keypad.setFromText(hidden.value);
    if (keypad.digits !== before) {
      rejected = false;
      if (keypad.digits.length < before.length) setError(null);
    }
    draw();
    if (keypad.complete && keypad.digits !== before) void submit();
  });
  hidden.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      void submit();
    }
  });
  display.addEventListener('click', () => hidden.focus());

  // Digits typed while focus is on a key button (not in a text field) still count.
  const onKey = (e: KeyboardEvent) => {
    const target = e.target as HTMLElement | null;
    if (target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA')) return;
    if (/^[0-9]$/.test(e.key)) {
      e.preventDefault();
      press(e.key);
    } else if (e.key === 'Backspace') {
      e.preventDefault();
      backspace();
    }
  };
  document.addEventListener('keydown', onKey);

  const key = (label: string, testid: string, onPress: () => void, aria: string, cls = '') =>
    h(
      'button',
      {
        class: `key ${cls}`,
        testid,
        type: 'button',
        'aria-label': aria,
        onpointerdown: (e: PointerEvent) => {
          e.preventDefault(); // keep focus where it is
          const el = e.currentTarget as HTMLElement;
          el.classList.add('pressed');
          setTimeout(() => el.classList.remove('pressed'), 140);
        },
        onclick: onPress,
      },
      label,
    );
  const keys = h(
    'div',
    { class: 'keypad', role: 'group', 'aria-label': t('code.title') },
    ['1', '2', '3', '4', '5', '6', '7', '8', '9'].map((d) => key(d, `key-${d}`, () => press(d), t('code.key_label', { digit: d }))),
    h('span', { class: 'key-spacer', 'aria-hidden': 'true' }),
    key('0', 'key-0', () => press('0'), t('code.key_label', { digit: '0' })),
    (() => {
      const b = key('', 'key-backspace', backspace, t('code.backspace'), 'key-fn');
      b.appendChild(icon(ICONS.backspace, 32));
      return b;
    })(),
  );

  const scanQr = h(
    'button',
    {
      class: 'btn secondary',
      testid: 'scan-customer-qr',
      onclick: async () => {
        if (ctx.platform === 'desktop') return ctx.setOverlay('token');
        try {
          const token = await scanWithPlugin('qr');
          const v = await ctx.run(() => ctx.backend.submitToken(token));
          if (v) ctx.setView(v);
        } catch (e) {
          if (!(e instanceof ScanError && e.reason === 'cancelled')) {
            setError(e instanceof ScanError && e.reason === 'denied' ? t('scan.camera_denied') : t('scan.camera_unavailable'));
          }
        }
      },
    },
    icon(ICONS.qr),
    t('code.scan_qr'),
  );
  const cantGive = h(
    'button',
    { class: 'btn ghost', testid: 'cant-give-code', onclick: () => ctx.setOverlay('exceptions', 'no_code') },
    t('code.cant_give'),
  );
  const resend = h('button', { class: 'link-btn', testid: 'resend-code' }, t('code.resend'));
  resend.addEventListener('click', async () => {
    const r = await ctx.attempt(() => ctx.backend.resendCode());
    status.textContent = 'ok' in r ? t('code.resent') : errorText(r.err.code);
  });

  const el = layout(
    appBar(t('code.title')),
    h(
      'div',
      { class: 'code-screen' },
      h('div', { class: 'code-head' }, prompt, offline),
      display,
      h('div', { class: 'code-feedback' }, error, attempts, status),
      keys,
      h('div', { class: 'code-alt' }, scanQr, cantGive),
      resend,
    ),
  );
  el.classList.add('code-layout');
  el.dataset.testid = 'code-screen';

  const apply = (view: CodeView) => {
    if (view === lastView) return;
    const isFirst = lastView === null;
    lastView = view;
    prompt.textContent = t('code.ask', { name: view.stop.recipient_name });
    offline.hidden = !view.offline;
    el.classList.toggle('offline', view.offline);
    resend.hidden = view.offline;
    if (view.attempts_left === null) {
      attempts.hidden = true;
    } else {
      attempts.hidden = false;
      attempts.dataset.count = String(view.attempts_left);
      attempts.textContent =
        view.attempts_left === 1 ? t('code.attempt_left') : t('code.attempts_left', { count: view.attempts_left });
      attempts.classList.toggle('warn', view.attempts_left <= 2);
    }
    if (view.error) {
      setError(view.error.code === 'code_format' ? t('code.check_with_customer') : errorText(view.error.code), view.error.code);
    } else if (wrongAnswer) {
      setError(t('code.wrong'), 'wrong_code');
    } else if (isFirst) {
      setError(null);
    }
    wrongAnswer = false;
    draw();
  };

  return {
    el,
    update(c) {
      if (c.state.view.step === 'code') apply(c.state.view);
    },
    focus() {
      if (ctx.platform === 'desktop') hidden.focus({ preventScroll: true });
      else el.querySelector<HTMLElement>('h1')?.focus({ preventScroll: true });
    },
    destroy() {
      document.removeEventListener('keydown', onKey);
    },
  };
}

export function lockedScreen(ctx: Ctx): Screen {
  const el = layout(
    appBar(t('locked.title')),
    h(
      'div',
      { class: 'center-card locked', testid: 'locked-screen' },
      h('div', { class: 'big-icon bad', 'aria-hidden': 'true' }, icon(ICONS.lock, 56)),
      h('h2', null, ctx.state.view.step === 'locked' ? ctx.state.view.stop.address : t('locked.title')),
      h('p', { class: 'lead' }, t('locked.body')),
    ),
    h(
      'button',
      { class: 'btn danger big', testid: 'locked-report', onclick: () => ctx.setOverlay('exceptions', 'code_locked') },
      t('locked.report'),
    ),
  );
  return { el };
}
