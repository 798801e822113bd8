// A mistake after the handover (issue 11, step 7): a delivery of today corrected from the sync
// queue — once, with a reason — and the parcels back on the route; the kinds of record the queue
// lists.
import { describe, expect, it } from 'vitest';
import { backend, BackendError, type QueueItem } from '../../src/lib/backend';
import { setLang } from '../../src/i18n';
import { es } from '../../src/i18n/es';
import { GOOD_CODE } from '../fixtures/fake-backend';
import { $, click, fake, root, settle, startApp, useAppHarness } from '../fixtures/harness';

useAppHarness();

/** A record of the fake's route day (2026-11-25); Ana's parcel (stop 1) is delivered there. */
function record(event_id: string, extra: Partial<QueueItem> = {}): QueueItem {
  return {
    event_id,
    stop_address: 'Calle Mayor 12, 3ºB',
    recipient_name: 'Ana García',
    kind: 'delivered',
    barcodes: ['JJD000000000000001'],
    committed_at_ms: Date.UTC(2026, 10, 25, 9, 12),
    state: 'synced',
    reason: null,
    reject_code: null,
    ...extra,
  };
}
const ANA = record('e1');
const pick = async (testid: string) => {
  const input = $(testid) as HTMLInputElement;
  input.checked = true;
  input.dispatchEvent(new Event('change'));
  await settle();
};
const refusal = async (call: Promise<unknown>) => {
  try {
    await call;
  } catch (e) {
    return e instanceof BackendError ? e.code : 'not a BackendError';
  }
  return 'accepted';
};

