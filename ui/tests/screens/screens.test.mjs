// Screen tests: the built UI (vite preview of dist/) in Debian's Chromium at a phone
// viewport, over a mocked IPC (tests/fixtures/fake-backend.ts bundled as an init script).
// One test per screen, each with real assertions and a screenshot in test-output/screens/;
// then axe (axe-core) over the screens in each colour theme, whose screenshots of the dark and
// high-contrast themes also go to docs/screens/. Run with `npm run test:screens`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build as esbuild } from 'esbuild';
import { build as viteBuild, preview } from 'vite';
import { launchChromium } from './chromium.mjs';

const uiDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = join(uiDir, 'test-output', 'screens');
const docsDir = join(uiDir, 'docs', 'screens');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
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

/**
 * Opens the app over a fake backend with `opts`; `mobile` switches the user agent, `theme` is
 * the courier's saved colour choice, `colorScheme` and `contrast` what the phone asks for;
 * `via` another browser than the shared one (e.g. one with a fake camera).
 */
async function openApp(opts = {}, { mobile = true, lang = 'en', theme = null, colorScheme = 'light', contrast = 'no-preference', via = browser } = {}) {
  const context = await via.newContext({
    colorScheme,
    contrast,
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
    ([o, l, th]) => {
      window.__FAKE_OPTIONS__ = o;
      localStorage.setItem('doorstep.lang', l);
      if (th) localStorage.setItem('doorstep.theme', th);
    },
    [opts, lang, theme],
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

/** A photo drawn in the page (so the tests need no asset), handed to the photo input. */
async function pickPhoto(page) {
  const png = await page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 640;
    c.height = 400;
    const g = c.getContext('2d');
    g.fillStyle = '#c8955a';
    g.fillRect(0, 0, 640, 400);
    g.fillStyle = '#a8743d';
    g.fillRect(60, 40, 520, 320);
    g.fillStyle = '#2a2d33';
    g.fillRect(170, 110, 300, 190);
    g.fillStyle = '#5d8bd6';
    g.fillRect(185, 125, 270, 160);
    return c.toDataURL('image/png').split(',')[1];
  });
  await page.setInputFiles(tid('photo-input'), { name: 'photo.png', mimeType: 'image/png', buffer: Buffer.from(png, 'base64') });
  await page.waitForSelector(`${tid('photo-preview')}:not([hidden])`);
}
const screenName = (page) => page.getAttribute('#app', 'data-screen');
async function shot(page, name) {
  await page.screenshot({ path: join(outDir, `${name}.png`) });
}
/** A screenshot that the docs show too (docs/screens/), besides test-output/. */
async function docShot(page, name) {
  await shot(page, name);
  await page.screenshot({ path: join(docsDir, `${name}.png`) });
}
/**
 * Problems axe finds in screens that the colour themes did not touch, each waiting for a fix in
 * its own screen; remove the entry with the fix. Rules here are off everywhere, so keep it short.
 */
const AXE_KNOWN = {
  // WCAG 2.5.3: the stop buttons (route.ts) and the sync badge (chrome.ts) carry an aria-label
  // that does not contain their visible text in order (e.g. "3 parcels" and the code tag).
  rules: ['label-content-name-mismatch'],
  // WCAG 4.1.2: on phones scan.ts keeps the picture input in the page without its label (the
  // label button is desktop-only).
  exclude: ['#scan-image-file'],
};

/**
 * Runs axe over the page: the WCAG 2.0 and 2.1 A and AA rules, and with `enhanced` also the AAA
 * contrast rule (7:1, 4.5:1 for large text). Fails listing every violation. axe goes in through
 * the DevTools protocol (page.evaluate), which the app's CSP does not govern, so the page
 * keeps the CSP it has in the app.
 */
async function assertAccessible(page, where, { enhanced = false } = {}) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const { violations, ran } = await page.evaluate(
    async ([enhanced, known]) => {
      const rules = {
        // The viewport turns pinch zoom off on purpose (gloved hands zoom by accident, and the
        // layout is a fixed phone layout); text size follows the phone's own font setting.
        'meta-viewport': { enabled: false },
        'color-contrast-enhanced': { enabled: enhanced },
      };
      for (const id of known.rules) rules[id] = { enabled: false };
      const r = await window.axe.run(
        { exclude: known.exclude.map((sel) => [sel]) },
        { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, rules },
      );
      return {
        violations: r.violations.map((v) => ({
          rule: v.id,
          help: v.help,
          nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`),
        })),
        ran: [...r.passes, ...r.violations].map((v) => v.id),
      };
    },
    [enhanced, AXE_KNOWN],
  );
  assert.ok(ran.includes('color-contrast'), `${where}: axe checked no text contrast`);
  if (enhanced) assert.ok(ran.includes('color-contrast-enhanced'), `${where}: axe did not check 7:1`);
  assert.deepEqual(violations, [], `${where}: ${JSON.stringify(violations, null, 2)}`);
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
    // The typo goes to the core, which counts it for the record and never sends it on.
    await page.waitForFunction(() => window.__fake.backend.typos === 1);
    assert.ok(await page.isHidden(tid('attempts-left')), 'a typo spends no attempt');

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
    assert.equal(await page.locator('[data-testid^="reason-"]').count(), 9);
    await page.tap('label[for="reason-not_home"]');
    await page.fill(tid('exception-note'), 'Left a card');
    await assertTapTargets(page);
    await shot(page, 'exceptions');
    await page.tap(tid('exception-submit'));
    await page.waitForSelector(`${tid('done-screen')}[data-outcome="exception"]`);
    const args = await page.evaluate(() => window.__fake.backend.calls.find((c) => c.cmd === 'report_exception').args);
    assert.deepEqual(args, { reason: 'not_home', note: 'Left a card', idCheck: null });
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
    await pickPhoto(page);
    await assertTapTargets(page);
    await shot(page, 'proof');
    await page.tap(tid('confirm-proof'));
    await page.waitForSelector(tid('done-screen'));
    const args = await page.evaluate(() => window.__fake.backend.calls.find((c) => c.cmd === 'submit_proof').args);
    assert.equal(args.proof.recipient_name, 'Chloé Martin');
    assert.match(args.proof.photo_path, /^\/cache\/photos\/photo-\d+\.jpg$/, 'the photo bytes went to Rust first');
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

describe('colour themes at 390×844', () => {
  const QUEUE = [
    { event_id: 'e3', stop_address: '221 Baker Street, Flat 2', recipient_name: 'Ben Okafor', kind: 'delivered', barcodes: ['00340123450000000017'], committed_at_ms: Date.UTC(2026, 10, 25, 11, 2), state: 'pending', reason: null },
    { event_id: 'e2', stop_address: '3 Elm Close', recipient_name: 'Eva Novak', kind: 'delivered', barcodes: ['00340123450000000048'], committed_at_ms: Date.UTC(2026, 10, 25, 10, 31), state: 'disputed', reason: 'The offline code was wrong: the customer must be visited again.' },
    { event_id: 'e1', stop_address: 'Calle Mayor 12, 3ºB', recipient_name: 'Ana García', kind: 'delivered', barcodes: ['JJD000000000000001'], committed_at_ms: Date.UTC(2026, 10, 25, 9, 12), state: 'synced', reason: null },
  ];
  const UPDATE = { minimum: '0.0.0', latest: '0.2.1', update_url: 'https://dispatch.example.org/v1/releases/files/9f2c', required: false, available: true };

  for (const theme of ['light', 'dark', 'high-contrast']) {
    const enhanced = theme === 'high-contrast';
    test(`every screen passes axe in the ${theme} theme${enhanced ? ', text at 7:1' : ''}`, async () => {
      const page = await openApp({ queue: QUEUE }, { theme });
      assert.equal(await page.getAttribute('html', 'data-theme'), theme);
      await assertAccessible(page, 'route', { enhanced });
      if (theme !== 'light') await docShot(page, `route-${theme}`);
      await page.tap(tid('stop-2') + ' .stop-main');
      await page.evaluate(() =>
        window.__fake.emitSync({ pending: 4, disputed: 1, syncing: false, online: false, last_success_ms: null, last_error: null }),
      );
      await page.waitForSelector(`${tid('sync-badge')}[data-online="false"]`);
      await assertAccessible(page, 'route, offline, a stop open', { enhanced });

      await page.tap(tid('nav-queue'));
      await page.waitForSelector(tid('queue-item-e1'));
      await assertAccessible(page, 'sync queue', { enhanced });

      await page.tap(tid('nav-settings'));
      await page.waitForSelector(tid('settings-screen'));
      assert.equal(await page.inputValue(tid('theme-select')), theme);
      await assertAccessible(page, 'settings', { enhanced });

      await page.tap(tid('nav-route'));
      await page.tap(tid('scan-button'));
      await page.fill(tid('barcode-input'), 'ZZ999999999ZZ');
      await page.press(tid('barcode-input'), 'Enter');
      await page.waitForSelector(`${tid('scan-result')}[data-outcome="not_on_route"]`);
      await assertAccessible(page, 'scan, not on the route', { enhanced });
      await page.fill(tid('barcode-input'), '00340123450000000017');
      await page.press(tid('barcode-input'), 'Enter');
      await page.waitForSelector(`${tid('scan-result')}[data-outcome="added"]`);
      await assertAccessible(page, 'scan', { enhanced });

      await page.tap(tid('finish-scanning'));
      await page.waitForSelector(tid('code-display'));
      await typeKeys(page, WRONG_OK_CHECK);
      await page.waitForSelector(`${tid('attempts-left')}[data-count="4"]`);
      for (let d = 0; d <= 9; d++) {
        const box = await page.locator(tid(`key-${d}`)).boundingBox();
        assert.ok(box.height >= 72 && box.width >= 96, `key-${d} is ${box.width}×${box.height}`);
      }
      await assertAccessible(page, 'code keypad, wrong code', { enhanced });
      if (theme !== 'light') await docShot(page, `code-keypad-${theme}`);
      await typeKeys(page, CODE_OK);
      await page.waitForSelector(tid('recipient-name'));
      await assertAccessible(page, 'proof', { enhanced });
      await page.tap(tid('confirm-proof'));
      await page.waitForSelector(tid('done-screen'));
      await assertAccessible(page, 'done', { enhanced });
      assert.deepEqual(page.errors, []);
      await page.context().close();
    });

    test(`the screens off the delivery path pass axe in the ${theme} theme`, async () => {
      const enroll = await openApp({ enrolled: false }, { theme, mobile: false });
      await enroll.fill(tid('enroll-input'), 'ABCD');
      await enroll.tap(tid('enroll-submit'));
      await enroll.waitForSelector(tid('enroll-error'));
      await assertAccessible(enroll, 'enroll, with an error', { enhanced });
      await enroll.context().close();

      const update = await openApp({ updateRequired: true, pending: 1, updateUrlRefused: true }, { theme });
      await update.tap(tid('update-get'));
      await update.waitForSelector(`${tid('error-banner')}[data-code="update_url_refused"]`);
      await assertAccessible(update, 'update required, error banner', { enhanced });
      await update.context().close();

      const offline = await openApp({ update: UPDATE, offline: true, online: false }, { theme });
      await offline.waitForSelector(`${tid('update-banner')}:not([hidden])`);
      await assertAccessible(offline, 'route, update available', { enhanced });
      await startStop(offline, ['00340123450000000017']);
      await offline.tap(tid('finish-scanning'));
      await offline.waitForSelector(tid('offline-label'));
      await assertAccessible(offline, 'code keypad, offline', { enhanced });
      await offline.tap(tid('cant-give-code'));
      await offline.waitForSelector(tid('exceptions-screen'));
      await assertAccessible(offline, 'exceptions', { enhanced });
      await offline.context().close();

      const locked = await openApp({ attempts: 1 }, { theme });
      await startStop(locked, ['00340123450000000017']);
      await locked.tap(tid('finish-scanning'));
      await typeKeys(locked, WRONG_OK_CHECK);
      await locked.waitForSelector(tid('locked-screen'));
      await assertAccessible(locked, 'locked', { enhanced });
      await locked.context().close();
    });
  }

  test('the phone chooses by default, live, and an explicit choice outlasts a restart', async () => {
    const page = await openApp({}, { colorScheme: 'dark' });
    assert.equal(await page.getAttribute('html', 'data-theme'), 'dark');
    assert.equal(await page.getAttribute('meta[name="color-scheme"]', 'content'), 'dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.waitForSelector('html[data-theme="light"]');
    await page.emulateMedia({ contrast: 'more' });
    await page.waitForSelector('html[data-theme="high-contrast"]');
    assert.equal(await page.getAttribute('meta[name="theme-color"]', 'content'), '#000000', 'the status bar is the app bar');

    await page.tap(tid('nav-settings'));
    assert.equal(await page.inputValue(tid('theme-select')), 'system');
    await page.selectOption(tid('theme-select'), 'dark');
    await page.waitForSelector('html[data-theme="dark"]');
    await page.emulateMedia({ colorScheme: 'light', contrast: 'no-preference' });
    await page.reload();
    await page.waitForSelector(tid('route-list'));
    assert.equal(await page.getAttribute('html', 'data-theme'), 'dark', 'the phone no longer decides');
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });
});

describe('at the door at 390×844 (method, open box, place, ID and age, signature)', () => {
  const door = (method, steps = {}) => ({
    method, code_required: false, photo_required: false, signature_required: false, open_box_check: false, id_check: false, ...steps,
  });
  const BEN = ['00340123450000000017', '00340123450000000024'];
  const LAPTOP = 'RR123456785GB'; // stop 3: no code needed, a photo required
  // Ben's first parcel may go every way; the second not to a pickup point and, to a neighbour,
  // only with a signature: the choice offers three ways, the neighbour's with both steps.
  const BEN_DOORS = {
    [BEN[0]]: [door('hand_to_recipient', { code_required: true }), door('neighbour', { code_required: true }), door('safe_place', { photo_required: true }), door('pickup_point')],
    [BEN[1]]: [door('hand_to_recipient', { code_required: true }), door('neighbour', { signature_required: true }), door('safe_place', { photo_required: true })],
  };
  const SAFE = { doors: { [LAPTOP]: [door('safe_place', { photo_required: true })] }, safePlaces: { [LAPTOP]: ['Behind the side gate', 'In the porch', 'With the concierge'] } };
  const OPEN_BOX = { doors: { [LAPTOP]: [door('hand_to_recipient', { open_box_check: true, photo_required: true })] } };
  const AGE_18 = { doors: { [BEN[0]]: [door('hand_to_recipient', { id_check: true, minimum_age: 18, signature_required: true })] }, year: 2026 };

  /**
   * Signs with a finger: touch events through the DevTools protocol, as a phone sends them, a
   * frame apart and resting still before the finger lifts, as a hand does (lifted at speed,
   * Chromium reads a fling and swallows the next tap).
   */
  async function signWithFinger(page) {
    const pad = page.locator(tid('signature-pad'));
    await pad.scrollIntoViewIfNeeded();
    const box = await pad.boundingBox();
    const cdp = await page.context().newCDPSession(page);
    const at = (fx, fy) => ({ x: box.x + box.width * fx, y: box.y + box.height * fy });
    let time = Date.now() / 1000;
    const touch = (type, touchPoints) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints, timestamp: (time += 0.016) });
    const stroke = async (points) => {
      await touch('touchStart', [points[0]]);
      for (const p of points.slice(1)) await touch('touchMove', [p]);
      time += 0.2;
      await touch('touchMove', [points.at(-1)]);
      await touch('touchEnd', []);
    };
    const loops = [];
    for (let i = 0; i <= 48; i++) {
      const t = i / 48;
      loops.push(at(0.12 + 0.62 * t + 0.05 * Math.cos(t * Math.PI * 8), 0.55 - 0.22 * Math.sin(t * Math.PI * 8) * (1 - 0.4 * t)));
    }
    await stroke(loops);
    await stroke([at(0.1, 0.68), at(0.4, 0.7), at(0.8, 0.66)]);
    await cdp.detach();
    await page.waitForSelector(`${tid('signature-section')}[data-signed="true"]`);
  }
  /** How many pixels of the pad have ink on them. */
  const ink = async (page) => {
    // Strokes are drawn at the next animation frame: let two pass before reading the pixels.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    return page.$eval(tid('signature-pad'), (c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n;
    });
  };
  const lastArgs = (page, cmd) => page.evaluate((cmd) => [...window.__fake.backend.calls].reverse().find((c) => c.cmd === cmd)?.args, cmd);
  /** The saved signature decoded back: it is a PNG an image decoder reads. */
  const savedSignature = (page) =>
    page.evaluate(async () => {
      const saves = window.__fake.backend.calls.filter((c) => c.cmd === 'save_photo').map((c) => c.args);
      const png = saves.find((b) => b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47);
      if (!png) return null;
      const bitmap = await createImageBitmap(new Blob([png], { type: 'image/png' }));
      return { width: bitmap.width, height: bitmap.height };
    });
  async function toNeighbourProof(page) {
    await startStop(page, BEN);
    await page.tap(tid('finish-scanning'));
    await page.waitForSelector(tid('method-screen'));
    await page.tap(tid('method-neighbour'));
    await page.waitForSelector(tid('code-display'));
    await typeKeys(page, CODE_OK);
    await page.waitForSelector(tid('proof-screen'));
  }

  test('the method choice offers only the ways every parcel allows, with their steps; one way skips it', async () => {
    const page = await openApp({ doors: BEN_DOORS });
    await startStop(page, BEN);
    await page.tap(tid('finish-scanning'));
    await page.waitForSelector(tid('method-screen'));
    assert.equal(await screenName(page), 'method');
    assert.equal(await page.textContent(`${tid('method-screen')} h2`), 'How are you handing it over?');
    const offered = await page.locator('.method-btn').evaluateAll((bs) => bs.map((b) => b.dataset.testid));
    assert.deepEqual(offered, ['method-hand_to_recipient', 'method-neighbour', 'method-safe_place']);
    assert.equal(await page.getAttribute(tid('method-neighbour'), 'data-steps'), 'Code, Signature');
    assert.equal(await page.getAttribute(tid('method-safe_place'), 'data-steps'), 'Photo');
    for (const b of offered) {
      const box = await page.locator(tid(b)).boundingBox();
      assert.ok(box.height >= 72 && box.width >= 300, `${b} is ${box.width}×${box.height}`);
    }
    assert.ok(!(await calls(page)).includes('finish_scanning'), 'nothing chosen yet');
    await assertTapTargets(page);
    await assertAccessible(page, 'method choice');
    await docShot(page, 'method-choice');
    await page.tap(tid('back'));
    await page.waitForSelector(tid('scan-count'));
    assert.deepEqual(page.errors, []);
    await page.context().close();

    const one = await openApp({ doors: { [LAPTOP]: [door('pickup_point')] } });
    await startStop(one, [LAPTOP]);
    await one.tap(tid('finish-scanning'));
    await one.waitForSelector(`${tid('proof-screen')}[data-method="pickup_point"]`);
    assert.deepEqual(await lastArgs(one, 'finish_scanning'), { method: 'pickup_point' });
    await one.fill(tid('place-input'), 'PUDO-4471');
    await one.tap(tid('confirm-proof'));
    await one.waitForSelector(tid('done-screen'));
    assert.equal((await lastArgs(one, 'submit_proof')).proof.place, 'PUDO-4471');
    await one.context().close();
  });

  test("the customer's choice: their words on the stop as text, the method screen opens on their method, the proof has their place", async () => {
    const ana = { method: 'neighbour', place: 'Ana Ruiz, 14', instructions: '<b>ring twice</b>' };
    const page = await openApp({ doors: BEN_DOORS, customers: { 2: ana } });
    assert.equal(await page.textContent(tid('customer-tag-2')), 'Customer note');
    await page.tap(`${tid('stop-2')} .stop-main`);
    const note = `${tid('stop-2')} ${tid('customer-note')}`;
    await page.waitForSelector(note);
    assert.equal(await page.textContent(`${note} ${tid('customer-instructions')}`), '<b>ring twice</b>');
    assert.ok(await page.isVisible(`${note} ${tid('customer-instructions')}`));
    assert.equal(await page.locator(`${note} b`).count(), 0, 'their markup stays text');
    await assertAccessible(page, 'route, customer note');
    await startStop(page, BEN);
    assert.ok(await page.isVisible(`${tid('scan-stop')} ${tid('customer-instructions')}`));
    await page.tap(tid('finish-scanning'));
    await page.waitForSelector(tid('method-screen'));
    assert.equal(await page.textContent(`${tid('method-screen')} ${tid('customer-asked')}`), 'The customer asked for: a neighbour — Ana Ruiz, 14');
    assert.ok(await page.isVisible(`${tid('method-neighbour')} ${tid('method-customer-choice')}`));
    assert.equal(await page.getAttribute(tid('method-neighbour'), 'data-preselected'), 'true');
    await assertTapTargets(page);
    await assertAccessible(page, 'method choice, customer');
    await shot(page, 'method-customer-choice');
    await page.tap(tid('method-neighbour'));
    await page.waitForSelector(tid('code-display'));
    await typeKeys(page, CODE_OK);
    await page.waitForSelector(tid('proof-screen'));
    assert.equal(await page.inputValue(tid('place-input')), 'Ana Ruiz, 14');
    assert.ok(await page.isVisible(tid('place-from-customer')));
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test('a neighbour takes it: name, house number and a finger signature as a PNG', async () => {
    const page = await openApp({ doors: BEN_DOORS });
    await toNeighbourProof(page);
    assert.equal(await page.textContent(tid('proof-method')), 'To a neighbour');
    assert.ok(await page.isDisabled(tid('confirm-proof')), 'no confirm before the signature');
    await page.fill(tid('recipient-name'), 'Grace Adeyemi');
    await page.fill(tid('place-input'), '14B');
    await assertAccessible(page, 'proof, neighbour');
    await docShot(page, 'proof-neighbour');

    assert.equal(await ink(page), 0);
    await signWithFinger(page);
    assert.ok((await ink(page)) > 500, 'the finger drew on the pad');
    assert.ok(await page.isEnabled(tid('confirm-proof')));
    await page.tap(tid('signature-clear'));
    await page.waitForSelector(`${tid('signature-section')}[data-signed="false"]`);
    assert.equal(await ink(page), 0, 'Clear wipes the pad');
    assert.ok(await page.isDisabled(tid('confirm-proof')));
    await signWithFinger(page);
    await page.locator(tid('signature-section')).evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await assertTapTargets(page);
    await docShot(page, 'signature');

    await page.tap(tid('confirm-proof'));
    await page.waitForSelector(`${tid('done-screen')}[data-outcome="delivered"]`);
    const { proof } = await lastArgs(page, 'submit_proof');
    assert.equal(proof.recipient_name, 'Grace Adeyemi');
    assert.equal(proof.place, '14B');
    assert.match(proof.signature_path, /^\/cache\/photos\//, 'the signature went to Rust first');
    const png = await savedSignature(page);
    assert.ok(png && png.width > 100 && png.height > 20, `the signature is a PNG: ${JSON.stringify(png)}`);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test('the signature pad works in landscape and keeps the strokes when the phone turns', async () => {
    const page = await openApp({ doors: BEN_DOORS });
    await toNeighbourProof(page);
    await signWithFinger(page);
    const portrait = await ink(page);
    await page.setViewportSize({ width: 844, height: 390 });
    await page.waitForFunction(
      ([id, w]) => document.querySelector(`[data-testid="${id}"]`).width > w,
      ['signature-pad', 358 * 2],
    );
    await page.waitForFunction((id) => {
      const c = document.querySelector(`[data-testid="${id}"]`);
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true;
      return false;
    }, 'signature-pad');
    const landscape = await ink(page);
    assert.ok(landscape > portrait / 4, `the strokes are drawn again after the resize (${portrait} → ${landscape} pixels)`);
    const box = await page.locator(tid('signature-pad')).boundingBox();
    assert.ok(box.width > 700 && box.height >= 150, `the pad is ${box.width}×${box.height} in landscape`);
    await page.locator(`${tid('signature-section')} .sig-box`).evaluate((el) => el.scrollIntoView({ block: 'end' }));
    await assertTapTargets(page);
    await docShot(page, 'signature-landscape');

    // Signing again in landscape, then back to portrait: still there.
    await page.tap(tid('signature-clear'));
    await signWithFinger(page);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForFunction((id) => document.querySelector(`[data-testid="${id}"]`).getBoundingClientRect().width < 400, 'signature-pad');
    await page.waitForFunction((id) => {
      const c = document.querySelector(`[data-testid="${id}"]`);
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true;
      return false;
    }, 'signature-pad');
    await page.fill(tid('recipient-name'), 'Grace Adeyemi');
    await page.fill(tid('place-input'), '14B');
    await page.tap(tid('confirm-proof'));
    await page.waitForSelector(tid('done-screen'));
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test('a safe place: pick one the shipper allows (or describe one) and photograph it', async () => {
    const page = await openApp(SAFE);
    await startStop(page, [LAPTOP]);
    await page.tap(tid('finish-scanning'));
    await page.waitForSelector(`${tid('proof-screen')}[data-method="safe_place"]`);
    assert.equal(await page.locator(tid('recipient-name')).count(), 0, 'nobody signs for a safe place');
    assert.equal(await page.locator(`${tid('safe-places')} input[type="radio"]`).count(), 4);
    assert.ok(await page.isHidden(tid('place-input')), 'the description only for another place');
    await page.tap(tid('confirm-proof'));
    assert.equal(await page.textContent(tid('proof-error')), 'Pick or describe the safe place.');
    await page.tap('label[for="safe-place-1"]');
    await pickPhoto(page);
    await assertTapTargets(page);
    await assertAccessible(page, 'proof, safe place');
    await docShot(page, 'proof-safe-place');
    await page.tap('label[for="safe-place-other"]');
    await page.fill(tid('place-input'), 'In the recycling shed');
    await page.tap(tid('confirm-proof'));
    await page.waitForSelector(tid('done-screen'));
    const { proof } = await lastArgs(page, 'submit_proof');
    assert.equal(proof.place, 'In the recycling shed');
    assert.match(proof.photo_path, /^\/cache\/photos\//);
    await page.context().close();
  });

  test('the open-box check: photo of the contents, then the customer confirms or refuses', async () => {
    const page = await openApp(OPEN_BOX);
    await startStop(page, [LAPTOP]);
    await page.tap(tid('finish-scanning'));
    await page.waitForSelector(tid('open-box-screen'));
    assert.equal(await screenName(page), 'open_box');
    await page.tap(tid('contents-confirm'));
    assert.equal(await page.textContent(tid('open-box-error')), 'Take a photo of the contents first.');
    assert.ok(!(await calls(page)).includes('check_contents'));
    await pickPhoto(page);
    for (const b of ['contents-confirm', 'contents-refuse']) {
      const box = await page.locator(tid(b)).boundingBox();
      assert.ok(box.height >= 56 && box.width >= 300, `${b} is ${box.width}×${box.height}`);
    }
    await assertTapTargets(page);
    await assertAccessible(page, 'open-box check');
    await docShot(page, 'open-box');
    await page.tap(tid('contents-confirm'));
    await page.waitForSelector(tid('proof-screen'));
    assert.equal((await lastArgs(page, 'check_contents')).accepted, true);
    await page.context().close();

    const refused = await openApp(OPEN_BOX);
    await startStop(refused, [LAPTOP]);
    await refused.tap(tid('finish-scanning'));
    await refused.waitForSelector(tid('open-box-screen'));
    await pickPhoto(refused);
    await refused.tap(tid('contents-refuse'));
    await refused.waitForSelector(`${tid('done-screen')}[data-outcome="exception"]`);
    assert.deepEqual(await lastArgs(refused, 'check_contents'), { photoPath: '/cache/photos/photo-1.jpg', accepted: false });
    assert.equal(await refused.textContent(tid('done-reason')), 'Reason: Customer refused the contents');
    await shot(refused, 'open-box-refused');
    await refused.context().close();
  });

  test('the ID and age check: ID type, year of birth or a tap, in person, never the number; under age → refused: age', async () => {
    const page = await openApp(AGE_18);
    await startStop(page, [BEN[0]]);
    await page.tap(tid('finish-scanning'));
    await page.waitForSelector(tid('id-section'));
    assert.equal(await page.textContent(tid('id-no-number')), 'Do not write down or photograph the ID number.');
    assert.equal(await page.locator(`${tid('id-section')} input[type="radio"]`).count(), 4);
    const texts = await page.locator(`${tid('id-section')} input:not([type="radio"]):not([type="checkbox"])`).evaluateAll((els) => els.map((e) => e.dataset.testid));
    assert.deepEqual(texts, ['id-year'], 'the year of birth is the only thing typed');
    assert.equal(await page.getAttribute(tid('id-year'), 'inputmode'), 'numeric');
    assert.equal(await page.locator('input[type="file"]').count(), 0, 'no photo of the ID');
    const labels = await page.locator('label, input').evaluateAll((els) => els.map((e) => `${e.textContent} ${e.placeholder ?? ''}`).join(' '));
    assert.doesNotMatch(labels, /ID number|document number/i);

    await page.tap('label[for="id-type-passport"]');
    await page.fill(tid('id-year'), '2010');
    await page.tap('label[for="id-seen"]');
    await page.locator(tid('id-section')).evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await assertTapTargets(page);
    await assertAccessible(page, 'ID and age check');
    await docShot(page, 'id-check');

    await signWithFinger(page);
    await page.tap(tid('confirm-proof'));
    await page.waitForSelector(`${tid('age-refusal')}:not([hidden])`);
    assert.match(await page.textContent(tid('age-refusal')), /under 18/);
    await shot(page, 'id-check-under-age');
    await page.tap(tid('record-refused-age'));
    await page.waitForSelector(`${tid('done-screen')}[data-outcome="exception"]`);
    assert.deepEqual(await lastArgs(page, 'report_exception'), {
      reason: 'refused_age', note: null, idCheck: { id_type: 'passport', year_of_birth: 2010, courier_confirmed: true },
    });
    assert.equal(await page.getAttribute(tid('done-reason'), 'data-reason'), 'refused_age');
    await page.context().close();

    const adult = await openApp(AGE_18, { lang: 'es' });
    await startStop(adult, [BEN[0]]);
    await adult.tap(tid('finish-scanning'));
    await adult.waitForSelector(tid('id-section'));
    assert.equal(await adult.textContent(tid('id-no-number')), 'No anotes ni fotografíes el número del documento.');
    await adult.tap('label[for="id-type-driving_licence"]');
    await adult.tap('label[for="id-meets-age"]');
    await adult.tap('label[for="id-seen"]');
    await signWithFinger(adult);
    await adult.tap(tid('confirm-proof'));
    await adult.waitForSelector(`${tid('done-screen')}[data-outcome="delivered"]`);
    assert.deepEqual((await lastArgs(adult, 'submit_proof')).proof.id_check, { id_type: 'driving_licence', meets_minimum_age: true, courier_confirmed: true });
    await adult.context().close();
  });

  for (const theme of ['dark', 'high-contrast']) {
    test(`the door screens pass axe in the ${theme} theme`, async () => {
      const enhanced = theme === 'high-contrast';
      const page = await openApp({ doors: { ...BEN_DOORS, ...OPEN_BOX.doors }, year: 2026 }, { theme });
      await startStop(page, BEN);
      await page.tap(tid('finish-scanning'));
      await page.waitForSelector(tid('method-screen'));
      await assertAccessible(page, 'method choice', { enhanced });
      await page.tap(tid('method-neighbour'));
      await typeKeys(page, CODE_OK);
      await page.waitForSelector(tid('signature-pad'));
      await signWithFinger(page);
      await assertAccessible(page, 'proof, neighbour, signed', { enhanced });
      await page.context().close();

      const box = await openApp(OPEN_BOX, { theme });
      await startStop(box, [LAPTOP]);
      await box.tap(tid('finish-scanning'));
      await box.waitForSelector(tid('open-box-screen'));
      await assertAccessible(box, 'open-box check', { enhanced });
      await box.context().close();

      const id = await openApp(AGE_18, { theme });
      await startStop(id, [BEN[0]]);
      await id.tap(tid('finish-scanning'));
      await id.waitForSelector(tid('id-section'));
      await id.tap('label[for="id-type-passport"]');
      await id.fill(tid('id-year'), '2010');
      await id.tap('label[for="id-seen"]');
      await signWithFinger(id);
      await id.tap(tid('confirm-proof'));
      await id.waitForSelector(`${tid('age-refusal')}:not([hidden])`);
      await assertAccessible(id, 'ID check, under age', { enhanced });
      await id.context().close();
    });
  }
});

describe('the sync queue at 390×844: corrections and refusals in the courier\'s language', () => {
  /** A record of the fake's route day (2026-11-25); Ana's parcel (stop 1) is delivered there. */
  const record = (event_id, extra = {}) => ({
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
  });
  const DISPUTED = record('e2', {
    stop_address: '3 Elm Close',
    recipient_name: 'Eva Novak',
    barcodes: ['00340123450000000048'],
    committed_at_ms: Date.UTC(2026, 10, 25, 10, 31),
    state: 'disputed',
    reason: 'The offline code was wrong: the customer must be visited again.',
    reject_code: 'code_wrong',
  });

  test('a delivery of today is corrected from the queue and its parcel goes back on the route', async () => {
    const page = await openApp({ queue: [record('f1', { kind: 'failed', stop_address: '14 Harbour Road', recipient_name: 'Dev Patel', barcodes: ['00340123450000000031'], committed_at_ms: Date.UTC(2026, 10, 25, 9, 40) }), record('e1')] });
    assert.equal(await page.getAttribute(tid('stop-1'), 'data-status'), 'delivered');
    await page.tap(tid('nav-queue'));
    await page.waitForSelector(tid('correct-e1'));
    assert.equal(await page.locator(tid('correct-f1')).count(), 0, 'a failed attempt cannot be corrected');
    await page.tap(tid('correct-e1'));
    await page.waitForSelector(tid('correction-sheet'));
    assert.equal(await page.textContent('h1'), 'Correct this delivery');
    await page.tap('label[for="correct-reason-wrong_door"]');
    await page.fill(tid('correct-note'), 'Left at number 14 by mistake');
    await assertAccessible(page, 'correction sheet');
    await assertTapTargets(page);
    await docShot(page, 'queue-correction');

    await page.tap(tid('correct-submit'));
    await page.waitForSelector(`${tid('correct-done')}:not([hidden])`);
    assert.equal(await page.getAttribute('[data-testid^="queue-item-"]', 'data-kind'), 'correction');
    assert.equal(await page.locator(tid('correct-e1')).count(), 0, 'corrected once');
    await assertAccessible(page, 'queue after a correction');
    await page.tap(tid('nav-route'));
    await page.waitForSelector(`${tid('stop-1')}[data-status="todo"]`);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test('the correction sheet passes axe at 7:1 in high contrast', async () => {
    const page = await openApp({ queue: [record('e1')] }, { theme: 'high-contrast' });
    await page.tap(tid('nav-queue'));
    await page.tap(tid('correct-e1'));
    await page.waitForSelector(tid('correction-sheet'));
    await page.tap(tid('correct-submit'));
    await page.waitForSelector(`${tid('correct-error')}:not([hidden])`);
    await assertAccessible(page, 'correction sheet, no reason picked', { enhanced: true });
    await page.context().close();
  });

  test('a disputed record says in Spanish what to do, without the server English reason', async () => {
    const page = await openApp({ queue: [DISPUTED, record('e1')], syncError: 'sync_held' }, { lang: 'es' });
    await page.tap(tid('nav-queue'));
    await page.waitForSelector(tid('queue-item-e2'));
    assert.equal(await page.getAttribute(tid('queue-item-e2'), 'data-state'), 'disputed');
    assert.equal(await page.getAttribute(tid('queue-reason'), 'data-reject-code'), 'code_wrong');
    assert.equal(
      await page.textContent(tid('queue-reason')),
      'El código del cliente era incorrecto. Vuelve a visitar al cliente o llama a tu responsable de flota.',
    );
    assert.equal(await page.getAttribute(tid('sync-error'), 'data-code'), 'sync_held');
    assert.match(await page.textContent(tid('sync-error')), /^El servidor tiene en espera algunos registros/);
    const text = await page.textContent('body');
    assert.doesNotMatch(text, /offline code was wrong|keeps 1 record waiting/);
    assert.equal(await page.locator(tid('correct-e2')).count(), 0, 'a disputed record is for the fleet manager');
    assert.equal(await page.textContent(tid('correct-e1')), 'Corregir esta entrega');
    await assertAccessible(page, 'sync queue, disputed, Spanish');
    await assertTapTargets(page);
    await docShot(page, 'queue-disputed-es');
    await page.context().close();
  });
});

describe('the van at 390×844: depot check-in, a parcel not on the route, the camera kept open', () => {
  const BEN = ['00340123450000000017', '00340123450000000024'];
  const BEN_3 = '00340123450000000055';
  const LAPTOP = 'RR123456785GB';
  const HARBOUR = '00340123450000000031';
  const ELM = '00340123450000000048';
  const STRAY = 'ZZ999999999ZZ';
  const THEMES = ['dark', 'high-contrast'];

  async function depotScan(page, label) {
    await page.fill(tid('depot-input'), label);
    await page.press(tid('depot-input'), 'Enter');
    await page.waitForFunction((l) => window.__fake.backend.depot.includes(l) && document.querySelector('[data-testid="depot-last"]'), label);
  }
  /** The depot screen with four of five parcels scanned and one label that was not expected. */
  async function depotUnderWay(opts = {}) {
    const page = await openApp({}, opts);
    await page.tap(tid('depot-open'));
    await page.waitForSelector(tid('depot-expected'));
    for (const b of [...BEN, LAPTOP, HARBOUR, STRAY]) await depotScan(page, b);
    return page;
  }
  /** Ben's stop gets a third parcel (the core's route; the scan answers carry it). */
  const thirdParcel = (page) =>
    page.evaluate((barcode) => {
      window.__fake.backend.route.stops[1].parcels.push({ parcel_id: 'p-2-3', barcode, description: null, photo_required: false, status: 'todo' });
    }, BEN_3);
  const sentLabels = (page, cmd) => page.evaluate((c) => window.__fake.backend.calls.filter((x) => x.cmd === c).map((x) => x.args.barcode), cmd);

  test('the depot check-in ticks each label, shows the unexpected apart, and names the missing before a second tap', async () => {
    const page = await openApp();
    const open = page.locator(tid('depot-open'));
    // At the end of the list, clear of the scan button (the list leaves room under it).
    await page.locator('.scroller').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    assert.equal(await open.textContent(), 'End of day: depot check-in');
    await shot(page, 'route-depot-open');
    await page.tap(tid('depot-open'));
    await page.waitForSelector(tid('depot-expected'));
    assert.equal(await screenName(page), 'depot');
    assert.equal(await page.textContent(tid('depot-count')), '0 of 5 scanned');
    for (const b of [...BEN, LAPTOP, HARBOUR]) await depotScan(page, b);
    await depotScan(page, BEN[0]);
    assert.equal(await page.getAttribute(tid('depot-last'), 'data-kind'), 'already');
    await depotScan(page, STRAY);
    assert.equal(await page.getAttribute(tid('depot-last'), 'data-kind'), 'extra');
    assert.equal(await page.textContent(tid('depot-count')), '4 of 5 scanned');
    assert.equal(await page.locator(`${tid('depot-expected')} [data-checked="true"]`).count(), 4);
    assert.equal(await page.getAttribute(tid(`depot-parcel-${ELM}`), 'data-checked'), 'false');
    assert.match(await page.textContent(tid('depot-extra')), new RegExp(STRAY));
    await assertTapTargets(page);
    await assertAccessible(page, 'depot check-in');
    await docShot(page, 'depot-check-in');

    await page.tap(tid('depot-finish'));
    await page.waitForSelector(tid('depot-confirm'));
    assert.equal(await page.textContent(tid('depot-missing')), `Missing: ${ELM} (3 Elm Close)`);
    assert.equal(await page.textContent(tid('depot-confirm-finish')), 'Finish with 1 missing');
    assert.ok(!(await calls(page)).includes('depot_finish'), 'the first tap only asks');
    await assertTapTargets(page);
    await assertAccessible(page, 'depot check-in, confirm with a parcel missing');
    await docShot(page, 'depot-missing-confirm');

    await page.tap(tid('depot-confirm-finish'));
    await page.waitForSelector(tid('depot-done'));
    assert.equal(await page.textContent(tid('depot-done-count')), '4 of 5 scanned');
    const record = await page.evaluate(() => window.__fake.backend.queue[0]);
    assert.equal(record.kind, 'depot_check_in');
    assert.deepEqual(record.barcodes, [...BEN, LAPTOP, HARBOUR, STRAY]);
    await assertAccessible(page, 'depot check-in recorded');
    await shot(page, 'depot-recorded');
    await page.tap(tid('depot-close'));
    await page.waitForSelector(tid('route-list'));
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  for (const theme of THEMES) {
    test(`the depot check-in passes axe in the ${theme} theme`, async () => {
      const enhanced = theme === 'high-contrast';
      const page = await depotUnderWay({ theme });
      await assertAccessible(page, 'depot check-in', { enhanced });
      await docShot(page, `depot-check-in-${theme}`);
      await page.tap(tid('depot-finish'));
      await page.waitForSelector(tid('depot-missing'));
      await assertAccessible(page, 'depot confirm, missing', { enhanced });
      await docShot(page, `depot-missing-confirm-${theme}`);
      await page.tap(tid('depot-confirm-finish'));
      await page.waitForSelector(tid('depot-done'));
      await assertAccessible(page, 'depot recorded', { enhanced });
      await page.context().close();
    });
  }

  test('a parcel not on the route is reported with a photo and a note; the scan screen goes on', async () => {
    const page = await openApp();
    await page.tap(tid('scan-button'));
    await page.fill(tid('barcode-input'), STRAY);
    await page.press(tid('barcode-input'), 'Enter');
    await page.waitForSelector(`${tid('scan-result')}[data-outcome="not_on_route"]`);
    await page.tap(tid('report-unexpected'));
    await page.waitForSelector(tid('report-form'));
    assert.equal(await page.textContent(tid('report-barcode')), STRAY);
    await pickPhoto(page);
    await page.fill(tid('report-note'), 'Found under the passenger seat');
    await assertTapTargets(page);
    await assertAccessible(page, 'report a parcel not on the route');
    await docShot(page, 'report-unexpected');
    await page.tap(tid('report-send'));
    await page.waitForSelector(`${tid('report-done')}:not([hidden])`);
    assert.equal(await page.textContent(tid('report-done')), 'Reported: the fleet manager sees it.');
    const args = await page.evaluate(() => window.__fake.backend.calls.find((c) => c.cmd === 'report_unexpected').args);
    assert.deepEqual(args, { barcode: STRAY, photoPath: '/cache/photos/photo-1.jpg', note: 'Found under the passenger seat' });
    assert.ok(await page.isHidden(tid('report-unexpected')));
    await page.fill(tid('barcode-input'), BEN[0]);
    await page.press(tid('barcode-input'), 'Enter');
    await page.waitForSelector(`${tid('scan-result')}[data-outcome="added"]`);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test('scan results speak spanish: each outcome by its code', async () => {
    const page = await openApp({}, { lang: 'es' });
    await page.tap(tid('scan-button'));
    const outcome = async (barcode, expected) => {
      await page.fill(tid('barcode-input'), barcode);
      await page.press(tid('barcode-input'), 'Enter');
      await page.waitForSelector(`${tid('scan-result')}[data-outcome="${expected}"]`);
      return page.textContent(tid('scan-result'));
    };
    assert.equal(await outcome(STRAY, 'not_on_route'), 'No está en tu ruta');
    assert.equal(await page.textContent(tid('report-unexpected')), 'Avisar');
    assert.equal(await outcome(BEN[0], 'added'), 'Añadido');
    assert.equal(await outcome(LAPTOP, 'other_stop'), 'Este paquete es de la parada 3: 8 Rue des Lilas');
    await shot(page, 'scan-other-stop-es');
    await page.context().close();
  });

  test('on a phone the camera stays open behind the page, asks for every format, and ticks each parcel once', async () => {
    const page = await openApp();
    await thirdParcel(page);
    await page.tap(tid('scan-button'));
    await page.tap(tid('scan-camera'));
    await page.waitForFunction(() => window.__fake.backend.camera.open);
    const args = await page.evaluate(() => window.__fake.backend.calls.findLast((c) => c.cmd === 'plugin:barcode-scanner|scan').args);
    assert.equal(args.windowed, true);
    assert.equal(args.formats.length, 16, `every format of the plugin: ${args.formats}`);
    assert.ok(await page.evaluate(() => document.documentElement.classList.contains('camera-behind')));
    await page.evaluate((labels) => window.__fake.backend.camera.show(...labels), [BEN[0], BEN[0], BEN[1], BEN[0], BEN_3, BEN[1]]);
    await page.waitForFunction(() => document.querySelector('[data-testid="camera-count"]')?.textContent === 'Scanned 3 of 3');
    await page.waitForFunction(() => window.__fake.backend.camera.open);
    assert.deepEqual(await sentLabels(page, 'scan_parcel'), [...BEN, BEN_3]);
    assert.equal(await page.locator(`${tid('camera-panel')} .parcel.scanned`).count(), 3);
    await assertTapTargets(page);
    await assertAccessible(page, 'camera kept open (phone)');
    await shot(page, 'scan-continuous-phone');
    await page.tap(tid('camera-done'));
    await page.waitForSelector(`${tid('camera-sheet')}[hidden]`, { state: 'attached' });
    assert.ok((await calls(page)).includes('plugin:barcode-scanner|cancel'));
    assert.equal(await page.textContent(tid('scan-count')), 'Scanned 3 of 3');
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  describe('on desktop, a camera filmed labels and ZXing reads every frame', () => {
    let camBrowser;
    let wasm;
    const dir = mkdtempSync(join(tmpdir(), 'doorstep-camera-'));

    /**
     * A video (Y4M, 10 frames a second) of three labels held up one after the other for a
     * second each, which Chromium's fake camera plays in a loop: every label is seen many times.
     */
    async function labelsVideo(labels) {
      const { writeBarcode, prepareZXingModule } = await import('zxing-wasm/writer');
      const writer = readFileSync(join(uiDir, 'node_modules', 'zxing-wasm', 'dist', 'writer', 'zxing_writer.wasm'));
      prepareZXingModule({ overrides: { wasmBinary: writer.buffer.slice(writer.byteOffset, writer.byteOffset + writer.byteLength) }, fireImmediately: true });
      const W = 640;
      const H = 480;
      const parts = [Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`)];
      const chroma = Buffer.alloc(W * H / 2, 128);
      for (const label of labels) {
        const { symbol, error } = await writeBarcode(label, { format: 'Code128', scale: 1 });
        assert.equal(error, '');
        const luma = Buffer.alloc(W * H, 255);
        const scale = Math.floor((W - 80) / symbol.width);
        const x0 = Math.floor((W - symbol.width * scale) / 2);
        for (let y = 140; y < 340; y++) {
          for (let x = 0; x < symbol.width * scale; x++) luma[y * W + x0 + x] = symbol.data[Math.floor(x / scale)];
        }
        for (let f = 0; f < 10; f++) parts.push(Buffer.from('FRAME\n'), luma, chroma);
      }
      const file = join(dir, 'labels.y4m');
      writeFileSync(file, Buffer.concat(parts));
      return file;
    }

    before(async () => {
      const video = await labelsVideo([...BEN, BEN_3]);
      camBrowser = await launchChromium([
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
        `--use-file-for-fake-video-capture=${video}`,
      ]);
      const resources = JSON.parse(readFileSync(join(uiDir, '..', 'tauri.linux.conf.json'), 'utf8')).bundle.resources;
      const [source] = Object.entries(resources).find(([, target]) => target === 'zxing_reader.wasm');
      wasm = readFileSync(join(uiDir, '..', source));
    });
    after(async () => {
      await camBrowser?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('collects the three parcels with a tick each, ignores them when seen again, and stops on Done', async () => {
      const page = await openApp({}, { mobile: false, via: camBrowser });
      await page.route('http://reader.localhost/**', (route) =>
        route.fulfill({ status: 200, contentType: 'application/wasm', headers: { 'Access-Control-Allow-Origin': '*' }, body: wasm }),
      );
      await thirdParcel(page);
      await page.tap(tid('scan-button'));
      await page.tap(tid('scan-camera'));
      await page.waitForSelector(`${tid('camera-sheet')}:not([hidden]) video`);
      await page.waitForFunction(() => document.querySelector('[data-testid="camera-count"]')?.textContent === 'Scanned 3 of 3', null, { timeout: 30000 });
      // The film loops: every label passes the camera again; none goes to the core twice.
      await page.waitForTimeout(3500);
      assert.deepEqual(await sentLabels(page, 'scan_parcel'), [...BEN, BEN_3]);
      assert.equal(await page.locator(`${tid('camera-panel')} .parcel.scanned`).count(), 3);
      assert.equal(await page.getAttribute(tid('camera-result'), 'data-outcome'), 'added');
      assert.ok(await page.evaluate(() => document.querySelector('.camera-video').srcObject !== null), 'the camera is still on');
      await assertTapTargets(page);
      await assertAccessible(page, 'camera kept open (desktop)');
      await docShot(page, 'scan-continuous');
      await page.tap(tid('camera-done'));
      await page.waitForSelector(`${tid('camera-sheet')}[hidden]`, { state: 'attached' });
      assert.ok(await page.evaluate(() => document.querySelector('.camera-video').srcObject === null), 'Done turns the camera off');
      assert.equal(await page.textContent(tid('scan-count')), 'Scanned 3 of 3');
      assert.ok(await page.isVisible(tid('barcode-input')), 'typing stays');
      assert.deepEqual(page.errors, []);
      await page.context().close();
    });

    test('checks the van in at the depot the same way', async () => {
      const page = await openApp({}, { mobile: false, via: camBrowser });
      await page.route('http://reader.localhost/**', (route) =>
        route.fulfill({ status: 200, contentType: 'application/wasm', headers: { 'Access-Control-Allow-Origin': '*' }, body: wasm }),
      );
      await thirdParcel(page);
      await page.tap(tid('depot-open'));
      await page.waitForSelector(tid('depot-expected'));
      await page.tap(tid('depot-camera'));
      await page.waitForFunction(() => window.__fake.backend.depot.length === 3, null, { timeout: 30000 });
      await page.waitForTimeout(3500);
      assert.deepEqual(await sentLabels(page, 'depot_scan'), [...BEN, BEN_3]);
      await page.tap(tid('camera-done'));
      await page.waitForSelector(`${tid('camera-sheet')}[hidden]`, { state: 'attached' });
      assert.equal(await page.textContent(tid('depot-count')), '3 of 6 scanned');
      await page.context().close();
    });
  });
});
