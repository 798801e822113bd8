// The fleet page in Debian's Chromium (playwright-core), against a real `doorstep-server demo`
// (issue 8): publish an Android build through the page's upload form, stage a second one and raise
// its rollout, see a refused form's reason; then a phone enrolls and reports its version through
// the API, and the page counts it and lists it as not updated. Then the console (issue 19): the
// inbox, a search and a proof of delivery, the import page, with their screenshots. No JavaScript
// on the page: every step is a form post and a redirect, as a fleet manager's browser does it.
//
// Started by scripts/test-fleet-page.sh, which passes:
//   FLEET_URL             the server's address (http://127.0.0.1:<port>)
//   DOORSTEP_ADMIN_TOKEN  the admin token (for the admin API's checks; the demo's console is open)
//   DOORSTEP_ENROLLMENT_CODE  the demo courier's enrollment code (from the seed JSON)
//   SCREENSHOT            where to write the screenshot (ui/docs/screens/fleet-releases.png)
//   CHROMIUM_PATH         optional, default /usr/bin/chromium
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { axeViolations } from './axe.mjs';
import { launchChromium } from '../../ui/tests/screens/chromium.mjs';

const env = process.env;
const base = env.FLEET_URL;
const adminToken = env.DOORSTEP_ADMIN_TOKEN;
const enrollmentCode = env.DOORSTEP_ENROLLMENT_CODE;
assert.ok(base && adminToken && enrollmentCode, 'FLEET_URL, DOORSTEP_ADMIN_TOKEN and DOORSTEP_ENROLLMENT_CODE are set');

// RFC 8032's first test key: any valid Ed25519 public key enrolls; nothing is signed with it here.
const DEVICE_KEY = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';

// --- A tiny valid APK: a zip (STORED, no compression) holding AndroidManifest.xml -------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** `bytes` after their length as a little-endian u32 (`u64`: a u64). */
function prefixed(bytes, u64 = false) {
  const len = Buffer.alloc(u64 ? 8 : 4);
  if (u64) len.writeBigUInt64LE(BigInt(bytes.length));
  else len.writeUInt32LE(bytes.length);
  return Buffer.concat([len, bytes]);
}

/**
 * An APK Signing Block whose v2 signer has the certificate `cert` (digests, signatures and
 * public key left empty: the server reads only who signed, Android checks the rest).
 */
function signingBlock(cert) {
  const none = prefixed(Buffer.alloc(0));
  const signed = Buffer.concat([none, prefixed(prefixed(cert)), none]);
  const signer = Buffer.concat([prefixed(signed), none, none]);
  const id = Buffer.alloc(4);
  id.writeUInt32LE(0x7109871a);
  const pairs = prefixed(Buffer.concat([id, prefixed(prefixed(signer))]), true);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(pairs.length + 8 + 16));
  return Buffer.concat([size, pairs, size, Buffer.from('APK Sig Block 42')]);
}

/**
 * A zip archive of `files` ({ name: text }), every entry STORED, as its bytes; with `block`
 * (an APK Signing Block) right before its central directory, as apksigner writes it.
 */
function zip(files, block = Buffer.alloc(0)) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const nameBytes = Buffer.from(name, 'utf8');
    const data = Buffer.from(text, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); // local file header
    local.writeUInt16LE(20, 4); // version needed: 2.0
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(0, 8); // method: stored
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(0x21, 12); // date: 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18); // compressed size
    local.writeUInt32LE(data.length, 22); // size
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28); // extra field length
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0); // central directory header
    central.writeUInt16LE(20, 4); // made by
    central.writeUInt16LE(20, 6); // needed
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    // extra, comment, disk, internal and external attributes: 0
    central.writeUInt32LE(offset, 42); // where the local header is
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); // end of central directory
  const count = Object.keys(files).length;
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset + block.length, 16);
  return Buffer.concat([...locals, block, directory, end]);
}

const apk = (version) =>
  zip({ 'AndroidManifest.xml': `<manifest versionName="${version}"/>`, 'classes.dex': version }, signingBlock(Buffer.from('the fleet release key')));

// --- The browser -----------------------------------------------------------------------------

let browser;
let page;

