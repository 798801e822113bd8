// The customer's choice from their page on mocked IPC: their instructions on the route and the
// scan screen (as text, never markup), the method screen opening on their method with a line
// saying what they asked for, and the proof filling in the place they gave.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CustomerChoice, DoorMethod } from '../../src/lib/backend';
import { setLang } from '../../src/i18n';
import { door, type FakeOptions } from '../fixtures/fake-backend';
import { $, click, fill, proofSent, root, scan, scanAndContinue, settle, sign, startApp, useAppHarness } from '../fixtures/harness';

useAppHarness();

const BEN_1 = '00340123450000000017'; // stop 2
const BEN_2 = '00340123450000000024';
const LAPTOP = 'RR123456785GB'; // stop 3: no code needed

const ANA: CustomerChoice = { method: 'neighbour', place: 'Ana Ruiz, 14', instructions: '<b>ring twice</b><img src=x>' };
/** Ben's two parcels may go to him, a neighbour or a safe place. */
const BEN_DOORS: Record<string, DoorMethod[]> = {
  [BEN_1]: [door('hand_to_recipient', { code_required: true }), door('neighbour', { signature_required: true }), door('safe_place')],
  [BEN_2]: [door('hand_to_recipient', { code_required: true }), door('neighbour'), door('safe_place')],
};

/** The method buttons the screen marks as the customer's. */
const markedAsTheirs = () => [...root.querySelectorAll<HTMLElement>('.method-btn.preselected')].map((b) => b.dataset.testid);

beforeEach(() => {
  vi.spyOn(HTMLCanvasElement.prototype, 'toBlob').mockImplementation(function (cb: BlobCallback) {
    cb(new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: 'image/png' }));
  });
});
afterEach(() => vi.restoreAllMocks());

describe("the customer's instructions on a stop", () => {
  it('shows them on the route and the scan screen as text, never as markup', async () => {
    await startApp({ customers: { 2: ANA } });
    expect($('customer-tag-2')?.textContent).toBe('Customer note');
    expect($('customer-tag-3')).toBeNull();
    $('stop-2')!.querySelector<HTMLButtonElement>('.stop-main')!.click();
    await settle();
    const note = $('stop-2')!.querySelector<HTMLElement>('[data-testid="customer-note"]')!;
    expect(note.textContent).toBe('The customer asked for: a neighbour — Ana Ruiz, 14From the customer: <b>ring twice</b><img src=x>');
    expect($('customer-instructions')?.textContent).toBe('<b>ring twice</b><img src=x>');
    expect(note.querySelector('b, img')).toBeNull();
    expect(root.querySelector('img')).toBeNull();

    await click('scan-button');
    await scan(BEN_1);
    const card = $('scan-stop')!;
    expect(card.querySelector('[data-testid="customer-instructions"]')?.textContent).toBe('<b>ring twice</b><img src=x>');
    expect(card.querySelector('[data-testid="customer-asked"]')?.textContent).toBe('The customer asked for: a neighbour — Ana Ruiz, 14');
    expect(card.querySelector('b, img')).toBeNull();
  });

  it('shows nothing of the kind for a stop the customer chose nothing for', async () => {
    await startApp();
    expect(root.querySelector('[data-testid^="customer-tag-"]')).toBeNull();
    $('stop-2')!.querySelector<HTMLButtonElement>('.stop-main')!.click();
    await settle();
    expect($('customer-note')).toBeNull();
    await click('scan-button');
    await scan(BEN_1);
    expect($('customer-note')).toBeNull();
  });

  it('speaks Spanish', async () => {
    setLang('es');
    await startApp({ customers: { 2: ANA } });
    $('stop-2')!.querySelector<HTMLButtonElement>('.stop-main')!.click();
    await settle();
    expect($('customer-asked')?.textContent).toBe('El cliente pidió: un vecino — Ana Ruiz, 14');
    expect($('customer-note')?.textContent).toContain('Del cliente: <b>ring twice</b>');
  });
});

