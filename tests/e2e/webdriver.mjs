// A minimal W3C WebDriver client (fetch only, no dependencies) for driving the real Doorstep app:
// the desktop app through tauri-driver + WebKitWebDriver, or the Android app on an emulator through
// Appium (UiAutomator2, in the app's WebView context, where Chromedriver answers the same commands).

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export class Session {
  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  static async start(base, application) {
    const body = {
      capabilities: {
        alwaysMatch: { browserName: 'wry', 'tauri:options': { application } },
      },
    };
    const res = await call(base, 'POST', '/session', body);
    return new Session(base, res.sessionId);
  }

  /**
   * Installs `apk` on the Android device that Appium's UiAutomator2 driver sees, starts it with its
   * permissions granted (camera, location: no system dialog in the way) and switches to its WebView,
   * so the same CSS selectors reach the same UI as on desktop.
   */
  static async startAndroid(base, apk) {
    const body = {
      capabilities: {
        alwaysMatch: {
          platformName: 'Android',
          'appium:automationName': 'UiAutomator2',
          'appium:app': apk,
          'appium:autoGrantPermissions': true,
          'appium:autoWebview': true,
          'appium:autoWebviewTimeout': 60000,
          'appium:newCommandTimeout': 300,
          'appium:uiautomator2ServerInstallTimeout': 120000,
          'appium:adbExecTimeout': 120000,
        },
      },
    };
    const res = await call(base, 'POST', '/session', body);
    return new Session(base, res.sessionId);
  }

  cmd(method, path, body) {
    return call(this.base, method, `/session/${this.id}${path}`, body);
  }

  async end() {
    await this.cmd('DELETE', '').catch(() => {});
  }

  /** Finds elements by CSS selector; [] when none. */
  async findAll(css) {
    const found = await this.cmd('POST', '/elements', { using: 'css selector', value: css });
    return found.map((e) => e[ELEMENT]);
  }

  /** Waits (up to `timeoutMs`) for a visible element matching `css`; throws with the page text if none. */
  async waitFor(css, timeoutMs = 20000) {
    const until = Date.now() + timeoutMs;
    for (;;) {
      for (const el of await this.findAll(css)) {
        if (await this.cmd('GET', `/element/${el}/displayed`).catch(() => false)) return el;
      }
      if (Date.now() > until) {
        const text = await this.text('body').catch(() => '(no body)');
        throw new Error(`timed out waiting for ${css}; the screen shows:\n${text}`);
      }
      await sleep(200);
    }
  }

  /** Waits until the text of `css` satisfies `pred`; returns the text. */
  async waitForText(css, pred, timeoutMs = 20000) {
    const until = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const els = await this.findAll(css);
      if (els.length) {
        last = await this.cmd('GET', `/element/${els[0]}/text`).catch(() => '');
        if (pred(last)) return last;
      }
      if (Date.now() > until) throw new Error(`timed out waiting on the text of ${css}; last: ${JSON.stringify(last)}`);
      await sleep(250);
    }
  }

  async click(css) {
    const el = await this.waitFor(css);
    try {
      await this.cmd('POST', `/element/${el}/click`, {});
    } catch (e) {
      // WebKitWebDriver scrolls an element just into view, where a fixed bar (the tab bar, a
      // banner) may cover it; a courier would scroll further. Centre it and click again.
      if (!String(e.message).includes('click intercepted')) throw e;
      await this.cmd('POST', '/execute/sync', {
        script: "arguments[0].scrollIntoView({ block: 'center' });",
        args: [{ [ELEMENT]: el }],
      });
      await this.cmd('POST', `/element/${el}/click`, {});
    }
  }

  async type(css, text) {
    const el = await this.waitFor(css);
    await this.cmd('POST', `/element/${el}/clear`, {}).catch(() => {});
    await this.cmd('POST', `/element/${el}/value`, { text });
  }

  async text(css) {
    const el = await this.waitFor(css);
    return this.cmd('GET', `/element/${el}/text`);
  }

  /**
   * Draws a stroke on `css` with a pointer (W3C actions): down at the first point, through the
   * others, up at the last; points are offsets from the element's centre, in CSS pixels.
   */
  async draw(css, points) {
    const el = await this.waitFor(css);
    const origin = { [ELEMENT]: el };
    const [[x0, y0], ...rest] = points;
    const actions = [
      { type: 'pointerMove', duration: 0, origin, x: x0, y: y0 },
      { type: 'pointerDown', button: 0 },
      ...rest.map(([x, y]) => ({ type: 'pointerMove', duration: 40, origin, x, y })),
      { type: 'pointerUp', button: 0 },
    ];
    await this.cmd('POST', '/actions', {
      actions: [{ type: 'pointer', id: 'pen', parameters: { pointerType: 'mouse' }, actions }],
    });
    await this.cmd('DELETE', '/actions').catch(() => {});
  }

  async screenshot() {
    return Buffer.from(await this.cmd('GET', '/screenshot'), 'base64');
  }
}

async function call(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    throw new Error(`WebDriver ${method} ${path} → ${res.status}: ${JSON.stringify(json.value ?? json)}`);
  }
  return json.value;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
