// The van's side of issue 11 on mocked IPC: the end-of-day depot check-in, reporting a parcel
// that is not on the route, the camera kept open to collect parcel after parcel (the phone's
// barcode plugin played by the fake core's camera), and scan results in the courier's language.
import { describe, expect, it } from 'vitest';
import { Format } from '@tauri-apps/plugin-barcode-scanner';
import { setLang } from '../../src/i18n';
import { demoRoute } from '../fixtures/fake-backend';
import { $, click, fake, root, settle, startApp, useAppHarness } from '../fixtures/harness';

useAppHarness();

const BEN_1 = '00340123450000000017';
const BEN_2 = '00340123450000000024';
const BEN_3 = '00340123450000000055';
const LAPTOP = 'RR123456785GB'; // stop 3
const HARBOUR = '00340123450000000031'; // stop 4, not delivered
const ELM = '00340123450000000048'; // stop 5, disputed
const STRAY = 'ZZ999999999ZZ'; // on nobody's route

const type = async (input: string, submit: string, value: string) => {
  ($(input) as HTMLInputElement).value = value;
  await click(submit);
};
const lastArgs = (cmd: string) => [...fake.calls].reverse().find((c) => c.cmd === cmd)?.args;
const sent = (cmd: string) => fake.calls.filter((c) => c.cmd === cmd).map((c) => (c.args as { barcode: string }).barcode);
const text = (testid: string) => $(testid)?.textContent;
/** Waits (in settled rounds) until `cond` holds: labels from the camera go through a few awaits each. */
const until = async (cond: () => boolean, what: string) => {
  for (let i = 0; i < 50 && !cond(); i++) await settle();
  if (!cond()) throw new Error(`never: ${what}`);
};

describe('the depot check-in', () => {
  it('ticks the parcels scanned, shows an unexpected label apart, and names the missing one before finishing', async () => {
    await startApp();
    await click('depot-open');
    expect(root.dataset.screen).toBe('depot');
    // Every parcel not delivered should be in the van: stop 1's is delivered.
    expect(text('depot-count')).toBe('0 of 5 scanned');
    expect($(`depot-parcel-JJD000000000000001`)).toBeNull();
    expect($(`depot-parcel-${ELM}`)?.textContent).toContain('3 Elm Close');

    await type('depot-input', 'depot-submit', BEN_1);
    expect($('depot-last')?.dataset.kind).toBe('checked');
    expect(text('depot-last')).toBe(`Checked: ${BEN_1}221 Baker Street, Flat 2`);
    expect($(`depot-parcel-${BEN_1}`)?.dataset.checked).toBe('true');
    await type('depot-input', 'depot-submit', ` ${BEN_1} `);
    expect($('depot-last')?.dataset.kind).toBe('already');
    expect(text('depot-count')).toBe('1 of 5 scanned');
    for (const b of [BEN_2, LAPTOP, HARBOUR]) await type('depot-input', 'depot-submit', b);
    expect(text('depot-count')).toBe('4 of 5 scanned');
    await type('depot-input', 'depot-submit', STRAY);
    expect($('depot-last')?.dataset.kind).toBe('extra');
    expect(text('depot-last')).toBe(`Not expected: ${STRAY}`);
    expect($('depot-extra')?.textContent).toContain(STRAY);
    expect(text('depot-count')).toBe('4 of 5 scanned');

    // The first tap only asks, naming the parcel still missing.
    await click('depot-finish');
    expect($('depot-confirm')?.dataset.missing).toBe('1');
    expect(text('depot-missing')).toBe(`Missing: ${ELM} (3 Elm Close)`);
    expect(text('depot-confirm-extra')).toBe(`Not expected: ${STRAY}`);
    expect(text('depot-confirm-finish')).toBe('Finish with 1 missing');
    expect(fake.calls.map((c) => c.cmd)).not.toContain('depot_finish');
    await click('depot-keep-scanning');
    expect(text('depot-count')).toBe('4 of 5 scanned');
    expect(fake.calls.map((c) => c.cmd)).not.toContain('depot_finish');

    await click('depot-finish');
    await click('depot-confirm-finish');
    expect(fake.calls.filter((c) => c.cmd === 'depot_finish')).toHaveLength(1);
    expect($('depot-done')?.dataset.event).toBe(fake.queue[0]!.event_id);
    expect(text('depot-done-count')).toBe('4 of 5 scanned');
    expect(text('depot-done-missing')).toBe(`Missing: ${ELM} (3 Elm Close)`);
    expect(fake.queue[0]).toMatchObject({ kind: 'depot_check_in', barcodes: [BEN_1, BEN_2, LAPTOP, HARBOUR, STRAY] });
    expect(fake.depot).toEqual([]);
    await click('depot-close');
    expect(root.dataset.screen).toBe('route');
  });

  it('finishes after one confirmation when nothing is missing', async () => {
    const route = demoRoute();
    route.stops = route.stops.slice(0, 3); // stop 1 delivered; Ben's two and the laptop to bring back
    await startApp({ route });
    await click('depot-open');
    for (const b of [BEN_1, BEN_2, LAPTOP]) await type('depot-input', 'depot-submit', b);
    await click('depot-finish');
    expect($('depot-missing')).toBeNull();
    expect(text('depot-confirm-finish')).toBe('Finish check-in');
    await click('depot-confirm-finish');
    expect(text('depot-done-count')).toBe('3 of 3 scanned');
  });
});

