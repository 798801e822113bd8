// Every word in the courier's language (issue 11, step 9): a failed command, a sync problem and a
// record the server refused show the text of their closed code (`error.<code>`,
// `reject.<code>`), never the core's English `message`, `last_error` or `reason`. Run in
// Spanish, so an English sentence that leaks through is plain to see.
import { beforeEach, describe, expect, it } from 'vitest';
import { emit } from '@tauri-apps/api/event';
import { REJECT_CODES, type AppErrorCode, type HandoverView, type QueueItem } from '../../src/lib/backend';
import { setLang } from '../../src/i18n';
import { en } from '../../src/i18n/en';
import { es } from '../../src/i18n/es';
import { door, FakeBackend, GOOD_CODE, rejectReason, SYNC_ERROR_WORDS, UPDATE_AVAILABLE, UPDATE_REQUIRED } from '../fixtures/fake-backend';
import { $, click, fake, root, settle, startApp, useAppHarness } from '../fixtures/harness';

useAppHarness();
beforeEach(() => setLang('es'));

const BEN = '00340123450000000017';
const LAPTOP = 'RR123456785GB';

const scanAndContinue = async (...barcodes: string[]) => {
  await click('scan-button');
  for (const b of barcodes) {
    ($('barcode-input') as HTMLInputElement).value = b;
    await click('scan-submit');
  }
  await click('finish-scanning');
};
const typeCode = async (code: string) => {
  for (const d of code) await click(`key-${d}`);
};
const pickPhoto = async () => {
  const input = $('photo-input') as HTMLInputElement;
  const file = new File([new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3])], 'contents.jpg', { type: 'image/jpeg' });
  Object.defineProperty(input, 'files', { value: [file], configurable: true });
  input.dispatchEvent(new Event('change'));
  await settle();
};

/** `testid` shows the Spanish text of `code`, and the core's English `message` is nowhere on screen. */
function showsSpanish(testid: string, code: AppErrorCode, english: string) {
  const el = $(testid);
  expect(el, testid).not.toBeNull();
  expect(el!.hidden, testid).toBe(false);
  expect(el!.textContent, testid).toBe(es[`error.${code}`]);
  expect(root.textContent).not.toContain(english);
}

describe('a failed command in Spanish', () => {
  it('the error banner', async () => {
    await startApp({ update: UPDATE_AVAILABLE, updateUrlRefused: true });
    await click('update-banner-open');
    expect($('error-banner')?.dataset.code).toBe('update_url_refused');
    expect($('error-banner')?.textContent).toContain(es['error.update_url_refused']);
    expect(root.textContent).not.toContain('leads neither');
  });

  it('the banner for an error the core words in English whatever the code', async () => {
    await startApp();
    fake.failNext('refresh_route', 'server_error', 'The server answered 502 Bad Gateway.');
    await click('refresh-route');
    expect($('error-banner')?.dataset.code).toBe('server_error');
    expect($('error-banner')?.textContent).toContain(es['error.server_error']);
    expect(root.textContent).not.toContain('Bad Gateway');
  });

  it('enrollment', async () => {
    await startApp({ enrolled: false });
    ($('enroll-input') as HTMLInputElement).value = 'nope';
    ($('enroll-server') as HTMLInputElement).value = 'https://dispatch.example.org';
    await click('enroll-submit');
    showsSpanish('enroll-error', 'enrollment_invalid', 'That enrollment code is not valid');
    ($('enroll-input') as HTMLInputElement).value = 'NETWORK-DOWN';
    await click('enroll-submit');
    showsSpanish('enroll-error', 'network', 'could not reach the server');
  });

  it('the code screen: a refused code and a resend that failed', async () => {
    const stop = new FakeBackend().route.stops[1]!;
    const view: HandoverView = {
      step: 'code',
      stop,
      scanned: ['p-2-1'],
      code_length: 7,
      attempts_left: null,
      offline: false,
      error: { code: 'offline_not_allowed', message: 'No connection, and this stop may not record a typed code offline.' },
    };
    await startApp({ view });
    expect($('code-error')?.dataset.code).toBe('offline_not_allowed');
    showsSpanish('code-error', 'offline_not_allowed', 'may not record a typed code');

    fake.failNext('resend_code', 'network', 'could not reach the server');
    await click('resend-code');
    showsSpanish('code-status', 'network', 'could not reach the server');
  });

  it("the customer's QR", async () => {
    await startApp();
    await scanAndContinue(BEN);
    await click('scan-customer-qr');
    ($('token-input') as HTMLTextAreaElement).value = 'DS1.forged';
    await click('token-submit');
    showsSpanish('token-error', 'token_invalid', "This QR code isn't valid");
  });

  it('the proof', async () => {
    await startApp();
    await scanAndContinue(BEN);
    await typeCode(GOOD_CODE);
    ($('recipient-name') as HTMLInputElement).value = 'Ben Okafor';
    fake.failNext('submit_proof', 'storage', 'disk I/O error while writing the record');
    await click('confirm-proof');
    expect(root.dataset.screen).toBe('proof');
    showsSpanish('proof-error', 'storage', 'disk I/O error');
  });

  it('the open-box check', async () => {
    await startApp({ doors: { [LAPTOP]: [door('hand_to_recipient', { open_box_check: true, photo_required: true })] } });
    await scanAndContinue(LAPTOP);
    expect(root.dataset.screen).toBe('open_box');
    await pickPhoto();
    fake.failNext('check_contents', 'contents_photo_required', 'take a photo of the contents first');
    await click('contents-confirm');
    showsSpanish('open-box-error', 'contents_photo_required', 'take a photo of the contents');
  });
});