before(async () => {
  browser = await launchChromium();
  // The demo's console, open as the demo owner (a production one signs in with an account:
  // crates/server/tests/server/accounts.rs), with JavaScript off: the pages must work without it.
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    javaScriptEnabled: false,
  });
  page = await context.newPage();
});

after(async () => {
  await browser?.close();
});

const release = (version) => page.locator(`#releases-android tr[data-release="${version}"]`);

/** Clicks a form's button and answers the page's navigation (after redirects: the last answer). */
async function submit(button) {
  const [response] = await Promise.all([page.waitForNavigation(), button.click()]);
  return response;
}

/** Fills and sends the page's upload form for an Android build. */
async function publishApk(version, rollout) {
  const form = page.locator('#publish-file');
  await form.locator('select[name=platform]').selectOption('android');
  await form.locator('input[name=version]').fill(version);
  await form.locator('input[name=rollout_percent]').fill(String(rollout));
  await form.locator('input[name=file]').setInputFiles({
    name: `doorstep-${version}.apk`,
    mimeType: 'application/vnd.android.package-archive',
    buffer: apk(version),
  });
  return submit(form.getByRole('button', { name: 'Upload and publish' }));
}

async function api(path, init = {}) {
  const r = await fetch(`${base}${path}`, init);
  const body = await r.text();
  assert.ok(r.ok, `${init.method ?? 'GET'} ${path} answered ${r.status}: ${body}`);
  return body ? JSON.parse(body) : null;
}

