import { describe, expect, it } from 'vitest';
import { mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import { App, screenFor, type AppState } from '../../src/app';
import { backend } from '../../src/lib/backend';
import { screens } from '../../src/screens';
import { door, FakeBackend, GOOD_CODE, withCheckDigit } from '../fixtures/fake-backend';
import { $, click, fake, root, settle, startApp, useAppHarness } from '../fixtures/harness';

const typeCode = async (code: string) => {
  for (const d of code) await click(`key-${d}`);
};
const scan = async (barcode: string) => {
  const input = $('barcode-input') as HTMLInputElement;
  input.value = barcode;
  await click('scan-submit');
};
const commands = () => fake.calls.map((c) => c.cmd);

useAppHarness();

describe('which screen shows', () => {
  const base: AppState = {
    status: new FakeBackend().status,
    route: null,
    view: { step: 'idle', last_scan: null },
    sync: null,
    queue: null,
    tab: 'queue',
    overlay: null,
    reasonHint: null,
    doneReason: null,
    error: null,
    dismissedUpdate: null,
  };

  it('shows the update screen before anything else when an update is required', () => {
    const status = new FakeBackend({ updateRequired: true, enrolled: false }).status;
    expect(screenFor({ ...base, status })).toBe('update');
  });

  it('lets a stop under way finish before the update screen blocks, as the core does', () => {
    const status = new FakeBackend({ updateRequired: true }).status;
    const stop = new FakeBackend().route.stops[1]!;
    expect(screenFor({ ...base, status, view: { step: 'proof', stop, scanned: [], verification: 'online_code', offline: false, photo_required: false, door: door('hand_to_recipient'), safe_places: [] } })).toBe('proof');
    expect(screenFor({ ...base, status, view: { step: 'done', stop, scanned: [], outcome: 'delivered', event_id: 'e1' } })).toBe('done');
    expect(screenFor({ ...base, status, view: { step: 'idle', last_scan: null } })).toBe('update');
  });

  it('does not block for an update that is only available', () => {
    const status = new FakeBackend({ update: { ...new FakeBackend({ updateRequired: true }).status.update!, required: false, available: true } }).status;
    expect(screenFor({ ...base, status, tab: 'route' })).toBe('route');
  });

  it('shows enrollment when the phone is not enrolled', () => {
    expect(screenFor({ ...base, status: new FakeBackend({ enrolled: false }).status })).toBe('enroll');
  });

  it('follows the handover step over the chosen tab', () => {
    const stop = new FakeBackend().route.stops[1]!;
    expect(screenFor({ ...base, view: { step: 'locked', stop, scanned: [] } })).toBe('locked');
    expect(screenFor({ ...base, view: { step: 'idle', last_scan: null } })).toBe('queue');
  });

  it('shows an overlay only while a handover is under way', () => {
    const stop = new FakeBackend().route.stops[1]!;
    expect(screenFor({ ...base, overlay: 'exceptions', view: { step: 'scanning', stop, scanned: [], last_scan: null, methods: [], preselected: null } })).toBe('exceptions');
    expect(screenFor({ ...base, overlay: 'exceptions' })).toBe('queue');
  });
});

describe('the handover flow on mocked IPC', () => {
  it('goes from the route through scan, a wrong code, the right code and proof to done', async () => {
    await startApp();
    expect(root.dataset.screen).toBe('route');
    expect($('stop-2')?.dataset.status).toBe('todo');

    await click('scan-button');
    expect(root.dataset.screen).toBe('scan');
    await scan('00340123450000000017');
    expect($('scan-result')?.dataset.outcome).toBe('added');
    await scan('00340123450000000024');
    expect($('scan-count')?.textContent).toBe('Scanned 2 of 2');

    await click('finish-scanning');
    expect(root.dataset.screen).toBe('code');
    expect($('attempts-left')?.hidden).toBe(true);

    await typeCode(withCheckDigit('111111'));
    expect($('attempts-left')?.dataset.count).toBe('4');
    expect($('code-error')?.textContent).toBe('Wrong code.');
    expect($('code-display')?.dataset.length).toBe('0');

    await typeCode(GOOD_CODE);
    expect(root.dataset.screen).toBe('proof');
    (($('recipient-name') as HTMLInputElement).value = 'Ben Okafor');
    await click('confirm-proof');
    expect(root.dataset.screen).toBe('done');
    expect($('done-screen')?.dataset.outcome).toBe('delivered');

    await click('next-delivery');
    expect(root.dataset.screen).toBe('route');
    expect($('stop-2')?.dataset.status).toBe('delivered');
    expect(commands()).toContain('submit_proof');
  });

  it('catches a typo in the code on the phone and only tells the core, which counts it', async () => {
    await startApp();
    await click('scan-button');
    await scan('00340123450000000017');
    await click('finish-scanning');
    const typo = GOOD_CODE.slice(0, 2) + String((Number(GOOD_CODE[2]) + 1) % 10) + GOOD_CODE.slice(3);
    await typeCode(typo);
    expect($('code-error')?.dataset.code).toBe('code_format');
    expect($('code-error')?.textContent).toContain('Check the code with the customer');
    expect($('attempts-left')?.hidden).toBe(true);
    await settle();
    // The core hears of the typo (for the record's typos_caught) and refuses it for its
    // check digit, so no attempt is spent and the server never sees it.
    expect(fake.calls.filter((c) => c.cmd === 'submit_code').map((c) => c.args)).toEqual([{ code: typo }]);
    expect(fake.typos).toBe(1);
    expect(root.dataset.screen).toBe('code');
    expect($('code-error')?.dataset.code).toBe('code_format');

    // The next digit starts a new code; the right one goes through.
    await typeCode(GOOD_CODE);
    expect(fake.calls.filter((c) => c.cmd === 'submit_code').map((c) => c.args)).toEqual([{ code: typo }, { code: GOOD_CODE }]);
    expect(root.dataset.screen).toBe('proof');
    expect(fake.typos).toBe(1);
  });

  it('accepts a code typed into the one-time-code field and submits it at full length', async () => {
    await startApp();
    await click('scan-button');
    await scan('00340123450000000017');
    await click('finish-scanning');
    const input = $('code-input') as HTMLInputElement;
    expect(input.getAttribute('inputmode')).toBe('numeric');
    expect(input.getAttribute('autocomplete')).toBe('one-time-code');
    input.value = `${GOOD_CODE.slice(0, 3)} ${GOOD_CODE.slice(3)}`;
    input.dispatchEvent(new Event('input'));
    await settle();
    expect(fake.calls.find((c) => c.cmd === 'submit_code')?.args).toEqual({ code: GOOD_CODE });
    expect(root.dataset.screen).toBe('proof');
  });

  it('supports backspace on the keypad', async () => {
    await startApp();
    await click('scan-button');
    await scan('00340123450000000017');
    await click('finish-scanning');
    await typeCode('123');
    await click('key-backspace');
    expect($('code-display')?.dataset.length).toBe('2');
    expect(root.querySelectorAll('.code-box.filled').length).toBe(2);
  });

  it('locks after the last wrong code and records the exception with code_locked', async () => {
    await startApp({ attempts: 1 });
    await click('scan-button');
    await scan('00340123450000000017');
    await click('finish-scanning');
    await typeCode(withCheckDigit('222222'));
    expect(root.dataset.screen).toBe('locked');
    await click('locked-report');
    expect(root.dataset.screen).toBe('exceptions');
    expect(($('reason-code_locked') as HTMLInputElement).checked).toBe(true);
    await click('exception-submit');
    expect(root.dataset.screen).toBe('done');
    expect($('done-screen')?.dataset.outcome).toBe('exception');
    expect(fake.calls.find((c) => c.cmd === 'report_exception')?.args).toEqual({ reason: 'code_locked', note: null, idCheck: null });
  });

  it("offers no_code when the customer can't give the code", async () => {
    await startApp();
    await click('scan-button');
    await scan('00340123450000000017');
    await click('finish-scanning');
    await click('cant-give-code');
    expect(root.dataset.screen).toBe('exceptions');
    expect(($('reason-no_code') as HTMLInputElement).checked).toBe(true);
    await click('back');
    expect(root.dataset.screen).toBe('code');
  });

  it('says so when a parcel is not on the route or belongs to another stop', async () => {
    await startApp();
    await click('scan-button');
    await scan('ZZ999999999ZZ');
    expect($('scan-result')?.dataset.outcome).toBe('not_on_route');
    expect($('scan-result')?.textContent).toBe('Not on your route');
    await scan('00340123450000000017');
    await scan('RR123456785GB');
    expect($('scan-result')?.dataset.outcome).toBe('other_stop');
    expect($('scan-result')?.textContent).toContain('stop 3');
    expect($('scan-count')?.textContent).toBe('Scanned 1 of 2');
  });

  it('labels offline code entry plainly', async () => {
    await startApp({ offline: true });
    await click('scan-button');
    await scan('00340123450000000017');
    await click('finish-scanning');
    expect($('offline-label')?.hidden).toBe(false);
    await typeCode(withCheckDigit('123456'));
    expect(root.dataset.screen).toBe('proof');
    expect($('proof-verification')?.dataset.verification).toBe('offline_code');
  });

  it('asks for the photo before confirming when the policy requires one', async () => {
    await startApp();
    await click('scan-button');
    await scan('RR123456785GB');
    await click('finish-scanning');
    expect(root.dataset.screen).toBe('proof');
    expect($('photo-section')).not.toBeNull();
    await click('confirm-proof');
    expect($('proof-error')?.hidden).toBe(false);
    expect(commands()).not.toContain('submit_proof');
  });

  it('resumes the step the core is in when the app starts', async () => {
    const stop = new FakeBackend().route.stops[1]!;
    await startApp({ view: { step: 'locked', stop, scanned: ['p-2-1'] } });
    expect(root.dataset.screen).toBe('locked');
  });
});

describe('app chrome', () => {
  it('updates the sync badge from sync-status events', async () => {
    await startApp();
    expect($('sync-badge')?.dataset.online).toBe('true');
    await emit('sync-status', { pending: 3, disputed: 0, syncing: false, online: false, last_success_ms: null, last_error: null });
    await settle();
    expect($('sync-badge')?.dataset.online).toBe('false');
    expect($('sync-badge')?.dataset.pending).toBe('3');
    expect($('sync-badge')?.textContent).toContain('Offline');
  });

  it('shows an enrollment error from the core next to the form', async () => {
    await startApp({ enrolled: false });
    expect(root.dataset.screen).toBe('enroll');
    ($('enroll-input') as HTMLInputElement).value = 'nope';
    ($('enroll-server') as HTMLInputElement).value = 'https://dispatch.example.org';
    await click('enroll-submit');
    expect($('enroll-error')?.dataset.code).toBe('enrollment_invalid');
    expect($('enroll-error')?.hidden).toBe(false);
    ($('enroll-input') as HTMLInputElement).value = 'ABCD-1234';
    await click('enroll-submit');
    expect(root.dataset.screen).toBe('route');
  });

  it('blocks everything with the update screen', async () => {
    await startApp({ updateRequired: true });
    expect(root.dataset.screen).toBe('update');
    expect(root.querySelector('[data-testid^="nav-"]')).toBeNull();
    expect(root.querySelector('a[href]')).toBeNull();
  });

  it('switches the language from settings', async () => {
    await startApp();
    await click('nav-settings');
    const select = $('language-select') as HTMLSelectElement;
    select.value = 'es';
    select.dispatchEvent(new Event('change'));
    await settle();
    expect(root.querySelector('h1')?.textContent).toBe('Ajustes');
  });
});

describe('settings', () => {
  it('removes the phone from the fleet only on a second tap', async () => {
    await startApp();
    await click('nav-settings');
    await click('unenroll');
    expect(commands()).not.toContain('unenroll');
    expect($('unenroll')?.dataset.armed).toBe('true');
    await click('unenroll');
    expect(commands()).toContain('unenroll');
    expect(root.dataset.screen).toBe('enroll');
  });
});

describe("the customer's QR instead of the code", () => {
  it('checks a pasted token on desktop and says when it is not valid', async () => {
    await startApp();
    await click('scan-button');
    await scan('00340123450000000017');
    await click('finish-scanning');
    await click('scan-customer-qr');
    expect(root.dataset.screen).toBe('token');
    ($('token-input') as HTMLTextAreaElement).value = 'DS1.forged';
    await click('token-submit');
    expect($('token-error')?.hidden).toBe(false);
    expect(root.dataset.screen).toBe('token');
    ($('token-input') as HTMLTextAreaElement).value = 'DS1.valid-token';
    await click('token-submit');
    expect(root.dataset.screen).toBe('proof');
    expect($('proof-verification')?.dataset.verification).toBe('token');
  });
});

describe('start-up', () => {
  it('offers a retry when the core does not answer app_status, and recovers', async () => {
    let fail = true;
    const core = new FakeBackend();
    mockIPC((cmd, args) => {
      if (cmd === 'app_status' && fail) throw { code: 'storage', message: 'The phone storage is not available.' };
      return core.handle(cmd, args as Record<string, unknown>);
    });
    const app = new App(root, backend, 'desktop', screens);
    await app.start();
    await settle();
    expect(root.dataset.screen).toBe('loading');
    expect($('error-banner')?.dataset.code).toBe('storage');
    expect($('retry')?.hidden).toBe(false);
    fail = false;
    await click('retry');
    expect(root.dataset.screen).toBe('route');
    expect($('error-banner')?.hidden).toBe(true);
  });
});
