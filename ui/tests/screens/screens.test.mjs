// Screen tests: the built UI (vite preview of dist/) in Debian's Chromium at a phone
// viewport, over a mocked IPC (tests/fixtures/fake-backend.ts bundled as an init script).
// One test per screen, each with real assertions and a screenshot in test-output/screens/.
// Run with `npm run test:screens`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build as esbuild } from 'esbuild';
import { build as viteBuild, preview } from 'vite';
import { launchChromium } from './chromium.mjs';

const uiDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = join(uiDir, 'test-output', 'screens');
const ANDROID_UA =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36';

let browser;
let server;
let baseUrl;
let mockScript;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

before(async () => {
  mkdirSync(outDir, { recursive: true });
  await viteBuild({ root: uiDir, logLevel: 'warn' });
  const bundled = await esbuild({
    entryPoints: [join(uiDir, 'tests', 'fixtures', 'mock-entry.ts')],
    bundle: true,
    format: 'iife',
    target: 'es2021',
    write: false,
    logLevel: 'warning',
  });
  mockScript = bundled.outputFiles[0].text;
  const port = await freePort();
  // Serve with the app's own CSP from tauri.conf.json, so a screen that needs more than the
  // shell allows (a fetch, an inline script, a CDN) fails here rather than in the app.
  const csp = JSON.parse(readFileSync(join(uiDir, '..', 'tauri.conf.json'), 'utf8')).app.security.csp;
  server = await preview({
    root: uiDir,
    logLevel: 'warn',
    preview: { port, strictPort: true, host: '127.0.0.1', open: false, headers: { 'Content-Security-Policy': csp } },
  });
  baseUrl = `http://127.0.0.1:${port}/`;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.httpServer.close(r) : r()));
});

/** Opens the app over a fake backend with `opts`; `mobile` switches the user agent. */
async function openApp(opts = {}, { mobile = true, lang = 'en' } = {}) {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    hasTouch: true,
    isMobile: mobile,
    userAgent: mobile ? ANDROID_UA : undefined,
    locale: lang === 'es' ? 'es-ES' : 'en-GB',
    timezoneId: 'UTC',
    reducedMotion: 'reduce',
  });
  await context.addInitScript(
    ([o, l]) => {
      window.__FAKE_OPTIONS__ = o;
      localStorage.setItem('doorstep.lang', l);
    },
    [opts, lang],
  );
  await context.addInitScript({ content: mockScript });
  const page = await context.newPage();
  page.setDefaultTimeout(8000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(baseUrl);
  await page.waitForSelector('#app[data-screen]:not([data-screen="loading"])');
  page.errors = errors;
  return page;
}

const tid = (id) => `[data-testid="${id}"]`;
const screenName = (page) => page.getAttribute('#app', 'data-screen');
async function shot(page, name) {
  await page.screenshot({ path: join(outDir, `${name}.png`) });
}
async function calls(page) {
  return page.evaluate(() => window.__fake.backend.calls.map((c) => c.cmd));
}
async function typeKeys(page, code) {
  for (const d of code) await page.tap(tid(`key-${d}`));
}
/** Every visible control is at least 48 px tall and wide enough to hit with a gloved finger. */
async function assertTapTargets(page) {
  const small = await page.evaluate(() =>
    [...document.querySelectorAll('button, a, select, input:not([type=file]):not([type=radio]):not(.code-input), label.btn, label.option')]
      .filter((el) => el.offsetParent !== null)
      .map((el) => ({ el: el.dataset.testid || el.className || el.tagName, r: el.getBoundingClientRect() }))
      .filter(({ r }) => r.height < 48 || r.width < 48)
      .map(({ el, r }) => `${el} ${Math.round(r.width)}×${Math.round(r.height)}`),
  );
  assert.deepEqual(small, [], 'touch targets smaller than 48 px');
}
async function startStop(page, barcodes) {
  await page.tap(tid('scan-button'));
  for (const b of barcodes) {
    await page.fill(tid('barcode-input'), b);
    await page.press(tid('barcode-input'), 'Enter');
    await page.waitForSelector(`${tid('scan-result')}:not([hidden])`);
  }
}
const CODE_OK = '4829138'; // GOOD_CODE in the fake backend: 482913 + Damm check digit
const WRONG_OK_CHECK = '1111118'; // passes the Damm check, is not the code

