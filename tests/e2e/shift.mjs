// A long shift in the real app (issue 22): the release app, driven through tauri-driver, enrolls
// against a demo server whose route has HANDOVERS more stops (one parcel each, no code), and hands
// over every one of them through the UI as a courier does (scan → proof → done → next). The
// memory of the app's whole process tree (the app, WebKitWebProcess, WebKitNetworkProcess; PSS
// from /proc/<pid>/smaps_rollup) is taken once the route is on screen and again after the last
// handover, each the median of 5 readings half a second apart; the growth is printed.
// Started by scripts/bench-shift.sh, which passes WEBDRIVER_URL, APP_BINARY, SEED_JSON, PARCELS
// (a JSON file of the added parcels' barcodes).
import { readFileSync, readdirSync } from 'node:fs';
import { Session, sleep } from './webdriver.mjs';

const env = process.env;
const seed = JSON.parse(readFileSync(env.SEED_JSON, 'utf8'));
const barcodes = JSON.parse(readFileSync(env.PARCELS, 'utf8'));

/** Every process id below `root` (and root), from /proc. */
function tree(root) {
  const children = new Map();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(p));
    } catch {}
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}

/** The app's process: the one whose executable is APP_BINARY. */
function appPid() {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')[0];
      if (cmd === env.APP_BINARY) return Number(p);
    } catch {}
  }
  throw new Error('the app is not running');
}

function pssKiB(pid) {
  let sum = 0;
  for (const p of tree(pid)) {
    try {
      const m = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+)/m);
      if (m) sum += Number(m[1]);
    } catch {}
  }
  return sum;
}

async function memory(pid) {
  const readings = [];
  for (let i = 0; i < 5; i++) {
    readings.push(pssKiB(pid));
    await sleep(500);
  }
  readings.sort((a, b) => a - b);
  return readings[2];
}

const mib = (kib) => (kib / 1024).toFixed(1);

const app = await Session.start(env.WEBDRIVER_URL, env.APP_BINARY);
try {
  await app.type('[data-testid="enroll-input"]', seed.enrollment_uri);
  await app.click('[data-testid="enroll-submit"]');
  await app.waitFor('[data-testid="route-list"]', 60000);
  const pid = appPid();
  await sleep(3000);
  const before = await memory(pid);
  console.log(`route on screen: whole tree PSS ${mib(before)} MiB`);
  const started = Date.now();
  for (const [i, barcode] of barcodes.entries()) {
    await app.click('[data-testid="scan-button"]');
    await app.type('[data-testid="barcode-input"]', barcode);
    await app.click('[data-testid="scan-submit"]');
    await app.click('[data-testid="finish-scanning"]');
    await app.type('[data-testid="recipient-name"]', `Recipient ${i + 1}`);
    await app.click('[data-testid="confirm-proof"]');
    await app.waitFor('[data-testid="done-screen"]', 30000);
    await app.click('[data-testid="next-delivery"]');
    if ((i + 1) % 50 === 0) {
      console.log(`${i + 1} handovers (${((Date.now() - started) / 1000).toFixed(0)} s): whole tree PSS ${mib(pssKiB(pid))} MiB`);
    }
  }
  await app.waitFor('[data-testid="route-list"]', 30000);
  await sleep(5000);
  const after = await memory(pid);
  const growth = (100 * (after - before)) / before;
  console.log(`after ${barcodes.length} handovers: whole tree PSS ${mib(after)} MiB`);
  console.log(`RESULT before_kib=${before} after_kib=${after} growth_percent=${growth.toFixed(1)}`);
} finally {
  await app.end();
}
