// The camera is released whenever the courier cannot see it (issue 22): when the scan sheet's
// Done is tapped, when the screen that opened it closes, and when the app goes to the
// background or the screen locks (the page is hidden). On desktop the media tracks end; on a
// phone the barcode plugin's session is cancelled. No listener outlives the camera.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

vi.mock('barcode-detector/ponyfill', () => ({
  prepareZXingModule: async () => undefined,
  BarcodeDetector: class {
    static async getSupportedFormats() {
      return ['qr_code'];
    }
    async detect() {
      return [];
    }
  },
}));
vi.mock('zxing-wasm/reader/zxing_reader.wasm?url', () => ({ default: '/zxing_reader.wasm' }));
const plugin = vi.hoisted(() => ({
  checkPermissions: async () => 'granted',
  requestPermissions: async () => 'granted',
  // A windowed scan waits for a label for as long as the camera is open.
  scan: (() => new Promise(() => undefined)) as (...a: unknown[]) => Promise<{ content: string }>,
  cancel: async () => undefined,
  Format: { QRCode: 'QR_CODE', Code128: 'CODE_128' },
}));
vi.mock('@tauri-apps/plugin-barcode-scanner', () => plugin);
vi.mock('@tauri-apps/plugin-os', () => ({ platform: () => 'android' }));

import { cameraSheet } from '../../src/screens/camera';
import type { Ctx } from '../../src/app';

type FakeTrack = { readyState: 'live' | 'ended'; stop(): void };
let tracks: FakeTrack[] = [];
let listeners = 0;
let hidden = false;

const settle = () => new Promise((r) => setTimeout(r, 0));

beforeEach(() => {
  tracks = [];
  listeners = 0;
  hidden = false;
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
  vi.stubGlobal('fetch', async () => ({ ok: true, arrayBuffer: async () => new ArrayBuffer(8) }));
  Object.defineProperty(navigator, 'mediaDevices', {
    configurable: true,
    value: {
      getUserMedia: async () => {
        const track: FakeTrack = {
          readyState: 'live',
          stop() {
            this.readyState = 'ended';
          },
        };
        tracks.push(track);
        return { getTracks: () => [track] };
      },
    },
  });
  HTMLMediaElement.prototype.play = () => Promise.resolve();
  // The test's stream is a plain object; a real <video> takes only a MediaStream.
  Object.defineProperty(HTMLMediaElement.prototype, 'srcObject', {
    configurable: true,
    get() {
      return (this as { _src?: unknown })._src ?? null;
    },
    set(v: unknown) {
      (this as { _src?: unknown })._src = v;
    },
  });
  // Count the page-visibility listeners added and removed.
  const add = document.addEventListener.bind(document);
  const remove = document.removeEventListener.bind(document);
  type Listen = (type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions) => void;
  vi.spyOn(document, 'addEventListener').mockImplementation(((type, listener, options) => {
    if (type === 'visibilitychange') listeners++;
    add(type, listener, options);
  }) as Listen);
  vi.spyOn(document, 'removeEventListener').mockImplementation(((type, listener, options) => {
    if (type === 'visibilitychange') listeners--;
    remove(type, listener, options);
  }) as Listen);
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

const hide = () => {
  hidden = true;
  document.dispatchEvent(new Event('visibilitychange'));
};

function sheet(platform: 'desktop' | 'mobile', errors: string[] = []) {
  const closed = { count: 0 };
  const s = cameraSheet({ platform } as unknown as Ctx, {
    title: 'Scan',
    onLabel: async () => true,
    onError: (m) => errors.push(m),
    onClose: () => closed.count++,
  });
  document.body.append(s.el);
  return { s, closed };
}

describe('the desktop camera', () => {
  it('ends its tracks when the courier taps Done, and leaves no listener', async () => {
    const { s } = sheet('desktop');
    await s.open();
    expect(tracks.map((t) => t.readyState)).toEqual(['live']);
    expect(listeners).toBe(1);
    (s.el.querySelector('[data-testid="camera-done"]') as HTMLButtonElement).click();
    expect(tracks.map((t) => t.readyState)).toEqual(['ended']);
    expect(s.isOpen()).toBe(false);
    expect(listeners).toBe(0);
    s.destroy();
  });

  it('ends its tracks when the app goes to the background or the screen locks, without an error', async () => {
    const errors: string[] = [];
    const { s, closed } = sheet('desktop', errors);
    await s.open();
    hide();
    expect(tracks[0]!.readyState).toBe('ended');
    expect(s.isOpen()).toBe(false);
    expect(s.el.hidden).toBe(true);
    expect(closed.count).toBe(1);
    expect(errors).toEqual([]);
    expect(listeners).toBe(0);
    // Back in the foreground, the courier opens it again: a new stream.
    hidden = false;
    await s.open();
    expect(tracks.map((t) => t.readyState)).toEqual(['ended', 'live']);
    s.destroy();
    expect(tracks[1]!.readyState).toBe('ended');
  });

  it('ends its tracks when the screen that opened it closes', async () => {
    const { s } = sheet('desktop');
    await s.open();
    s.destroy();
    expect(tracks[0]!.readyState).toBe('ended');
    expect(listeners).toBe(0);
  });

  it('ends its tracks on pagehide (the webview is torn down)', async () => {
    const { s } = sheet('desktop');
    await s.open();
    window.dispatchEvent(new Event('pagehide'));
    expect(tracks[0]!.readyState).toBe('ended');
    expect(s.isOpen()).toBe(false);
  });
});

describe('a camera that cannot be shown', () => {
  it('is not left on', async () => {
    Object.defineProperty(HTMLMediaElement.prototype, 'srcObject', {
      configurable: true,
      set() {
        throw new TypeError('not a MediaStream');
      },
    });
    const errors: string[] = [];
    const { s } = sheet('desktop', errors);
    await s.open();
    expect(tracks.map((t) => t.readyState)).toEqual(['ended']);
    expect(s.isOpen()).toBe(false);
    expect(errors).toHaveLength(1);
    expect(listeners).toBe(0);
  });
});

describe('the phone camera (barcode plugin)', () => {
  it("cancels the plugin's session when the app is hidden, and when Done is tapped", async () => {
    const cancel = vi.spyOn(plugin, 'cancel');
    const { s, closed } = sheet('mobile');
    await s.open();
    await settle();
    expect(cancel).not.toHaveBeenCalled();
    hide();
    expect(cancel).toHaveBeenCalledTimes(1);
    expect(s.isOpen()).toBe(false);
    expect(closed.count).toBe(1);
    expect(listeners).toBe(0);

    hidden = false;
    await s.open();
    await settle();
    (s.el.querySelector('[data-testid="camera-done"]') as HTMLButtonElement).click();
    expect(cancel).toHaveBeenCalledTimes(2);
    expect(listeners).toBe(0);
    s.destroy();
  });
});
