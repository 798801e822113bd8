// The console's Today page in Chromium with a big fleet (started by `cargo bench --bench console
// -- --paint`, which serves it): first contentful paint and the map drawn (every stop on it),
// each the median of 5 loads, each load in a fresh browser context (nothing cached).
//
// With SCREENSHOTS=DIR it also saves DIR/console-today-fleet.png (Today with the big fleet)
// and DIR/console-numbers.png (the day's numbers by postcode area, with their charts).
//
// Usage: node crates/server/benches/paint.mjs http://127.0.0.1:PORT/fleet
import { launchChromium } from '../../../ui/tests/screens/chromium.mjs';

const url = process.argv[2];
const browser = await launchChromium();
const paints = [];
const maps = [];
try {
  for (let i = 0; i < 5; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const started = Date.now();
    await page.goto(url);
    await page.waitForSelector('#map[data-state=ready]', { timeout: 120_000 });
    maps.push(Date.now() - started);
    const fcp = await page.evaluate(
      () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
    );
    paints.push(fcp);
    const drawn = await page.getAttribute('#map', 'data-stops');
    if (i === 0) console.log(`console  paint    stops on the map: ${drawn}`);
    await context.close();
  }
  const dir = process.env.SCREENSHOTS;
  if (dir) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForSelector('#map[data-state=ready]', { timeout: 120_000 });
    await page.screenshot({ path: `${dir}/console-today-fleet.png` });
    const day = await page.getAttribute('input[name=date]', 'value');
    await page.goto(`${url}/numbers?from=${day}&to=${day}&by=area`);
    await page.waitForSelector('.chart canvas');
    await page.screenshot({ path: `${dir}/console-numbers.png`, fullPage: true });
    await context.close();
  }
} finally {
  await browser.close();
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const range = (xs) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
console.log(`console  paint    first contentful paint of Today: median ${median(paints).toFixed(0)} ms (${range(paints)}, 5 loads)`);
console.log(`console  paint    Today's map drawn, from navigation: median ${median(maps).toFixed(0)} ms (${range(maps)}, 5 loads)`);
