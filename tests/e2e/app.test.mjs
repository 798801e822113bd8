// End to end: the real desktop app (debug build, WebKitGTK under Xvfb) driven through tauri-driver,
// against a real `doorstep-server` on a free loopback port. Started by tests/e2e/run.sh, which passes:
//   WEBDRIVER_URL, APP_BINARY, APP_DATA_HOME, SERVER_BIN, SERVER_DATA_DIR, SERVER_PORT, SEED_JSON,
//   SCREENSHOT_DIR
// The same scenario runs against the debug APK on an Android emulator (tests/e2e/run-android.sh, on a
// hosted runner): ANDROID_APK instead of APP_BINARY, WEBDRIVER_URL is Appium, and PUBLIC_URL is the
// server's address as the emulator reaches it (http://10.0.2.2:<port>).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { Session, sleep } from './webdriver.mjs';

const env = process.env;
const serverUrl = `http://127.0.0.1:${env.SERVER_PORT}`;
const publicUrl = env.PUBLIC_URL ?? serverUrl;
const seed = JSON.parse(readFileSync(env.SEED_JSON, 'utf8'));
mkdirSync(env.SCREENSHOT_DIR, { recursive: true });

// Damm check digit, to type a code that passes the device's typo check but is not the real one.
// The table comes from the contract fixture that a Rust test writes from crates/protocol.
const DAMM = JSON.parse(readFileSync(new URL('../../ui/tests/fixtures/contract.json', import.meta.url), 'utf8')).damm.table;
const damm = (digits) => digits.split('').reduce((i, d) => DAMM[i][Number(d)], 0);
function wrongCodeFor(code) {
  const body = code.slice(0, -1);
  const flipped = body.slice(0, -1) + String((Number(body.at(-1)) + 1) % 10);
  return flipped + String(damm(flipped));
}

let server;
function startServer() {
  const args = ['serve', '--demo-mode', '--data-dir', env.SERVER_DATA_DIR, '--listen', `127.0.0.1:${env.SERVER_PORT}`, '--public-url', publicUrl];
  server = spawn(env.SERVER_BIN, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, RUST_LOG: env.SERVER_LOG ?? 'warn' },
  });
  return waitForServer();
}
async function waitForServer() {
  for (let i = 0; i < 150; i++) {
    try {
      const r = await fetch(`${serverUrl}/.well-known/doorstep-keys`);
      if (r.ok) return;
    } catch {}
    await sleep(200);
  }
  throw new Error('the dispatch server did not come up');
}
async function stopServer() {
  if (!server) return;
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
  server = undefined;
}

async function deliveriesOnServer() {
  const r = await fetch(`${serverUrl}/v1/admin/deliveries?date=${seed.date}`, {
    headers: { authorization: `Bearer ${seed.admin_token}` },
  });
  assert.equal(r.status, 200, 'admin deliveries endpoint answers');
  const body = await r.json();
  return Array.isArray(body) ? body : body.deliveries ?? body.events;
}
async function waitForServerEvents(parcelId, want, timeoutMs = 60000) {
  const until = Date.now() + timeoutMs;
  let events = [];
  while (Date.now() < until) {
    events = (await deliveriesOnServer()).filter((e) => (e.parcel_ids ?? []).includes(parcelId));
    if (events.length >= want) return events;
    await sleep(500);
  }
  return events;
}

let app;
async function shot(name) {
  writeFileSync(`${env.SCREENSHOT_DIR}/${name}.png`, await app.screenshot());
}
async function typeOnKeypad(code) {
  for (const d of code) await app.click(`[data-testid="key-${d}"]`);
}
async function handOver(parcel, { wrongFirst }) {
  await app.click('[data-testid="scan-button"]');
  await app.type('[data-testid="barcode-input"]', parcel.barcode);
  await app.click('[data-testid="scan-submit"]');
  await app.click('[data-testid="finish-scanning"]');
  await app.waitFor('[data-testid="code-display"]');
  if (wrongFirst) {
    await typeOnKeypad(wrongCodeFor(parcel.code));
    const left = await app.waitForText('[data-testid="attempts-left"]', (t) => /\d/.test(t));
    assert.match(left, /4/, 'one wrong code leaves 4 of 5 attempts');
    await shot('code-wrong');
  }
  await typeOnKeypad(parcel.code);
  await app.type('[data-testid="recipient-name"]', 'E2E Recipient');
  await shot('proof');
  await app.click('[data-testid="confirm-proof"]');
  await app.waitFor('[data-testid="done-screen"]');
  await shot('done');
  await app.click('[data-testid="next-delivery"]');
}

before(async () => {
  await startServer();
  app = env.ANDROID_APK
    ? await Session.startAndroid(env.WEBDRIVER_URL, env.ANDROID_APK)
    : await Session.start(env.WEBDRIVER_URL, env.APP_BINARY);
});
after(async () => {
  if (app) await app.end();
  await stopServer();
});

const codeParcels = seed.parcels.filter((p) => p.code_required && p.code && !p.photo_required);

test('a courier enrolls, sees the route and hands over a parcel online; the server has it once', async () => {
  await app.type('[data-testid="enroll-input"]', seed.enrollment_uri);
  await app.click('[data-testid="enroll-submit"]');
  await app.waitFor('[data-testid="route-list"]', 30000);
  const stops = await app.findAll('[data-testid^="stop-"]');
  assert.ok(stops.length >= 5, `the route shows the seeded stops (found ${stops.length})`);
  await shot('route');

  const parcel = codeParcels[0];
  assert.ok(parcel, 'the demo route has a parcel that needs a code');
  await handOver(parcel, { wrongFirst: true });

  const events = await waitForServerEvents(parcel.parcel_id, 1);
  assert.equal(events.length, 1, 'the server stored the delivery exactly once');
});

test('with the server down the handover is recorded, and the app syncs it by itself when it is back', async () => {
  const parcel = codeParcels.find((p) => p.offline_allowed && p.stop_id !== codeParcels[0].stop_id);
  assert.ok(parcel, 'the demo route has a second code parcel that allows offline handover');
  await stopServer();
  await app.click('[data-testid="scan-button"]');
  await app.type('[data-testid="barcode-input"]', parcel.barcode);
  await app.click('[data-testid="scan-submit"]');
  await app.click('[data-testid="finish-scanning"]');
  await app.waitFor('[data-testid="code-display"]');
  await typeOnKeypad(parcel.code);
  await app.waitFor('[data-testid="offline-label"]', 30000);
  await app.type('[data-testid="recipient-name"]', 'Offline Recipient');
  await app.click('[data-testid="confirm-proof"]');
  await app.waitFor('[data-testid="done-screen"]');
  await shot('done-offline');
  await app.click('[data-testid="next-delivery"]');

  await startServer();
  const events = await waitForServerEvents(parcel.parcel_id, 1, 90000);
  assert.equal(events.length, 1, 'the offline handover reached the server exactly once, without a manual sync');
});