test('the fleet page publishes a build, stages a rollout and shows a phone that has not updated', async () => {
  const opened = await page.goto(`${base}/fleet/phones`);
  assert.equal(opened.status(), 200);
  assert.equal(await page.locator('script').count(), 0, 'the phones page has no script');
  await assert.doesNotReject(page.locator('#releases').waitFor(), 'the App releases section');
  assert.equal(await page.locator('#install-android').count(), 0, 'no install QR before a build');

  // 1.0.0 to every device, through the upload form.
  assert.equal((await publishApk('1.0.0', 100)).status(), 200);
  assert.match(new URL(page.url()).pathname, /^\/fleet\/phones$/, 'back on the phones page');
  await release('1.0.0').waitFor();
  assert.equal(await release('1.0.0').locator('[data-rollout]').textContent(), '100 %');
  assert.equal(await release('1.0.0').locator('[data-state]').textContent(), 'offered');
  assert.equal(await page.locator('#releases-android [data-current]').textContent(), '1.0.0');
  const fileLink = await release('1.0.0').getByRole('link', { name: 'file' }).getAttribute('href');
  const download = await fetch(fileLink);
  assert.equal(download.status, 200, 'the listed file downloads');
  assert.deepEqual(Buffer.from(await download.arrayBuffer()), apk('1.0.0'), 'the bytes that were uploaded');

  // The install QR of the Android build, its address written under it.
  const qr = page.locator('#install-android');
  assert.equal(await qr.locator('svg').count(), 1, 'the install QR');
  assert.equal(await qr.locator('[data-install-url]').textContent(), `${base}/install/android`);
  const install = await fetch(`${base}/install/android`, { redirect: 'manual' });
  assert.equal(install.status, 303, 'the QR leads to the build');
  assert.equal(install.headers.get('location'), fileLink);

  // 1.1.0 to 10 % of the devices, then raised to 50 % with the row's button.
  assert.equal((await publishApk('1.1.0', 10)).status(), 200);
  await release('1.1.0').waitFor();
  assert.equal(await release('1.1.0').locator('[data-rollout]').textContent(), '10 %');
  assert.equal(await release('1.1.0').getByRole('button', { name: '10 %' }).count(), 0, 'only raises are offered');
  await submit(release('1.1.0').getByRole('button', { name: '50 %' }));
  assert.equal(await release('1.1.0').locator('[data-rollout]').textContent(), '50 %');
  assert.equal(await release('1.1.0').getByRole('button', { name: '25 %' }).count(), 0, 'no lower rollout once at 50 %');
  assert.equal(await page.locator('#releases-android [data-current]').textContent(), '1.1.0');
  const channels = await api('/v1/admin/releases', { headers: { authorization: `Bearer ${adminToken}` } });
  const staged = channels.find((c) => c.platform === 'android').releases.find((r) => r.version === '1.1.0');
  assert.equal(staged.rollout_percent, 50, 'the server has it at 50 %');

  // A refused form: the server's reason on a page with a way back.
  const refused = await publishApk('1.1.0', 100);
  assert.equal(refused.status(), 409);
  assert.match(await page.getByRole('alert').textContent(), /not above 1\.1\.0/);
  await submit(page.getByRole('link', { name: 'Back to the fleet page' }));
  await page.goto(`${base}/fleet/phones`);
  assert.equal(await page.locator('#releases-android tr[data-release]').count(), 2, 'nothing more was published');

  // A phone enrolls at 0.9.0, then reports 1.0.0 with its manifest requests (User-Agent).
  const enrolled = await api('/v1/devices/enroll', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      enrollment_code: enrollmentCode,
      device_public_key: DEVICE_KEY,
      app_version: '0.9.0',
      platform: 'android',
    }),
  });
  const deviceId = enrolled.device_id;
  await page.reload();
  const versionRow = (v) => page.locator(`#device-versions ~ table tr[data-platform=android][data-version="${v}"]`);
  assert.equal(await versionRow('0.9.0').locator('[data-count]').textContent(), '1', 'enrolled at 0.9.0');
  const manifest = await api('/v1/manifest', {
    headers: { authorization: `Bearer ${enrolled.device_token}`, 'user-agent': 'doorstep-courier/1.0.0' },
  });
  assert.ok(manifest.app_policy, 'the manifest carries the policy for the phone');

  await page.reload();
  assert.equal(await versionRow('1.0.0').locator('[data-count]').textContent(), '1', '1.0.0: 1 device');
  assert.match(await versionRow('1.0.0').textContent(), /release/);
  assert.equal(await versionRow('0.9.0').count(), 0, 'its old version is no longer counted');
  assert.equal(await release('1.0.0').locator('[data-devices]').textContent(), '1', 'one device on 1.0.0');
  const late = page.locator(`#not-updated ~ table tr[data-device="${deviceId}"]`);
  assert.equal(await late.count(), 1, 'the phone is listed as not updated');
  assert.equal(await late.locator('[data-version]').textContent(), '1.0.0');
  assert.match(await late.textContent(), /Demo Courier/);
  // Its revoke button is there too (two clicks, no script).
  assert.equal(await page.locator(`#devices ~ table tr[data-device="${deviceId}"] summary`).textContent(), 'Revoke…');

  // The screenshot: the release section down to the devices not updated.
  const top = await page.locator('#releases').boundingBox();
  const bottom = await page.evaluate(() => document.documentElement.scrollHeight);
  mkdirSync(dirname(env.SCREENSHOT), { recursive: true });
  await page.screenshot({
    path: env.SCREENSHOT,
    fullPage: true,
    clip: { x: 0, y: top.y - 16, width: 1280, height: bottom - top.y + 16 },
  });
});

test('the console without JavaScript: the inbox, finding a parcel and opening its proof of delivery, the import page; screenshots at a desktop and a tablet width', async () => {
  const shots = dirname(env.SCREENSHOT);
  await page.setViewportSize({ width: 1280, height: 900 });

  let response = await page.goto(`${base}/fleet/inbox`);
  assert.equal(response.status(), 200);
  assert.equal(await page.locator('h1').textContent(), 'Inbox');
  for (const id of ['locked-stops', 'disputed', 'far', 'holding', 'unexpected', 'corrections']) {
    assert.equal(await page.locator(`#${id}`).count(), 1, `the inbox has its ${id} section`);
  }
  await page.screenshot({ path: `${shots}/console-inbox.png`, fullPage: true });

  // Find a demo recipient through the console's search form, open the parcel's proof.
  await page.goto(`${base}/fleet/parcels`);
  const search = page.locator('form[role=search]').first();
  await search.locator('input[name=q]').fill('lovelace');
  response = await submit(search.getByRole('button', { name: 'Find' }));
  assert.equal(response.status(), 200);
  const hit = page.locator('table a[href^="/fleet/parcels/"]').first();
  assert.match(await page.locator('table').textContent(), /Ada Lovelace/);
  response = await submit(hit);
  assert.equal(response.status(), 200);
  assert.match(await page.locator('h1').textContent(), /^Proof of delivery — /);
  assert.match(await page.locator('table.timeline').textContent(), /Created/);
  await page.screenshot({ path: `${shots}/console-proof.png`, fullPage: true });
  const json = await fetch(`${page.url()}/proof.json`).then((r) => r.json());
  assert.equal(json.recipient_name, 'Ada Lovelace', 'the JSON export is the same proof');

  response = await page.goto(`${base}/fleet/import`);
  assert.equal(response.status(), 200);
  assert.match(await page.textContent('body'), /barcode/);

  // A tablet: the same inbox (a screenshot to look at; no layout check yet).
  await page.setViewportSize({ width: 800, height: 1100 });
  response = await page.goto(`${base}/fleet/inbox`);
  assert.equal(response.status(), 200);
  await page.screenshot({ path: `${shots}/console-inbox-tablet.png`, fullPage: true });
});