describe('a parcel that is not on the route', () => {
  it('is reported with a photo and a note, and the scan screen goes on', async () => {
    await startApp();
    await click('scan-button');
    await type('barcode-input', 'scan-submit', STRAY);
    expect($('scan-result')?.dataset.outcome).toBe('not_on_route');
    await click('report-unexpected');
    expect($('report-form')).not.toBeNull();
    expect(text('report-barcode')).toBe(STRAY);
    expect($('barcode-input')?.closest<HTMLElement>('[hidden]')).not.toBeNull();

    const photo = $('photo-input') as HTMLInputElement;
    const file = new File([new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3])], 'parcel.jpg', { type: 'image/jpeg' });
    Object.defineProperty(photo, 'files', { value: [file], configurable: true });
    photo.dispatchEvent(new Event('change'));
    ($('report-note') as HTMLTextAreaElement).value = '  Found under the seat ';
    await click('report-send');
    expect(lastArgs('report_unexpected')).toEqual({ barcode: STRAY, photoPath: '/cache/photos/photo-1.jpg', note: 'Found under the seat' });
    expect(fake.queue[0]).toMatchObject({ kind: 'unexpected', barcodes: [STRAY] });
    expect($('report-form')).toBeNull();
    expect(text('report-done')).toBe('Reported: the fleet manager sees it.');
    expect($('report-unexpected')?.hidden).toBe(true);

    await type('barcode-input', 'scan-submit', BEN_1);
    expect($('scan-result')?.dataset.outcome).toBe('added');
    expect($('report-done')?.hidden).toBe(true);
  });

  it('can be reported without photo or note, or not at all', async () => {
    await startApp();
    await click('scan-button');
    await type('barcode-input', 'scan-submit', STRAY);
    await click('report-unexpected');
    await click('report-cancel');
    expect($('report-form')).toBeNull();
    expect($('report-unexpected')?.hidden).toBe(false);
    await click('report-unexpected');
    await click('report-send');
    expect(lastArgs('report_unexpected')).toEqual({ barcode: STRAY, photoPath: null, note: null });
  });
});

