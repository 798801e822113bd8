// The steps at the door (issue 11) on mocked IPC: the choice of method, the open-box check, the
// proof's neighbour / safe place / signature / ID and age parts, and the two new refusals.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DoorMethod } from '../../src/lib/backend';
import { door, GOOD_CODE } from '../fixtures/fake-backend';
import { $, click, fake, fill, proofSent, root, scanAndContinue, settle, sign, useAppHarness } from '../fixtures/harness';

useAppHarness();

const BEN_1 = '00340123450000000017';
const BEN_2 = '00340123450000000024';
const LAPTOP = 'RR123456785GB'; // stop 3: no code needed

const typeCode = async (code: string) => {
  for (const d of code) await click(`key-${d}`);
};
const tick = async (testid: string) => {
  const input = $(testid) as HTMLInputElement;
  input.checked = true;
  input.dispatchEvent(new Event('change'));
  await settle();
};
/** A photo picked in the file input, as the webview hands it over. */
const pickPhoto = async () => {
  const input = $('photo-input') as HTMLInputElement;
  const file = new File([new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3])], 'contents.jpg', { type: 'image/jpeg' });
  Object.defineProperty(input, 'files', { value: [file], configurable: true });
  input.dispatchEvent(new Event('change'));
  await settle();
};
const lastArgs = (cmd: string) => [...fake.calls].reverse().find((c) => c.cmd === cmd)?.args;
const commands = () => fake.calls.map((c) => c.cmd);

beforeEach(() => {
  // happy-dom draws nothing: the signature's PNG bytes come from a stubbed toBlob.
  vi.spyOn(HTMLCanvasElement.prototype, 'toBlob').mockImplementation(function (cb: BlobCallback) {
    cb(new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])], { type: 'image/png' }));
  });
});
afterEach(() => vi.restoreAllMocks());

/** Ben's two parcels: the first may go every way, the second not to a pickup point. */
const BEN_DOORS: Record<string, DoorMethod[]> = {
  [BEN_1]: [
    door('hand_to_recipient', { code_required: true }),
    door('neighbour', { code_required: true, signature_required: true }),
    door('safe_place', { photo_required: true }),
    door('pickup_point'),
  ],
  [BEN_2]: [
    door('hand_to_recipient', { code_required: true }),
    door('neighbour', { code_required: false, signature_required: true }),
    door('safe_place', { photo_required: true }),
  ],
};

describe('how the parcels are handed over', () => {
  it('offers only the methods every scanned parcel allows, with the steps of each', async () => {
    await scanAndContinue({ doors: BEN_DOORS }, BEN_1, BEN_2);
    expect(root.dataset.screen).toBe('method');
    const offered = [...root.querySelectorAll<HTMLElement>('[data-testid^="method-"][data-steps]')].map((b) => b.dataset.testid);
    expect(offered).toEqual(['method-hand_to_recipient', 'method-neighbour', 'method-safe_place']);
    // The steps of both parcels merged: the first asks a code for a neighbour, the second a signature.
    expect($('method-neighbour')?.dataset.steps).toBe('Code, Signature');
    expect($('method-safe_place')?.dataset.steps).toBe('Photo');
    expect(commands()).not.toContain('finish_scanning');

    await click('back');
    expect(root.dataset.screen).toBe('scan');
    await click('finish-scanning');
    await click('method-hand_to_recipient');
    expect(lastArgs('finish_scanning')).toEqual({ method: 'hand_to_recipient' });
    expect(root.dataset.screen).toBe('code');
  });

  it('skips the choice when there is only one way, and takes that way', async () => {
    await scanAndContinue({ doors: { [LAPTOP]: [door('pickup_point')] } }, LAPTOP);
    expect(lastArgs('finish_scanning')).toEqual({ method: 'pickup_point' });
    expect(root.dataset.screen).toBe('proof');
    expect($('proof-screen')?.dataset.method).toBe('pickup_point');
    expect($('recipient-name')).toBeNull();
    await click('confirm-proof');
    expect($('proof-error')?.textContent).toBe('Type or scan the pickup point ID.');
    fill('place-input', 'PUDO-4471');
    await click('confirm-proof');
    expect(root.dataset.screen).toBe('done');
    expect(proofSent()).toMatchObject({ recipient_name: '', place: 'PUDO-4471' });
  });

  it('says so, and offers a way out, when the parcels share no method', async () => {
    await scanAndContinue({ doors: { [BEN_1]: [door('neighbour')], [BEN_2]: [door('safe_place')] } }, BEN_1, BEN_2);
    expect(root.dataset.screen).toBe('method');
    expect($('method-none')).not.toBeNull();
    await click('method-cant-deliver');
    expect(root.dataset.screen).toBe('exceptions');
  });
});