describe("the method screen with the customer's choice", () => {
  it('opens on their method, says what they asked for, and the proof fills in their place', async () => {
    await scanAndContinue({ doors: BEN_DOORS, customers: { 2: ANA } }, BEN_1, BEN_2);
    expect(root.dataset.screen).toBe('method');
    expect(markedAsTheirs()).toEqual(['method-neighbour']);
    expect($('method-neighbour')?.dataset.preselected).toBe('true');
    expect($('method-neighbour')?.textContent).toContain("Customer's choice");
    expect($('method-hand_to_recipient')?.dataset.preselected).toBeUndefined();
    expect($('method-screen')?.querySelector('[data-testid="customer-asked"]')?.textContent).toBe(
      'The customer asked for: a neighbour — Ana Ruiz, 14',
    );
    expect($('method-customer-not-offered')).toBeNull();

    await click('method-neighbour');
    expect(root.dataset.screen).toBe('proof');
    expect(($('place-input') as HTMLInputElement).value).toBe('Ana Ruiz, 14');
    expect($('place-from-customer')?.textContent).toBe("Filled in from the customer's choice. Change it if it isn't right.");

    // The courier can still change it.
    fill('recipient-name', 'Luis Ruiz');
    fill('place-input', '16');
    await sign();
    await click('confirm-proof');
    expect(root.dataset.screen).toBe('done');
    expect(proofSent()).toMatchObject({ recipient_name: 'Luis Ruiz', place: '16' });
  });

  it('without a choice opens as before: nothing marked, no customer line, an empty place', async () => {
    await scanAndContinue({ doors: BEN_DOORS }, BEN_1, BEN_2);
    expect(root.dataset.screen).toBe('method');
    expect(markedAsTheirs()).toEqual([]);
    expect($('method-customer-choice')).toBeNull();
    expect($('customer-note')).toBeNull();
    // The core's default stays unmarked on screen.
    expect($('method-hand_to_recipient')?.dataset.preselected).toBe('true');
    await click('method-neighbour');
    expect(root.dataset.screen).toBe('proof');
    expect(($('place-input') as HTMLInputElement).value).toBe('');
    expect($('place-from-customer')).toBeNull();
  });

  it('says so when the parcels cannot go the way the customer asked, and marks nothing as theirs', async () => {
    const kiosk: CustomerChoice = { method: 'pickup_point', place: 'Kiosko Sol, Calle Luna 3' };
    await scanAndContinue({ doors: BEN_DOORS, customers: { 2: kiosk } }, BEN_1, BEN_2);
    expect(markedAsTheirs()).toEqual([]);
    expect($('method-customer-not-offered')?.textContent).toBe(
      "These parcels can't be handed over the way the customer asked: pick another.",
    );
    expect($('customer-asked')?.textContent).toBe('The customer asked for: a pickup point — Kiosko Sol, Calle Luna 3');
    // Another method does not take the customer's place.
    await click('method-safe_place');
    expect(root.dataset.screen).toBe('proof');
    expect(($('place-input') as HTMLInputElement).value).toBe('');
  });
});

describe("the proof with the customer's safe place", () => {
  const laptop = (place: string): FakeOptions => ({
    doors: { [LAPTOP]: [door('safe_place')] },
    safePlaces: { [LAPTOP]: ['Behind the side gate', 'In the porch'] },
    customers: { 3: { method: 'safe_place', place } },
  });

  it("picks the shipper's place the customer named", async () => {
    await scanAndContinue(laptop('in the porch'), LAPTOP);
    expect(root.dataset.screen).toBe('proof');
    expect(($('safe-place-1') as HTMLInputElement).checked).toBe(true);
    expect($('place-input')?.closest<HTMLElement>('.stack')?.hidden).toBe(true);
    await click('confirm-proof');
    expect(proofSent().place).toBe('In the porch');
  });

  it('describes another place the customer gave, which the courier can change', async () => {
    await scanAndContinue(laptop('Under the mat'), LAPTOP);
    expect(($('safe-place-other') as HTMLInputElement).checked).toBe(true);
    expect($('place-input')?.closest<HTMLElement>('.stack')?.hidden).toBe(false);
    expect(($('place-input') as HTMLInputElement).value).toBe('Under the mat');
    fill('place-input', 'With the concierge');
    await click('confirm-proof');
    expect(proofSent().place).toBe('With the concierge');
  });
});
