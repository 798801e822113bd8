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
import http from 'node:http';
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

// A gate between the app and the server for the release test: passes every request through, but
// can hold back the app's syncs (503) while its manifest refreshes still get through, so a
// delivery stays queued for as long as the test wants, whatever the app's backoff does.
let gate;
function startGate() {
  const state = { holdSyncs: false, requests: [] };
  const upstream = new URL(serverUrl);
  const srv = http.createServer((req, res) => {
    state.requests.push({ method: req.method, path: req.url, userAgent: req.headers['user-agent'] ?? '' });
    if (state.holdSyncs && req.url.startsWith('/v1/sync')) {
      req.resume();
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
      res.end('held back by the test');
      return;
    }
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () => {
      // The address the app uses: the server's public address (10.0.2.2 on the emulator) with
      // the gate's port.
      const url = new URL(publicUrl);
      url.port = String(srv.address().port);
      resolve({ state, url: url.origin, close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }) });
    }),
  );
}

async function admin(method, path, body) {
  const headers = { authorization: `Bearer ${seed.admin_token}` };
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const r = await fetch(`${serverUrl}${path}`, { method, headers, body: payload });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path} → ${r.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

let app;
/** The customer posts one of the forms of their page (`fields` besides the page's revision). */
async function customerChooses(parcel, fields) {
  const page = `${serverUrl}${new URL(parcel.customer_url).pathname}`;
  const html = await (await fetch(page)).text();
  const rev = html.match(/name="rev" value="(\d+)"/)?.[1];
  assert.ok(rev, `the customer's page offers its choices: ${html.slice(0, 400)}`);
  const r = await fetch(page, { method: 'POST', body: new URLSearchParams({ rev, ...fields }) });
  assert.equal(r.status, 200, `the customer's choice is saved: ${await r.text()}`);
}
/** The value of an input of the app. */
async function valueOf(css) {
  await app.waitFor(css);
  return app.cmd('POST', '/execute/sync', { script: 'return document.querySelector(arguments[0]).value;', args: [css] });
}
async function shot(name) {
  writeFileSync(`${env.SCREENSHOT_DIR}/${name}.png`, await app.screenshot());
}
async function typeOnKeypad(code) {
  for (const d of code) await app.click(`[data-testid="key-${d}"]`);
}
/** Opens the scan screen and types a label, as a courier without a camera does. */
async function scanLabel(barcode) {
  await app.click('[data-testid="scan-button"]');
  await app.type('[data-testid="barcode-input"]', barcode);
  await app.click('[data-testid="scan-submit"]');
}
async function handOver(parcel, { wrongFirst }) {
  await scanLabel(parcel.barcode);
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
  await gate?.close();
});

const codeParcels = seed.parcels.filter((p) => p.code_required && p.code && !p.photo_required);
// The parcels of the first two tests: one handed over online, one offline at another stop.
const onlineParcel = codeParcels[0];
const offlineParcel = codeParcels.find((p) => p.offline_allowed && p.stop_id !== onlineParcel?.stop_id);

test('a courier enrolls, sees the route and hands over a parcel online; the server has it once', async () => {
  await app.type('[data-testid="enroll-input"]', seed.enrollment_uri);
  await app.click('[data-testid="enroll-submit"]');
  await app.waitFor('[data-testid="route-list"]', 30000);
  const stops = await app.findAll('[data-testid^="stop-"]');
  assert.ok(stops.length >= 5, `the route shows the seeded stops (found ${stops.length})`);
  await shot('route');

  const parcel = onlineParcel;
  assert.ok(parcel, 'the demo route has a parcel that needs a code');
  await handOver(parcel, { wrongFirst: true });

  const events = await waitForServerEvents(parcel.parcel_id, 1);
  assert.equal(events.length, 1, 'the server stored the delivery exactly once');
});