test('Today draws the day on a map under the strict CSP, and every console page passes axe at a desktop and a tablet width', async () => {
  const shots = dirname(env.SCREENSHOT);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const p = await context.newPage();
  const problems = [];
  p.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  p.on('pageerror', (e) => problems.push(e.message));
  p.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
  });

  const response = await p.goto(`${base}/fleet`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-security-policy'], /^default-src 'self'/);
  await p.waitForSelector('#map[data-state=ready]', { timeout: 60_000 });
  const day = await (await fetch(`${base}/fleet/today.json`)).json();
  assert.ok(day.stops.features.length > 0, 'the demo day has stops on the map');
  assert.equal(
    await p.getAttribute('#map', 'data-stops'),
    String(day.stops.features.length),
    'the map drew every stop of the day that has a position',
  );
  assert.ok(await p.locator('#map canvas').count(), 'a WebGL canvas');
  // The script rewrites the table from the JSON: the same rows as the server drew.
  const rows = await p.locator('#progress tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.courier));
  assert.deepEqual(rows, day.couriers.map((c) => c.id));
  assert.deepEqual(problems, [], 'no error, no refused resource, no CSP violation');
  await p.screenshot({ path: `${shots}/console-today.png`, fullPage: true });

  // The server out of reach at a refresh: the page says so and since when, and the notice
  // goes once a refresh gets through (a page shown again refreshes at once).
  await p.route('**/fleet/today.json*', (route) => route.abort());
  await p.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  const unreachable = p.locator('p[data-map-notice]');
  await unreachable.waitFor();
  assert.match(await unreachable.textContent(), /Could not reach the server at .*Trying again every 20 seconds/);
  await p.unroute('**/fleet/today.json*');
  await p.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  await unreachable.waitFor({ state: 'detached' });
  problems.length = 0; // the aborted fetch is logged as a failed request

  const courier = day.couriers[0].id;
  const proof = await (await fetch(`${base}/fleet/parcels?q=lovelace`)).text();
  const parcel = proof.match(/href="(\/fleet\/parcels\/[0-9a-f-]+)"/)[1];
  const pages = [
    '/fleet',
    '/fleet/inbox',
    '/fleet/parcels?q=lovelace',
    parcel,
    `/fleet/today/${courier}`,
    '/fleet/phones',
    '/fleet/import',
    '/fleet/export',
    '/fleet/numbers',
    '/fleet/accounts',
  ];
  const violations = [];
  for (const [width, height] of [[1280, 900], [800, 1100]]) {
    await p.setViewportSize({ width, height });
    for (const path of pages) {
      const r = await p.goto(`${base}${path}`);
      assert.equal(r.status(), 200, path);
      if (path === '/fleet') await p.waitForSelector('#map[data-state=ready]', { timeout: 60_000 });
      violations.push(...(await axeViolations(p, `${path} at ${width} px`)));
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 0) violations.push(`${path} at ${width} px is ${overflow} px wider than the window`);
    }
  }
  assert.deepEqual(violations, [], violations.join('\n'));
  await p.goto(`${base}/fleet`);
  await p.waitForSelector('#map[data-state=ready]', { timeout: 60_000 });
  await p.screenshot({ path: `${shots}/console-today-tablet.png`, fullPage: true });
  assert.deepEqual(problems, [], 'no error on any page');
  await context.close();
});