describe('the proof at the door', () => {
  it('hands over to a neighbour with name, house number and a signature', async () => {
    await scanAndContinue({ doors: BEN_DOORS }, BEN_1, BEN_2);
    await click('method-neighbour');
    await typeCode(GOOD_CODE);
    expect(root.dataset.screen).toBe('proof');
    expect($('proof-method')?.textContent).toBe('To a neighbour');
    expect(($('recipient-name') as HTMLInputElement).value).toBe('');
    const confirm = $('confirm-proof') as HTMLButtonElement;
    expect(confirm.disabled).toBe(true);

    fill('recipient-name', 'Mrs Adeyemi');
    await sign();
    expect($('signature-section')?.dataset.signed).toBe('true');
    expect(confirm.disabled).toBe(false);
    await click('signature-clear');
    expect(confirm.disabled).toBe(true);
    await sign();

    await click('confirm-proof');
    expect($('proof-error')?.textContent).toBe("Type the neighbour's house number.");
    fill('place-input', '14B');
    await click('confirm-proof');
    expect(root.dataset.screen).toBe('done');
    const proof = proofSent();
    expect(proof).toMatchObject({ recipient_name: 'Mrs Adeyemi', place: '14B', photo_path: null, id_check: null });
    expect(proof.signature_path).toMatch(/^\/cache\/photos\//);
    // The signature went to the core as PNG bytes.
    const saved = fake.calls.filter((c) => c.cmd === 'save_photo').map((c) => [...(c.args as unknown as Uint8Array).slice(0, 4)]);
    expect(saved).toEqual([[0x89, 0x50, 0x4e, 0x47]]);
  });

  it('leaves a parcel in a safe place the shipper allows, with a photo', async () => {
    const opts = { doors: { [LAPTOP]: [door('safe_place', { photo_required: true })] }, safePlaces: { [LAPTOP]: ['Behind the side gate', 'In the porch'] } };
    await scanAndContinue(opts, LAPTOP);
    expect(root.dataset.screen).toBe('proof');
    expect($('recipient-name')).toBeNull();
    expect($('place-input')?.closest<HTMLElement>('.stack')?.hidden).toBe(true);
    await click('confirm-proof');
    expect($('proof-error')?.textContent).toBe('Pick or describe the safe place.');
    await tick('safe-place-1');
    expect($('photo-section')?.textContent).toContain('Photo of the parcel in its place');
    expect($('photo-section')?.textContent).toContain('A photo is required for this delivery.');
    await click('confirm-proof');
    expect($('proof-error')?.textContent).toBe('Take a photo first.');
    await pickPhoto();
    await click('confirm-proof');
    expect(root.dataset.screen).toBe('done');
    expect(proofSent()).toMatchObject({ recipient_name: '', place: 'In the porch', signature_path: null });
    expect(proofSent().photo_path).toMatch(/^\/cache\/photos\//);
    expect(fake.queue[0]?.recipient_name).toBe('Chloé Martin');
  });

  it('takes a safe place without a photo when the method asks for none', async () => {
    const opts = { doors: { [LAPTOP]: [door('safe_place')] }, safePlaces: { [LAPTOP]: ['In the porch'] } };
    await scanAndContinue(opts, LAPTOP);
    expect(root.dataset.screen).toBe('proof');
    // The parcel is flagged for a photo, so the field is offered, with the safe place's wording.
    expect($('photo-section')?.textContent).toContain('Photo of the parcel in its place');
    expect($('photo-section')?.textContent).not.toContain('A photo is required');
    await tick('safe-place-0');
    await click('confirm-proof');
    expect(root.dataset.screen).toBe('done');
    expect(proofSent()).toMatchObject({ place: 'In the porch', photo_path: null });
  });

  it('lets the courier describe another safe place', async () => {
    const opts = { doors: { [LAPTOP]: [door('safe_place', { photo_required: true })] }, safePlaces: { [LAPTOP]: ['In the porch'] } };
    await scanAndContinue(opts, LAPTOP);
    await tick('safe-place-other');
    expect($('place-input')?.closest<HTMLElement>('.stack')?.hidden).toBe(false);
    fill('place-input', 'With the concierge');
    await pickPhoto();
    await click('confirm-proof');
    expect(proofSent().place).toBe('With the concierge');
  });
});

describe('the open-box check', () => {
  const OPEN_BOX = { doors: { [LAPTOP]: [door('hand_to_recipient', { open_box_check: true, photo_required: true })] } };

  it('needs the photo of the contents, then goes on when the customer confirms them', async () => {
    await scanAndContinue(OPEN_BOX, LAPTOP);
    expect(root.dataset.screen).toBe('open_box');
    await click('contents-confirm');
    expect($('open-box-error')?.textContent).toBe('Take a photo of the contents first.');
    expect(commands()).not.toContain('check_contents');
    await pickPhoto();
    await click('contents-confirm');
    expect(lastArgs('check_contents')).toEqual({ photoPath: '/cache/photos/photo-1.jpg', accepted: true });
    expect(root.dataset.screen).toBe('proof');
  });

  it('records "refused: contents" when the customer refuses them', async () => {
    await scanAndContinue(OPEN_BOX, LAPTOP);
    await pickPhoto();
    await click('contents-refuse');
    expect(lastArgs('check_contents')).toEqual({ photoPath: '/cache/photos/photo-1.jpg', accepted: false });
    expect(root.dataset.screen).toBe('done');
    expect($('done-screen')?.dataset.outcome).toBe('exception');
    expect($('done-reason')?.dataset.reason).toBe('refused_contents');
    expect($('done-reason')?.textContent).toBe('Reason: Customer refused the contents');
  });
});

describe('the ID and age check', () => {
  const AGE_18 = { doors: { [LAPTOP]: [door('hand_to_recipient', { minimum_age: 18 })] }, year: 2026 };

  it('passes with a year of birth that meets the age whatever the birthday', async () => {
    await scanAndContinue(AGE_18, LAPTOP);
    expect($('id-min-age')?.textContent).toBe('The recipient must be 18 or older.');
    await click('confirm-proof');
    expect($('proof-error')?.textContent).toBe('Pick the kind of ID you saw.');
    await tick('id-type-driving_licence');
    await click('confirm-proof');
    expect($('proof-error')?.textContent).toBe('Type the year of birth, or tap "Meets the minimum age".');
    fill('id-year', '2007');
    await click('confirm-proof');
    expect($('proof-error')?.textContent).toBe('Confirm that you saw the ID in person.');
    await tick('id-seen');
    await click('confirm-proof');
    expect(root.dataset.screen).toBe('done');
    expect(proofSent().id_check).toEqual({ id_type: 'driving_licence', year_of_birth: 2007, courier_confirmed: true });
  });

  it('passes with the "meets the minimum age" tap, which clears a typed year', async () => {
    await scanAndContinue(AGE_18, LAPTOP);
    await tick('id-type-passport');
    fill('id-year', '2010');
    await tick('id-meets-age');
    expect(($('id-year') as HTMLInputElement).value).toBe('');
    await tick('id-seen');
    await click('confirm-proof');
    expect(root.dataset.screen).toBe('done');
    expect(proofSent().id_check).toEqual({ id_type: 'passport', meets_minimum_age: true, courier_confirmed: true });
  });

  it('offers "refused: age" when the core says the age is not met, and records it with the check', async () => {
    await scanAndContinue(AGE_18, LAPTOP);
    await tick('id-type-national_id_card');
    fill('id-year', '2008'); // 18 only after this year's birthday: not enough
    await tick('id-seen');
    await click('confirm-proof');
    expect(root.dataset.screen).toBe('proof');
    expect($('age-refusal')?.hidden).toBe(false);
    expect($('age-refusal')?.textContent).toContain('under 18');
    await click('record-refused-age');
    expect(lastArgs('report_exception')).toEqual({
      reason: 'refused_age',
      note: null,
      idCheck: { id_type: 'national_id_card', year_of_birth: 2008, courier_confirmed: true },
    });
    expect(root.dataset.screen).toBe('done');
    expect($('done-reason')?.dataset.reason).toBe('refused_age');
  });

  it('never asks for the ID number, and says not to note or photograph it', async () => {
    await scanAndContinue({ doors: { [BEN_1]: [door('hand_to_recipient', { id_check: true, minimum_age: 18 })] } }, BEN_1);
    expect(root.dataset.screen).toBe('proof');
    const section = $('id-section')!;
    expect(section.textContent).toContain('Do not write down or photograph the ID number.');
    const fields = [...section.querySelectorAll('input, textarea, select')] as HTMLInputElement[];
    const words = fields.map((f) =>
      [f.id, f.name, f.placeholder, f.getAttribute('aria-label') ?? '', root.querySelector(`label[for="${f.id}"]`)?.textContent ?? ''].join(' '),
    );
    expect(words.filter((w) => /number|n[úu]mero|\bno\b|nº|document id/i.test(w))).toEqual([]);
    expect(fields.filter((f) => f.type === 'file')).toEqual([]);
    // The only text the courier types is the year of birth, and no photo is asked for.
    expect(fields.filter((f) => f.type === 'text').map((f) => f.id)).toEqual(['id-year']);
    expect(root.querySelectorAll('input[type="file"]').length).toBe(0);
  });
});

describe('the exceptions screen', () => {
  it('offers the two new reasons', async () => {
    await scanAndContinue({}, BEN_1);
    await click('cant-give-code');
    expect($('reason-refused_contents')).not.toBeNull();
    await tick('reason-refused_age');
    await click('exception-submit');
    expect(lastArgs('report_exception')).toEqual({ reason: 'refused_age', note: null, idCheck: null });
    expect($('done-reason')?.textContent).toBe('Reason: Refused: age or ID');
  });
});