describe('correcting a delivery from the sync queue', () => {
  it('records the correction once: the queue shows it and the parcel is to deliver again', async () => {
    await startApp({ queue: [ANA] });
    expect($('stop-1')?.dataset.status).toBe('delivered');
    await click('nav-queue');
    await click('correct-e1');
    expect($('correction-sheet')?.dataset.event).toBe('e1');
    expect(root.querySelector('h1')?.textContent).toBe('Correct this delivery');
    expect(document.activeElement).toBe(root.querySelector('h1'));

    ($('correct-note') as HTMLTextAreaElement).value = '  Left at number 14 by mistake  ';
    await pick('correct-reason-wrong_door');
    await click('correct-submit');

    expect(fake.calls.find((c) => c.cmd === 'correct_delivery')?.args).toEqual({
      eventId: 'e1',
      correction: 'wrong_door',
      note: 'Left at number 14 by mistake',
    });
    expect($('correction-sheet')).toBeNull();
    expect($('correct-done')?.hidden).toBe(false);
    expect($('correct-done')?.textContent).toBe('Correction recorded. The parcels are back on your route.');
    const newest = root.querySelector<HTMLElement>('[data-testid^="queue-item-"]')!;
    expect(newest.dataset.kind).toBe('correction');
    expect(newest.dataset.state).toBe('pending');
    expect(newest.textContent).toContain('Correction: to deliver again');
    expect(newest.textContent).toContain('JJD000000000000001');
    // Corrected already: the action is gone from the original and the correction has none.
    expect($('correct-e1')).toBeNull();
    expect(root.querySelector('[data-testid^="correct-0193"]')).toBeNull();
    expect($('queue-pending')?.querySelector('strong')?.textContent).toBe('1');

    await click('nav-route');
    expect($('stop-1')?.dataset.status).toBe('todo');
  });

  it('asks what went wrong before recording anything, and goes back without recording', async () => {
    await startApp({ queue: [ANA] });
    await click('nav-queue');
    await click('correct-e1');
    await click('correct-submit');
    expect($('correct-error')?.hidden).toBe(false);
    expect($('correct-error')?.textContent).toBe('Pick what went wrong first.');
    await pick('correct-reason-not_handed_over');
    expect($('correct-error')?.hidden).toBe(true);
    await click('back');
    expect($('correction-sheet')).toBeNull();
    expect(document.activeElement).toBe($('correct-e1'));
    expect(fake.calls.map((c) => c.cmd)).not.toContain('correct_delivery');
  });

  it('corrects a delivery just recorded in the app, which puts its stop back on the route', async () => {
    await startApp();
    await click('scan-button');
    ($('barcode-input') as HTMLInputElement).value = '00340123450000000017';
    await click('scan-submit');
    await click('finish-scanning');
    for (const d of GOOD_CODE) await click(`key-${d}`);
    ($('recipient-name') as HTMLInputElement).value = 'Ben Okafor';
    await click('confirm-proof');
    await click('next-delivery');
    expect($('stop-2')?.dataset.status).toBe('delivered');

    await click('nav-queue');
    const id = fake.queue[0]!.event_id;
    await click(`correct-${id}`);
    await pick('correct-reason-not_handed_over');
    await click('correct-submit');
    expect(fake.queue[0]!.kind).toBe('correction');
    await click('nav-route');
    expect($('stop-2')?.dataset.status).toBe('todo');
  });

  it('offers no correction for a failed attempt, a correction, a disputed delivery or one of another day', async () => {
    const queue = [
      record('c1', { kind: 'correction', committed_at_ms: Date.UTC(2026, 10, 25, 11, 0) }),
      record('x1', { state: 'disputed', reject_code: 'code_wrong', stop_address: '3 Elm Close', barcodes: ['00340123450000000048'] }),
      record('f1', { kind: 'failed', stop_address: '14 Harbour Road', barcodes: ['00340123450000000031'] }),
      record('y1', { committed_at_ms: Date.UTC(2026, 10, 24, 16, 40) }),
      record('e1'),
    ];
    await startApp({ queue });
    await click('nav-queue');
    expect(root.querySelectorAll('[data-testid^="queue-item-"]')).toHaveLength(5);
    for (const id of ['c1', 'x1', 'f1', 'y1', 'e1']) expect($(`correct-${id}`), id).toBeNull();
  });

  it('is refused by the core for a failed attempt and the second time', async () => {
    await startApp({ queue: [ANA, record('f1', { kind: 'failed', barcodes: ['00340123450000000031'] })] });
    expect(await refusal(backend.correctDelivery('f1', 'wrong_door', null))).toBe('correction_not_allowed');
    expect(await refusal(backend.correctDelivery('e1', 'wrong_door', null))).toBe('accepted');
    expect(await refusal(backend.correctDelivery('e1', 'not_handed_over', null))).toBe('correction_not_allowed');
    expect(await refusal(backend.correctDelivery('no-such-record', 'wrong_door', null))).toBe('correction_not_allowed');
    expect(fake.queue.filter((q) => q.kind === 'correction')).toHaveLength(1);
  });

  it("shows the core's refusal in the courier's language on the sheet", async () => {
    setLang('es');
    // Listed as delivered, but its parcel is not delivered on the phone (corrected elsewhere).
    const stale = record('s1', { stop_address: '221 Baker Street, Flat 2', barcodes: ['00340123450000000017'] });
    await startApp({ queue: [stale] });
    await click('nav-queue');
    expect($('correct-s1')?.textContent).toBe('Corregir esta entrega');
    await click('correct-s1');
    await pick('correct-reason-wrong_door');
    await click('correct-submit');
    expect($('correction-sheet')).not.toBeNull();
    expect($('correct-error')?.dataset.code).toBe('correction_not_allowed');
    expect($('correct-error')?.textContent).toBe(es['error.correction_not_allowed']);
    expect(root.textContent).not.toContain("today's handovers");
    expect($('error-banner')?.hidden).toBe(true);
  });
});

describe('the kinds of record in the queue', () => {
  it('names a parcel reported as not on the route, a depot check-in and a correction', async () => {
    await startApp({
      queue: [
        record('u1', { kind: 'unexpected', barcodes: ['ZZ999999999ZZ'] }),
        record('d1', { kind: 'depot_check_in', barcodes: ['00340123450000000031'] }),
        record('c1', { kind: 'correction' }),
      ],
    });
    await click('nav-queue');
    expect($('queue-item-u1')?.textContent).toContain('Reported: not on the route');
    expect($('queue-item-d1')?.textContent).toContain('Depot check-in');
    expect($('queue-item-c1')?.textContent).toContain('Correction: to deliver again');
    setLang('es');
    await click('nav-settings');
    await click('nav-queue');
    expect($('queue-item-u1')?.textContent).toContain('Avisado: no está en la ruta');
    expect($('queue-item-d1')?.textContent).toContain('Entrada en el almacén');
  });
});