test('with the server down the handover is recorded, and the app syncs it by itself when it is back', async () => {
  const parcel = offlineParcel;
  assert.ok(parcel, 'the demo route has a second code parcel that allows offline handover');
  await stopServer();
  await scanLabel(parcel.barcode);
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

test("the fleet raises the minimum above the app's version: at its next manifest refresh the app blocks new deliveries, and a delivery recorded before still syncs", async () => {
  // This phone's platform, as its release channel is kept per platform.
  const platform = env.ANDROID_APK ? 'android' : 'linux';
  const used = new Set([onlineParcel.stop_id, offlineParcel.stop_id]);
  const parcel = seed.parcels.find((p) => !used.has(p.stop_id));
  assert.ok(parcel, 'the demo route has a stop the earlier tests left alone');

  // Enroll again through the gate (a new enrollment code, the server address typed by hand).
  gate = await startGate();
  await app.waitFor('[data-testid="sync-badge"][data-pending="0"]', 60000);
  await app.click('[data-testid="nav-settings"]');
  await app.click('[data-testid="unenroll"]');
  await app.click('[data-testid="unenroll"]');
  const { enrollment_code } = await admin('POST', '/v1/admin/enrollments', { courier_id: seed.courier_id });
  await app.type('[data-testid="enroll-input"]', enrollment_code);
  await app.type('[data-testid="enroll-server"]', gate.url);
  await app.click('[data-testid="enroll-submit"]');
  await app.waitFor('[data-testid="route-list"]', 30000);

  // A failed attempt recorded while the server does not take syncs: it stays queued.
  gate.state.holdSyncs = true;
  await scanLabel(parcel.barcode);
  await app.click('[data-testid="scan-cant-deliver"]');
  await app.click('label[for="reason-not_home"]');
  await app.click('[data-testid="exception-submit"]');
  await app.waitFor('[data-testid="done-screen"][data-outcome="exception"]');
  await app.click('[data-testid="next-delivery"]');
  await app.waitFor('[data-testid="sync-badge"][data-pending="1"]', 30000);
  assert.equal((await waitForServerEvents(parcel.parcel_id, 1, 1000)).length, 0, 'the server has not got it');

  // The fleet manager publishes 9.0.0 (a link) and makes it the minimum.
  const form = new FormData();
  form.append('platform', platform);
  form.append('version', '9.0.0');
  // On the server's own host: a release link points to the stores, the server or a listed host.
  form.append('url', `https://${new URL(publicUrl).hostname}/doorstep-9.0.0.AppImage`);
  await admin('POST', '/v1/admin/releases', form);
  await admin('PUT', `/v1/admin/releases/${platform}/minimum`, { minimum: '9.0.0' });
  assert.equal((await app.findAll('[data-testid="update-screen"]')).length, 0, 'nothing changes before the app asks');

  // The courier refreshes the route: the manifest brings the policy.
  const before = gate.state.requests.length;
  await app.click('[data-testid="refresh-route"]');
  await app.waitFor('[data-testid="update-screen"]', 30000);
  const manifests = gate.state.requests.slice(before).filter((r) => r.path.startsWith('/v1/manifest'));
  assert.ok(manifests.length >= 1, 'the refresh asked for the manifest');
  assert.match(manifests[0].userAgent, /^doorstep-courier\/\d+\.\d+\.\d+/, 'with the app version in the User-Agent');
  assert.equal((await app.findAll('[data-testid="nav-route"]')).length, 0, 'no way around the update screen');
  // The screen says one delivery still waits (waitFor fails otherwise).
  await app.waitFor('[data-testid="update-pending"][data-count="1"]');
  await shot('update-required');

  // The link is not on the fleet's server nor an app store: the app refuses to open it.
  await app.click('[data-testid="update-get"]');
  await app.waitFor('[data-testid="error-banner"][data-code="update_url_refused"]');

  // The server takes syncs again; the courier taps Sync now on the blocking screen.
  gate.state.holdSyncs = false;
  await app.click('[data-testid="update-sync"]');
  const events = await waitForServerEvents(parcel.parcel_id, 1, 30000);
  assert.equal(events.length, 1, 'the delivery recorded before the update reached the server once');
  await app.waitFor('[data-testid="update-pending"][data-count="0"]', 30000);
  assert.equal((await app.findAll('[data-testid="update-screen"]')).length, 1, 'still blocked: 0.1.0 is below 9.0.0');
  await shot('update-required-synced');
});

test('at the door: a neighbour signs for a parcel, a failed delivery comes back on the next day\'s route, and the van is checked in at the depot', async () => {
  const platform = env.ANDROID_APK ? 'android' : 'linux';
  // The fleet lowers the minimum again; the courier's Sync now brings the policy, and work goes on.
  await admin('PUT', `/v1/admin/releases/${platform}/minimum`, { minimum: null });
  // Meanwhile a customer asked on their page for a neighbour, with instructions for the courier.
  const neighbourParcel = seed.parcels.find((p) => p.label.includes('neighbour or safe place allowed'));
  assert.ok(neighbourParcel, 'the demo route has a parcel a neighbour may take');
  await customerChooses(neighbourParcel, { choice: 'neighbour', neighbour_name: 'Jan de Vries', house: '14' });
  await customerChooses(neighbourParcel, { choice: 'instructions', instructions: '<b>Ring twice</b>' });
  await app.click('[data-testid="update-sync"]');
  await app.waitFor('[data-testid="route-list"]', 30000);

  // A neighbour takes the parcel, as the customer asked: the manifest refresh brought their
  // choice, so the method screen opens on it with their instructions (as text), the place is
  // filled in, and the neighbour signs.
  await scanLabel(neighbourParcel.barcode);
  await app.click('[data-testid="finish-scanning"]');
  await app.waitFor('[data-testid="method-screen"]');
  await app.waitFor('[data-testid="method-neighbour"][data-preselected="true"]', 30000);
  await app.waitFor('[data-testid="method-customer-choice"]');
  assert.equal(await app.text('[data-testid="customer-instructions"]'), '<b>Ring twice</b>', 'shown as text');
  await shot('method-choice');
  await app.click('[data-testid="method-neighbour"]');
  await app.waitFor('[data-testid="signature-pad"]');
  assert.equal(await valueOf('[data-testid="place-input"]'), 'Jan de Vries, 14', "the customer's neighbour is filled in");
  await app.type('[data-testid="recipient-name"]', 'Jan de Vries');
  await app.draw('[data-testid="signature-pad"]', [[-120, 10], [-80, -20], [-40, 25], [0, -25], [40, 20], [90, -10], [130, 15]]);
  await shot('signature');
  await app.click('[data-testid="confirm-proof"]');
  await app.waitFor('[data-testid="done-screen"][data-outcome="delivered"]');
  await app.click('[data-testid="next-delivery"]');
  const handed = await waitForServerEvents(neighbourParcel.parcel_id, 1, 60000);
  assert.equal(handed.length, 1, 'the neighbour delivery reached the server once');
  assert.equal(handed[0].status, 'accepted', `the server accepted it with its signature: ${JSON.stringify(handed[0])}`);

  // Nobody home at another stop: the server puts the parcel on the next day's route.
  // A stop the earlier tests left alone.
  const failing = seed.parcels.find((p) => p.label.includes('pickup point'));
  assert.ok(failing, 'the demo route has the pickup-point parcel');
  await scanLabel(failing.barcode);
  await app.click('[data-testid="scan-cant-deliver"]');
  await app.click('label[for="reason-not_home"]');
  await app.click('[data-testid="exception-submit"]');
  await app.waitFor('[data-testid="done-screen"][data-outcome="exception"]');
  await app.click('[data-testid="next-delivery"]');
  assert.equal((await waitForServerEvents(failing.parcel_id, 1, 60000)).length, 1);
  // The next delivery day of the demo's calendar (Monday to Saturday).
  let next = new Date(Date.parse(`${seed.date}T12:00:00Z`) + 86400000);
  if (next.getUTCDay() === 0) next = new Date(next.getTime() + 86400000);
  const nextDay = next.toISOString().slice(0, 10);
  const view = await admin('GET', `/v1/admin/parcels/${failing.parcel_id}`);
  assert.equal(view.delivery_date, nextDay, `the parcel is on ${nextDay}'s route: ${JSON.stringify(view)}`);
  assert.equal(view.status, 'pending');

  // End of the day at the depot: the parcel is scanned out of the van and the check-in recorded.
  await app.click('[data-testid="nav-route"]');
  await app.click('[data-testid="depot-open"]');
  await app.waitFor('[data-testid="depot-screen"]');
  await app.type('[data-testid="depot-input"]', failing.barcode);
  await app.click('[data-testid="depot-submit"]');
  await app.waitFor(`[data-testid="depot-parcel-${failing.barcode_key}"][data-checked="true"]`);
  await shot('depot-check-in');
  // Finishing asks first, naming the parcels still missing from the van.
  await app.click('[data-testid="depot-finish"]');
  await app.waitFor('[data-testid="depot-confirm"]');
  await app.click('[data-testid="depot-confirm-finish"]');
  await app.waitFor('[data-testid="depot-done"]', 30000);
  const until = Date.now() + 60000;
  let fleet = '';
  while (Date.now() < until) {
    fleet = await (await fetch(`${serverUrl}/fleet/inbox`)).text();
    const row = fleet.split('<tr data-van="Demo Courier">')[1]?.split('</tr>')[0] ?? '';
    if (!row.includes('not yet')) break;
    await sleep(500);
  }
  const row = fleet.split('<tr data-van="Demo Courier">')[1]?.split('</tr>')[0] ?? '';
  assert.ok(row.includes(failing.barcode_key), `the inbox's van row lists the checked-in parcel: ${row}`);
});