describe('a sync problem in Spanish', () => {
  it('the sync queue says the phone is offline in words of its code', async () => {
    await startApp({ online: false, pending: 1 });
    await click('nav-queue');
    expect($('sync-error')).toBeNull();
    await click('sync-now');
    expect($('sync-error')?.dataset.code).toBe('network');
    showsSpanish('sync-error', 'network', SYNC_ERROR_WORDS.network!);
  });

  it('the update screen says the server keeps records waiting', async () => {
    await startApp({ update: UPDATE_REQUIRED, syncError: 'sync_held', pending: 1 });
    expect(root.dataset.screen).toBe('update');
    expect($('update-sync-error')?.dataset.code).toBe('sync_held');
    showsSpanish('update-sync-error', 'sync_held', SYNC_ERROR_WORDS.sync_held!);
  });

  it("shows the core's words only when a status carries no code", async () => {
    await startApp();
    await click('nav-queue');
    const status = { pending: 1, disputed: 0, syncing: false, online: false, last_success_ms: null };
    await emit('sync-status', { ...status, last_error: 'Older core: no connection.' });
    await settle();
    expect($('sync-error')?.textContent).toBe('Older core: no connection.');
    await emit('sync-status', { ...status, last_error: 'The server failed to answer.', last_error_code: 'server_error' });
    await settle();
    expect($('sync-error')?.textContent).toBe(es['error.server_error']);
  });
});

describe('a record the server refused, in Spanish', () => {
  const disputed: QueueItem = {
    event_id: 'e2',
    stop_address: '3 Elm Close',
    recipient_name: 'Eva Novak',
    kind: 'delivered',
    barcodes: ['00340123450000000048'],
    committed_at_ms: Date.UTC(2026, 10, 25, 10, 31),
    state: 'disputed',
    reason: rejectReason('code_wrong'),
    reject_code: 'code_wrong',
  };

  it('shows the text of its reject code, not the server English reason', async () => {
    await startApp({ queue: [disputed] });
    await click('nav-queue');
    expect($('queue-item-e2')?.dataset.state).toBe('disputed');
    expect($('queue-reason')?.dataset.rejectCode).toBe('code_wrong');
    expect($('queue-reason')?.textContent).toBe(es['reject.code_wrong']);
    expect(root.textContent).not.toContain('offline code was wrong');
  });

  it('says what to do about a record refused at the next sync', async () => {
    await startApp({ rejectOnSync: 'photo_missing' });
    await scanAndContinue(BEN);
    await typeCode(GOOD_CODE);
    ($('recipient-name') as HTMLInputElement).value = 'Ben Okafor';
    await click('confirm-proof');
    await click('next-delivery');
    await click('nav-queue');
    await click('sync-now');
    const id = fake.queue[0]!.event_id;
    expect($(`queue-item-${id}`)?.dataset.state).toBe('disputed');
    expect($(`queue-item-${id}`)?.querySelector('[data-testid="queue-reason"]')?.textContent).toBe(es['reject.photo_missing']);
    expect(root.textContent).not.toContain(rejectReason('photo_missing'));
  });

  it("shows the server's reason only for a record without a code", async () => {
    await startApp({ queue: [{ ...disputed, reject_code: null }] });
    await click('nav-queue');
    expect($('queue-reason')?.textContent).toBe(rejectReason('code_wrong'));
  });

  it('has a Spanish text of its own for every reject code', () => {
    for (const code of REJECT_CODES) expect(es[`reject.${code}`], code).not.toBe(en[`reject.${code}`]);
  });
});