describe('the camera kept open (a phone)', () => {
  /** Ben's stop with a third parcel. */
  const threeParcels = () => {
    const route = demoRoute();
    route.stops[1]!.parcels.push({ parcel_id: 'p-2-3', barcode: BEN_3, description: null, photo_required: false, status: 'todo' });
    return route;
  };

  it('collects three parcels with a tick each, ignores labels read again, and closes on Done', async () => {
    await startApp({ route: threeParcels() }, 'mobile');
    await click('scan-button');
    await click('scan-camera');
    await until(() => fake.camera.open, 'the camera opened');
    expect($('camera-sheet')?.hidden).toBe(false);
    expect(document.documentElement.classList.contains('camera-behind')).toBe(true);
    // Windowed (the camera behind the webview) and every format the plugin has.
    expect(lastArgs('plugin:barcode-scanner|scan')).toEqual({ windowed: true, formats: Object.values(Format), cameraDirection: 'back' });
    expect(Object.values(Format)).toHaveLength(16);

    fake.camera.show(BEN_1, BEN_1, BEN_2);
    await until(() => text('camera-count') === 'Scanned 2 of 3', 'two parcels ticked');
    fake.camera.show(BEN_2, BEN_1, BEN_3, BEN_3);
    await until(() => text('camera-count') === 'Scanned 3 of 3', 'three parcels ticked');
    await until(() => fake.camera.open, 'the camera went on reading');
    expect(sent('scan_parcel')).toEqual([BEN_1, BEN_2, BEN_3]);
    expect($('camera-panel')?.querySelectorAll('.parcel.scanned')).toHaveLength(3);
    expect($('camera-result')?.dataset.outcome).toBe('added');

    await click('camera-done');
    expect(fake.calls.map((c) => c.cmd)).toContain('plugin:barcode-scanner|cancel');
    expect(fake.camera.open).toBe(false);
    expect($('camera-sheet')?.hidden).toBe(true);
    expect(document.documentElement.classList.contains('camera-behind')).toBe(false);
    expect(text('scan-count')).toBe('Scanned 3 of 3');
    expect(root.querySelectorAll('[data-testid="scan-stop"] .parcel.scanned')).toHaveLength(3);
    // The typed entry is still there.
    expect($('barcode-input')).not.toBeNull();
  });

  it('says so when the camera is refused', async () => {
    await startApp({}, 'mobile');
    fake.camera.permission = 'denied';
    await click('scan-button');
    await click('scan-camera');
    expect($('camera-sheet')?.hidden).toBe(true);
    expect(text('scan-camera-error')).toMatch(/Camera permission was refused/);
  });

  it('checks the van in at the depot the same way', async () => {
    await startApp({}, 'mobile');
    await click('depot-open');
    await click('depot-camera');
    await until(() => fake.camera.open, 'the camera opened');
    fake.camera.show(BEN_1, LAPTOP, BEN_1, STRAY, LAPTOP, STRAY);
    await until(() => sent('depot_scan').length === 3 && fake.camera.open, 'three labels sent');
    await until(() => text('camera-count') === '2 of 5 scanned', 'two ticked');
    expect(sent('depot_scan')).toEqual([BEN_1, LAPTOP, STRAY]);
    expect($('camera-result')?.dataset.kind).toBe('extra');
    await click('camera-done');
    expect(text('depot-count')).toBe('2 of 5 scanned');
    expect($('depot-extra')?.textContent).toContain(STRAY);
  });
});

describe('scan results in the courier language', () => {
  it('shows each outcome in spanish, never the core English message', async () => {
    await startApp();
    setLang('es');
    await click('nav-settings');
    await click('nav-scan');
    const outcome = async (barcode: string) => {
      await type('barcode-input', 'scan-submit', barcode);
      return [$('scan-result')?.dataset.outcome, text('scan-result')];
    };
    expect(await outcome(STRAY)).toEqual(['not_on_route', 'No está en tu ruta']);
    expect(text('report-unexpected')).toBe('Avisar');
    expect(await outcome('JJD000000000000001')).toEqual(['already_delivered', 'Ya entregado']);
    expect(await outcome(BEN_1)).toEqual(['added', 'Añadido']);
    expect(await outcome(BEN_1)).toEqual(['already_scanned', 'Ya escaneado']);
    expect(await outcome(LAPTOP)).toEqual(['other_stop', 'Este paquete es de la parada 3: 8 Rue des Lilas']);
    expect(await outcome('no!')).toEqual(['invalid', 'No se puede leer ese código de barras']);
    for (const english of ['not a parcel barcode', 'belongs to another stop', 'already scanned', 'not on your route']) {
      expect(root.textContent).not.toContain(english);
    }
  });
});