describe('the built bundle', () => {
  test('the JavaScript the first screen loads is under 60 KB gzipped', () => {
    const html = readFileSync(join(uiDir, 'dist', 'index.html'), 'utf8');
    const scripts = [...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
    assert.ok(scripts.length >= 1, 'index.html loads a script');
    const gz = scripts.reduce((n, f) => n + gzipSync(readFileSync(join(uiDir, 'dist', f)), { level: 9 }).length, 0);
    console.log(`initial JS: ${scripts.join(', ')} = ${(gz / 1024).toFixed(1)} KB gzipped`);
    assert.ok(gz < 60 * 1024, `initial JS is ${gz} bytes gzipped`);
    assert.ok(!scripts.some((f) => /zxing|ponyfill/.test(f)), 'the barcode engine is not in the initial load');
  });

  test('the ZXing wasm is not in the bundle that Tauri embeds in the binary', () => {
    const files = readdirSync(join(uiDir, 'dist', 'assets'));
    assert.ok(files.some((f) => f.startsWith('ponyfill')), 'the desktop reader is a lazy chunk');
    assert.deepEqual(files.filter((f) => /\.wasm$|zxing/.test(f)), []);
    const js = files.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(uiDir, 'dist', 'assets', f), 'utf8'));
    assert.ok(!js.some((code) => code.includes('AGFzbQ')), 'no base64 wasm (\\0asm) inlined');
  });

  test('a mobile build carries no ZXing at all', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'doorstep-ui-android-'));
    process.env.TAURI_ENV_PLATFORM = 'android'; // as the Tauri CLI sets it for `tauri android build`
    try {
      await viteBuild({ root: uiDir, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
    } finally {
      delete process.env.TAURI_ENV_PLATFORM;
    }
    const files = readdirSync(join(outDir, 'assets'));
    const js = files.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(outDir, 'assets', f), 'utf8'));
    rmSync(outDir, { recursive: true, force: true });
    assert.deepEqual(files.filter((f) => /ponyfill|zxing|\.wasm$/.test(f)), []);
    assert.ok(!js.some((code) => /BarcodeDetector|zxing_reader/.test(code)), 'no desktop reader code');
  });
});

