// Debian's Chromium through playwright-core, as every browser test here starts it (the screen
// tests and the fleet page's): `npx playwright install` cannot download browsers on these
// machines, so the system's browser, headless, with nothing talking to the network by itself.
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** `extraArgs`: more switches, e.g. a fake camera playing a file. */
export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      ...extraArgs,
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