describe('screens at 390×844', () => {
  test('the enroll screen takes a code and a server and shows the core error', async () => {
    const page = await openApp({ enrolled: false }, { mobile: false });
    assert.equal(await screenName(page), 'enroll');
    assert.equal(await page.getAttribute(tid('enroll-server'), 'type'), 'url');
    await page.fill(tid('enroll-input'), 'ABCD');
    await page.tap(tid('enroll-submit'));
    assert.match(await page.textContent(tid('enroll-error')), /server address/);
    await page.fill(tid('enroll-server'), 'https://dispatch.example.org');
    await page.tap(tid('enroll-submit'));
    await page.waitForSelector(`${tid('enroll-error')}[data-code="enrollment_invalid"]`);
    await assertTapTargets(page);
    await shot(page, 'enroll');
    await page.fill(tid('enroll-input'), 'ABCD-1234');
    await page.tap(tid('enroll-submit'));
    await page.waitForSelector(tid('route-list'));
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test('the route screen lists the stops with status chips and a live sync badge', async () => {
    const page = await openApp({ pending: 2 });
    assert.equal(await screenName(page), 'route');
    assert.equal(await page.locator('[data-testid^="stop-"]').count(), 5);
    assert.equal(await page.getAttribute(tid('stop-1'), 'data-status'), 'delivered');
    assert.equal(await page.getAttribute(tid('stop-2'), 'data-status'), 'todo');
    assert.equal(await page.getAttribute(tid('stop-5'), 'data-status'), 'disputed');
    assert.equal(await page.textContent(`${tid('stop-4')} .chip`), 'Not delivered');
    assert.equal(await page.getAttribute(tid('sync-badge'), 'data-pending'), '2');
    assert.match(await page.textContent(tid('route-meta')), /3 of 5 stops done/);
    await assertTapTargets(page);
    await shot(page, 'route');

    // The app refreshed the route by itself at start; the button asks again.
    const refreshes = await page.evaluate(() => window.__fake.backend.calls.filter((c) => c.cmd === 'refresh_route').length);
    await page.tap(tid('refresh-route'));
    await page.waitForFunction((n) => window.__fake.backend.calls.filter((c) => c.cmd === 'refresh_route').length > n, refreshes);
    await page.evaluate(() =>
      window.__fake.emitSync({ pending: 4, disputed: 1, syncing: false, online: false, last_success_ms: null, last_error: null }),
    );
    await page.waitForSelector(`${tid('sync-badge')}[data-online="false"]`);
    assert.match(await page.textContent(tid('sync-badge')), /Offline\s*4/);
    await page.tap(tid('stop-2') + ' .stop-main');
    assert.equal(await page.locator(`${tid('stop-2')} .parcel`).count(), 2);
    await shot(page, 'route-offline-expanded');
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test('the route refreshes when pulled down', async () => {
    const page = await openApp();
    const refreshes = await page.evaluate(() => window.__fake.backend.calls.filter((c) => c.cmd === 'refresh_route').length);
    const box = await page.locator('.scroller').boundingBox();
    const cdp = await page.context().newCDPSession(page);
    const x = box.x + box.width / 2;
    const y0 = box.y + 20;
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x, y: y0 }] });
    for (let dy = 20; dy <= 140; dy += 20) {
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x, y: y0 + dy }] });
    }
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    await page.waitForFunction((n) => window.__fake.backend.calls.filter((c) => c.cmd === 'refresh_route').length > n, refreshes);
    await page.context().close();
  });

  test('the scan screen adds parcels of one stop and says when one is not on the route', async () => {
    const page = await openApp({}, { mobile: false });
    await page.tap(tid('scan-button'));
    assert.equal(await screenName(page), 'scan');
    assert.ok(await page.isVisible(tid('scan-image')), 'desktop offers scanning from a picture');
    await page.fill(tid('barcode-input'), 'ZZ999999999ZZ');
    await page.press(tid('barcode-input'), 'Enter');
    await page.waitForSelector(`${tid('scan-result')}[data-outcome="not_on_route"]`);
    assert.equal(await page.textContent(tid('scan-result')), 'Not on your route');
    await page.fill(tid('barcode-input'), '00340123450000000017');
    await page.tap(tid('scan-submit'));
    await page.waitForSelector(`${tid('scan-result')}[data-outcome="added"]`);
    await page.fill(tid('barcode-input'), 'RR123456785GB');
    await page.press(tid('barcode-input'), 'Enter');
    await page.waitForSelector(`${tid('scan-result')}[data-outcome="other_stop"]`);
    assert.match(await page.textContent(tid('scan-result')), /stop 3: 8 Rue des Lilas/);
    await page.fill(tid('barcode-input'), '00340123450000000024');
    await page.press(tid('barcode-input'), 'Enter');
    await page.waitForFunction(() => document.querySelector('[data-testid="scan-count"]')?.textContent === 'Scanned 2 of 2');
    assert.equal(await page.locator('.parcel.scanned').count(), 2);
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'barcode-input');
    await assertTapTargets(page);
    await shot(page, 'scan');
    await page.tap(tid('finish-scanning'));
    await page.waitForSelector(tid('code-display'));
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test('the desktop scan screen reads a barcode from a picture with the bundled ZXing', async () => {
    const { writeBarcode, prepareZXingModule } = await import('zxing-wasm/writer');
    const wasm = readFileSync(join(uiDir, 'node_modules', 'zxing-wasm', 'dist', 'writer', 'zxing_writer.wasm'));
    prepareZXingModule({ overrides: { wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) }, fireImmediately: true });
    const label = await writeBarcode('00340123450000000017', { format: 'Code128', scale: 3, addQuietZones: true });
    assert.equal(label.error, '');
    const png = Buffer.from(await label.image.arrayBuffer());

    const page = await openApp({}, { mobile: false });
    const blocked = [];
    page.on('console', (m) => /Content Security Policy|Refused/.test(m.text()) && blocked.push(m.text()));
    // The wasm is not in dist/: the shell serves it on its `reader:` scheme from the resource
    // that tauri.linux.conf.json ships, so serve the very file that config names.
    const resources = JSON.parse(readFileSync(join(uiDir, '..', 'tauri.linux.conf.json'), 'utf8')).bundle.resources;
    const [source] = Object.entries(resources).find(([, target]) => target === 'zxing_reader.wasm');
    const readerWasm = readFileSync(join(uiDir, '..', source));
    const served = [];
    await page.route('http://reader.localhost/**', (route) => {
      served.push(new URL(route.request().url()).pathname);
      return route.fulfill({ status: 200, contentType: 'application/wasm', headers: { 'Access-Control-Allow-Origin': '*' }, body: readerWasm });
    });
    await page.tap(tid('scan-button'));
    assert.deepEqual(served, [], 'the reader loads only when it is needed');
    await page.setInputFiles(tid('scan-image-input'), { name: 'label.png', mimeType: 'image/png', buffer: png });
    await page.waitForSelector(`${tid('scan-result')}[data-outcome="added"]`, { timeout: 20000 });
    assert.equal(await page.textContent(tid('scan-count')), 'Scanned 1 of 2');
    assert.deepEqual(served, ['/zxing_reader.wasm']);
    assert.deepEqual(blocked, [], 'nothing blocked by the CSP');
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test('the code keypad groups digits, catches typos, counts attempts and submits at full length', async () => {
    const page = await openApp();
    await startStop(page, ['00340123450000000017']);
    await page.tap(tid('finish-scanning'));
    await page.waitForSelector(tid('code-display'));
    for (let d = 0; d <= 9; d++) {
      const box = await page.locator(tid(`key-${d}`)).boundingBox();
      assert.ok(box.height >= 72 && box.width >= 96, `key-${d} is ${box.width}×${box.height}`);
    }
    const input = page.locator(tid('code-input'));
    assert.equal(await input.getAttribute('inputmode'), 'numeric');
    assert.equal(await input.getAttribute('autocomplete'), 'one-time-code');
    assert.ok(await page.isHidden(tid('attempts-left')), 'attempts are unknown until the server answers');

    await typeKeys(page, '1234');
    assert.deepEqual(await page.locator('.code-group').evaluateAll((gs) => gs.map((g) => g.textContent)), ['123', '4']);
    await page.tap(tid('key-backspace'));
    assert.equal(await page.getAttribute(tid('code-display'), 'data-length'), '3');
    await page.tap(tid('key-backspace'));
    await page.tap(tid('key-backspace'));
    await page.tap(tid('key-backspace'));

    await typeKeys(page, '1111115'); // the last digit off: the check digit catches it on the phone
    await page.waitForSelector(`${tid('code-error')}[data-code="code_format"]`);
    assert.match(await page.textContent(tid('code-error')), /Check the code with the customer/);
    assert.ok(!(await calls(page)).includes('submit_code'), 'a typo is never sent');

    await typeKeys(page, WRONG_OK_CHECK);
    await page.waitForSelector(`${tid('attempts-left')}[data-count="4"]`);
    assert.equal(await page.textContent(tid('code-error')), 'Wrong code.');
    await assertTapTargets(page);
    await shot(page, 'code-keypad-wrong');
    await typeKeys(page, CODE_OK.slice(0, 4));
    assert.ok(await page.isHidden(tid('code-error')), 'a new attempt clears the last error');
    await shot(page, 'code-keypad');
    await typeKeys(page, CODE_OK.slice(4));
    await page.waitForSelector(tid('recipient-name'));
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test('a hardware keyboard types into the keypad', async () => {
    const page = await openApp({}, { mobile: false });
    await startStop(page, ['00340123450000000017']);
    await page.tap(tid('finish-scanning'));
    await page.waitForSelector(tid('code-display'));
    await page.keyboard.type(CODE_OK);
    await page.waitForSelector(tid('recipient-name'));
    assert.equal(await screenName(page), 'proof');
    await page.context().close();
  });

  test('the offline keypad says plainly that the code is checked later', async () => {
    const page = await openApp({ offline: true, online: false });
    await startStop(page, ['00340123450000000017']);
    await page.tap(tid('finish-scanning'));
    await page.waitForSelector(tid('offline-label'));
    assert.match(await page.textContent(tid('offline-label')), /Offline/);
    assert.ok(await page.isHidden(tid('resend-code')), 'no resend while offline');
    await shot(page, 'code-offline');
    await typeKeys(page, '1234566'); // passes the check digit; recorded for later verification
    await page.waitForSelector(`${tid('proof-verification')}[data-verification="offline_code"]`);
    assert.ok(await page.isVisible(tid('offline-label')));
    await page.context().close();
  });

  test('the locked screen blocks the code and leads to the exception', async () => {
    const page = await openApp({ attempts: 1 });
    await startStop(page, ['00340123450000000017']);
    await page.tap(tid('finish-scanning'));
    await typeKeys(page, WRONG_OK_CHECK);
    await page.waitForSelector(tid('locked-screen'));
    assert.equal(await page.locator('[data-testid^="key-"]').count(), 0, 'no keypad when locked');
    await assertTapTargets(page);
    await shot(page, 'locked');
    await page.tap(tid('locked-report'));
    await page.waitForSelector(tid('exceptions-screen'));
    assert.ok(await page.isChecked(tid('reason-code_locked')));
    await page.context().close();
  });

  test('the exceptions screen records a reason with a note', async () => {
    const page = await openApp();
    await startStop(page, ['00340123450000000017']);
    await page.tap(tid('finish-scanning'));
    await page.tap(tid('cant-give-code'));
    await page.waitForSelector(tid('exceptions-screen'));
    assert.ok(await page.isChecked(tid('reason-no_code')));
    assert.equal(await page.locator('[data-testid^="reason-"]').count(), 7);
    await page.tap('label[for="reason-not_home"]');
    await page.fill(tid('exception-note'), 'Left a card');
    await assertTapTargets(page);
    await shot(page, 'exceptions');
    await page.tap(tid('exception-submit'));
    await page.waitForSelector(`${tid('done-screen')}[data-outcome="exception"]`);
    const args = await page.evaluate(() => window.__fake.backend.calls.find((c) => c.cmd === 'report_exception').args);
    assert.deepEqual(args, { reason: 'not_home', note: 'Left a card' });
    await page.context().close();
  });

  test('the proof screen asks for the name and a camera photo when policy requires it', async () => {
    const page = await openApp();
    await startStop(page, ['RR123456785GB']);
    await page.tap(tid('finish-scanning'));
    await page.waitForSelector(tid('proof-screen'));
    assert.equal(await page.getAttribute(tid('photo-input'), 'capture'), 'environment');
    assert.equal(await page.getAttribute(tid('photo-input'), 'accept'), 'image/*');
    await page.fill(tid('recipient-name'), '');
    await page.tap(tid('confirm-proof'));
    assert.match(await page.textContent(tid('proof-error')), /name/);
    await page.fill(tid('recipient-name'), 'Chloé Martin');
    // A picture of a parcel on a doorstep, drawn in the page so the test needs no asset.
    const png = await page.evaluate(() => {
      const c = document.createElement('canvas');
      c.width = 640;
      c.height = 400;
      const g = c.getContext('2d');
      g.fillStyle = '#8d9aa8';
      g.fillRect(0, 0, 640, 400);
      g.fillStyle = '#6b7785';
      g.fillRect(0, 300, 640, 100);
      g.fillStyle = '#c8955a';
      g.fillRect(200, 150, 240, 170);
      g.fillStyle = '#a8743d';
      g.fillRect(200, 150, 240, 30);
      g.fillStyle = '#f2efe6';
      g.fillRect(250, 220, 140, 60);
      return c.toDataURL('image/png').split(',')[1];
    });
    await page.setInputFiles(tid('photo-input'), { name: 'parcel.png', mimeType: 'image/png', buffer: Buffer.from(png, 'base64') });
    await page.waitForSelector(`${tid('photo-preview')}:not([hidden])`);
    await assertTapTargets(page);
    await shot(page, 'proof');
    await page.tap(tid('confirm-proof'));
    await page.waitForSelector(tid('done-screen'));
    const args = await page.evaluate(() => window.__fake.backend.calls.find((c) => c.cmd === 'submit_proof').args);
    assert.equal(args.recipientName, 'Chloé Martin');
    assert.match(args.photoPath, /^\/cache\/photos\/photo-\d+\.jpg$/, 'the photo bytes went to Rust first');
    const saved = await page.evaluate(() => window.__fake.backend.calls.filter((c) => c.cmd === 'save_photo').length);
    assert.equal(saved, 1);
    await page.context().close();
  });

  test('the done screen confirms the delivery and goes to the next one', async () => {
    const page = await openApp();
    await startStop(page, ['00340123450000000017', '00340123450000000024']);
    await page.tap(tid('finish-scanning'));
    await typeKeys(page, CODE_OK);
    await page.waitForSelector(tid('recipient-name'));
    await page.tap(tid('confirm-proof'));
    await page.waitForSelector(`${tid('done-screen')}[data-outcome="delivered"]`);
    assert.match(await page.textContent(tid('done-screen')), /2 parcels at 221 Baker Street/);
    await assertTapTargets(page);
    await shot(page, 'done');
    await page.tap(tid('next-delivery'));
    await page.waitForSelector(`${tid('stop-2')}[data-status="delivered"]`);
    await page.context().close();
  });

  test('the sync queue shows pending, synced and disputed records with the reason', async () => {
    const queue = [
      { event_id: 'e3', stop_address: '221 Baker Street, Flat 2', recipient_name: 'Ben Okafor', kind: 'delivered', barcodes: ['00340123450000000017'], committed_at_ms: Date.UTC(2026, 10, 25, 11, 2), state: 'pending', reason: null },
      { event_id: 'e2', stop_address: '3 Elm Close', recipient_name: 'Eva Novak', kind: 'delivered', barcodes: ['00340123450000000048'], committed_at_ms: Date.UTC(2026, 10, 25, 10, 31), state: 'disputed', reason: 'The offline code was wrong: the customer must be visited again.' },
      { event_id: 'e1', stop_address: 'Calle Mayor 12, 3ºB', recipient_name: 'Ana García', kind: 'delivered', barcodes: ['JJD000000000000001'], committed_at_ms: Date.UTC(2026, 10, 25, 9, 12), state: 'synced', reason: null },
    ];
    const page = await openApp({ queue });
    await page.tap(tid('nav-queue'));
    await page.waitForSelector(tid('queue-item-e1'));
    assert.equal(await page.locator(`${tid('queue-list')} > li`).count(), 3);
    assert.equal(await page.getAttribute(tid('queue-item-e2'), 'data-state'), 'disputed');
    assert.match(await page.textContent(tid('queue-item-e2')), /offline code was wrong/);
    assert.equal(await page.textContent(`${tid('queue-pending')} strong`), '1');
    await assertTapTargets(page);
    await shot(page, 'queue');
    await page.tap(tid('sync-now'));
    await page.waitForSelector(`${tid('queue-item-e3')}[data-state="synced"]`);
    await page.context().close();
  });

  test('settings show the enrollment and switch the language to Spanish', async () => {
    const page = await openApp();
    await page.tap(tid('nav-settings'));
    await page.waitForSelector(tid('settings-screen'));
    assert.equal(await page.textContent(tid('settings-server')), 'https://dispatch.example.org');
    assert.equal(await page.textContent(tid('settings-version')), '0.1.0');
    await page.selectOption(tid('language-select'), 'es');
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Ajustes');
    assert.equal(await page.getAttribute('html', 'lang'), 'es');
    await assertTapTargets(page);
    await shot(page, 'settings-es');
    await page.tap(tid('nav-route'));
    assert.equal(await page.textContent('h1'), 'Ruta de hoy');
    await page.context().close();
  });

  test('the update screen blocks new deliveries, says what still waits, syncs it and opens the update through Rust', async () => {
    const queue = [1, 2].map((n) => ({
      event_id: `e${n}`, stop_address: `${n} Elm Close`, recipient_name: 'Eva Novak', kind: 'delivered',
      barcodes: [`0034012345000000004${n}`], committed_at_ms: Date.UTC(2026, 10, 25, 9, n), state: 'pending', reason: null,
    }));
    const page = await openApp({ updateRequired: true, queue });
    assert.equal(await screenName(page), 'update');
    assert.match(await page.textContent(tid('update-screen')), /0\.2\.0/);
    assert.equal(await page.locator(tid('nav-route')).count(), 0, 'no way around it');
    assert.equal(await page.getAttribute(tid('update-pending'), 'data-count'), '2');
    assert.match(await page.textContent(tid('update-pending')), /2 deliveries on this phone are still waiting to be sent/);
    assert.equal(await page.locator('a[href]').count(), 0, 'the webview follows no link itself');
    await assertTapTargets(page);
    await shot(page, 'update-required');

    await page.tap(tid('update-sync'));
    await page.waitForSelector(`${tid('update-pending')}[data-count="0"]`);
    assert.match(await page.textContent(tid('update-pending')), /Every delivery recorded on this phone has been sent/);
    assert.ok((await calls(page)).includes('sync_now'));
    assert.equal(await screenName(page), 'update', 'still blocked after the sync');
    await page.tap(tid('update-get'));
    await page.waitForFunction(() => window.__fake.backend.calls.some((c) => c.cmd === 'open_update'));
    assert.ok(await page.isHidden(tid('error-banner')));
    await shot(page, 'update-required-synced');
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test('the update screen speaks spanish and shows a refused link as an error', async () => {
    const page = await openApp({ updateRequired: true, pending: 1, updateUrlRefused: true }, { lang: 'es' });
    assert.equal(await page.textContent('h1'), 'Actualización necesaria');
    assert.match(await page.textContent(tid('update-pending')), /Queda 1 entrega/);
    assert.equal(await page.textContent(tid('update-sync')), 'Enviar ahora');
    await page.tap(tid('update-get'));
    await page.waitForSelector(`${tid('error-banner')}[data-code="update_url_refused"]`);
    await shot(page, 'update-required-es');
    await page.context().close();
  });

  test('an available update is a quiet banner that opens through Rust and hides for the session', async () => {
    const update = {
      minimum: '0.0.0', latest: '0.2.1', update_url: 'https://dispatch.example.org/v1/releases/files/9f2c', required: false, available: true,
    };
    const page = await openApp({ update });
    assert.equal(await screenName(page), 'route', 'nothing is blocked');
    await page.waitForSelector(`${tid('update-banner')}:not([hidden])`);
    assert.match(await page.textContent(tid('update-banner')), /Update available: 0\.2\.1/);
    assert.equal(await page.getAttribute(tid('update-banner'), 'data-version'), '0.2.1');
    await assertTapTargets(page);
    await shot(page, 'update-available');
    await page.tap(tid('update-banner-open'));
    await page.waitForFunction(() => window.__fake.backend.calls.some((c) => c.cmd === 'open_update'));
    await page.tap(tid('nav-queue'));
    assert.ok(await page.isVisible(tid('update-banner')), 'on the sync tab too');
    await page.tap(tid('update-banner-dismiss'));
    assert.ok(await page.isHidden(tid('update-banner')));
    await page.tap(tid('nav-route'));
    assert.ok(await page.isHidden(tid('update-banner')), 'hidden for the rest of the session');
    await page.context().close();
  });

  test('a route refresh that brings a raised minimum shows the update screen', async () => {
    const page = await openApp();
    await page.evaluate(() => {
      window.__fake.backend.updateOnRefresh = {
        minimum: '0.2.0', latest: '0.2.0', update_url: null, required: true, available: false,
      };
    });
    await page.tap(tid('refresh-route'));
    await page.waitForSelector(tid('update-screen'));
    assert.match(await page.textContent(tid('update-screen')), /Ask your fleet manager/);
    assert.equal(await page.locator(tid('update-get')).count(), 0, 'no link, no button');
    await page.context().close();
  });

  test('a fleet build starts the enrollment form with its server', async () => {
    const page = await openApp({ enrolled: false, defaultServerUrl: 'https://dispatch.northside.example' }, { mobile: false });
    assert.equal(await page.inputValue(tid('enroll-server')), 'https://dispatch.northside.example');
    await page.fill(tid('enroll-input'), 'ABCD-1234');
    await page.tap(tid('enroll-submit'));
    await page.waitForSelector(tid('route-list'));
    const args = await page.evaluate(() => window.__fake.backend.calls.find((c) => c.cmd === 'enroll').args);
    assert.deepEqual(args, { input: 'ABCD-1234', serverUrl: 'https://dispatch.northside.example' });
    await shot(page, 'enroll-fleet-build');
    await page.context().close();
  });

  test('the keypad speaks spanish when that is the chosen language', async () => {
    const page = await openApp({}, { lang: 'es' });
    await startStop(page, ['00340123450000000017']);
    await page.tap(tid('finish-scanning'));
    await page.waitForSelector(tid('code-display'));
    await typeKeys(page, WRONG_OK_CHECK);
    await page.waitForSelector(`${tid('attempts-left')}[data-count="4"]`);
    assert.equal(await page.textContent(tid('attempts-left')), 'Quedan 4 intentos');
    assert.equal(await page.textContent(tid('code-error')), 'Código incorrecto.');
    await shot(page, 'code-keypad-es');
    await page.context().close();
  });
});
