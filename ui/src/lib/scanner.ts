// Camera and image barcode scanning. Both engines are lazy-loaded so neither counts against
// the first screen's bundle: the Tauri barcode plugin on mobile, barcode-detector (ZXing
// compiled to wasm, from the app's own files — no CDN) on desktop. A mobile build carries no
// ZXing at all, neither its JavaScript nor its wasm.
//
// Both engines are asked for every symbology they can read: shippers print GS1-128, UPU S10,
// Data Matrix, PDF417, QR and more, and a label the phone cannot read is typed by hand, with
// gloves on, in the rain.

import { convertFileSrc } from '@tauri-apps/api/core';
import type { Format } from '@tauri-apps/plugin-barcode-scanner';
import type { Platform } from './platform';

export type ScanFailure = 'denied' | 'unavailable' | 'nothing_found' | 'cancelled';

export class ScanError extends Error {
  constructor(readonly reason: ScanFailure) {
    super(reason);
    this.name = 'ScanError';
  }
}

type Plugin = typeof import('@tauri-apps/plugin-barcode-scanner');

/** The plugin's formats that its iOS side cannot decode: asking for one fails the whole scan. */
const NOT_ON_IOS: readonly string[] = ['UPC_A', 'CODABAR'];
/** Formats iOS reads only from 15.4 on; the plugin refuses the scan below that. */
const GS1_DATABAR: readonly string[] = ['GS1_DATA_BAR', 'GS1_DATA_BAR_LIMITED', 'GS1_DATA_BAR_EXPANDED'];

async function isIos(): Promise<boolean> {
  try {
    const os = await import('@tauri-apps/plugin-os');
    return os.platform() === 'ios';
  } catch {
    return /iPhone|iPad|iPod/i.test(typeof navigator === 'undefined' ? '' : navigator.userAgent);
  }
}

let labelFormats: Format[] | null = null;

/** Every value of the plugin's Format enum this phone's side of the plugin accepts. */
async function pluginLabelFormats(plugin: Plugin): Promise<Format[]> {
  if (!labelFormats) {
    const all = Object.values(plugin.Format);
    labelFormats = (await isIos()) ? all.filter((f) => !NOT_ON_IOS.includes(f)) : all;
  }
  return labelFormats;
}

async function pluginWithPermission(): Promise<Plugin> {
  const plugin = await import('@tauri-apps/plugin-barcode-scanner');
  let permission = await plugin.checkPermissions();
  if (permission !== 'granted') permission = await plugin.requestPermissions();
  if (permission !== 'granted') throw new ScanError('denied');
  return plugin;
}

/**
 * One `scan` of the plugin. An iOS older than 15.4 refuses the GS1 DataBar formats: asked
 * again without them, and never again for the rest of the session.
 */
async function pluginScan(plugin: Plugin, kind: 'label' | 'qr', windowed: boolean): Promise<string> {
  for (;;) {
    const formats = kind === 'qr' ? [plugin.Format.QRCode] : await pluginLabelFormats(plugin);
    try {
      const result = await plugin.scan({ windowed, formats, cameraDirection: 'back' });
      return result.content;
    } catch (e) {
      const text = String(e).toLowerCase();
      if (kind === 'label' && text.includes('unsupported barcode format') && formats.some((f) => GS1_DATABAR.includes(f))) {
        labelFormats = formats.filter((f) => !GS1_DATABAR.includes(f));
        continue;
      }
      throw new ScanError(text.includes('cancel') ? 'cancelled' : 'unavailable');
    }
  }
}

/** One scan with the native plugin (mobile), full screen. Asks for the camera permission first. */
export async function scanWithPlugin(kind: 'label' | 'qr'): Promise<string> {
  return pluginScan(await pluginWithPermission(), kind, false);
}

/**
 * True in a build for Android or iOS (the Tauri CLI sets TAURI_ENV_PLATFORM for the UI build).
 * A constant at build time, so the bundler drops the desktop reader from mobile builds.
 */
const MOBILE_BUILD =
  import.meta.env.TAURI_ENV_PLATFORM === 'android' || import.meta.env.TAURI_ENV_PLATFORM === 'ios';

/**
 * ZXing's wasm (~1.1 MB). Not in the UI bundle, because Tauri embeds the bundle in the binary:
 * the desktop app ships it as a resource file (tauri.linux.conf.json) that the shell serves
 * on its `reader:` scheme (src-tauri/src/reader.rs), and the dev server serves it from
 * node_modules. Fetched as bytes because ZXing's default would fetch it from a CDN.
 */
async function readerWasm(): Promise<ArrayBuffer> {
  const url = import.meta.env.DEV
    ? (await import('zxing-wasm/reader/zxing_reader.wasm?url')).default
    : convertFileSrc('zxing_reader.wasm', 'reader');
  const response = await fetch(url);
  if (!response.ok) throw new Error(`the barcode reader is missing (${response.status})`);
  return response.arrayBuffer();
}

type Detector = { detect(source: ImageBitmapSource): Promise<{ rawValue: string }[]> };
let detectorPromise: Promise<Detector> | null = null;

/** The desktop reader, loaded on first use; a failure is 'unavailable' and the next call retries. */
async function loadDetector(): Promise<Detector> {
  if (MOBILE_BUILD) throw new ScanError('unavailable');
  detectorPromise ??= (async () => {
    const [{ BarcodeDetector, prepareZXingModule }, wasmBinary] = await Promise.all([
      import('barcode-detector/ponyfill'),
      readerWasm(),
    ]);
    // Instantiated here, so a broken file fails now rather than on every camera frame.
    await prepareZXingModule({ overrides: { wasmBinary }, fireImmediately: true });
    return new BarcodeDetector({ formats: [...(await BarcodeDetector.getSupportedFormats())] });
  })();
  try {
    return await detectorPromise;
  } catch (e) {
    detectorPromise = null;
    console.warn('desktop barcode reader unavailable', e);
    throw new ScanError('unavailable');
  }
}

/** Reads the first barcode in a picked image file (desktop). */
export async function scanImageFile(file: Blob): Promise<string> {
  const detector = await loadDetector();
  const bitmap = await createImageBitmap(file);
  try {
    const found = await detector.detect(bitmap);
    const first = found[0];
    if (!first) throw new ScanError('nothing_found');
    return first.rawValue;
  } finally {
    bitmap.close();
  }
}

/**
 * Calls `release` when the page is hidden — the app went to the background or the screen
 * locked — or unloaded, so a camera is never kept on where the courier cannot see it.
 * Returns the function that stops watching (call it when the camera closes, so no listener
 * outlives it).
 */
export function releaseWhenHidden(release: () => void): () => void {
  const onVisibility = () => {
    if (document.visibilityState === 'hidden') release();
  };
  document.addEventListener('visibilitychange', onVisibility);
  window.addEventListener('pagehide', release);
  return () => {
    document.removeEventListener('visibilitychange', onVisibility);
    window.removeEventListener('pagehide', release);
  };
}

/**
 * Streams the camera into `video` and hands the values read in each frame (none, often) to
 * `onFrame` until it answers false or the returned function stops the camera. When the page
 * is hidden the camera stops by itself and `onHidden` says so.
 */
async function readCamera(
  video: HTMLVideoElement,
  onFrame: (values: string[]) => boolean,
  onHidden?: () => void,
): Promise<() => void> {
  if (!navigator.mediaDevices?.getUserMedia) throw new ScanError('unavailable');
  // The reader first: a camera turned on for a reader that cannot load would stay on.
  const detector = await loadDetector();
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: 'environment' },
      audio: false,
    });
  } catch (e) {
    const name = (e as { name?: string }).name;
    throw new ScanError(name === 'NotAllowedError' ? 'denied' : 'unavailable');
  }
  try {
    video.srcObject = stream;
    video.setAttribute('playsinline', '');
    await video.play().catch(() => undefined);
  } catch {
    // A camera that cannot be shown is not left on.
    for (const track of stream.getTracks()) track.stop();
    throw new ScanError('unavailable');
  }
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    unwatch();
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
  const unwatch = releaseWhenHidden(() => {
    if (stopped) return;
    stop();
    onHidden?.();
  });
  const tick = async () => {
    if (stopped) return;
    try {
      if (video.readyState >= 2) {
        const found = await detector.detect(video);
        if (!stopped && !onFrame(found.map((f) => f.rawValue))) {
          stop();
          return;
        }
      }
    } catch {
      /* a frame that fails to decode is not an error; try the next one */
    }
    setTimeout(() => void tick(), 200);
  };
  void tick();
  return stop;
}

/**
 * Streams the camera into `video` and calls `onCode` with the first barcode seen. Returns
 * a function that stops the camera; it also stops by itself after a code is found.
 */
export async function startCameraScan(
  video: HTMLVideoElement,
  onCode: (value: string) => void,
  onHidden?: () => void,
): Promise<() => void> {
  let done = false;
  return readCamera(
    video,
    (values) => {
      const first = values[0];
      if (first === undefined || done) return !done;
      done = true;
      onCode(first);
      return false;
    },
    onHidden,
  );
}

/** A camera kept open to read label after label. */
export type LabelStream = {
  /** Closes the camera. */
  stop(): void;
};

/**
 * Keeps the camera open and calls `onCode` with every label it reads — the same label as often
 * as the camera sees it — until `stop`. On a phone the plugin's camera runs behind the
 * transparent webview (windowed), one `scan` after another; on desktop `video` shows the
 * camera and every frame goes through ZXing. Rejects with a ScanError when the camera cannot
 * start; `onEnd` says when it stopped by itself (cancelled by the system, or broken).
 */
export async function startLabelStream(
  platform: Platform,
  video: HTMLVideoElement,
  onCode: (value: string) => void,
  onEnd: (e: ScanError) => void,
): Promise<LabelStream> {
  if (platform === 'mobile') {
    const plugin = await pluginWithPermission();
    let stopped = false;
    // In the background or behind a locked screen the plugin's session ends.
    const unwatch = releaseWhenHidden(() => {
      if (stopped) return;
      stopped = true;
      unwatch();
      void plugin.cancel().catch(() => undefined);
      onEnd(new ScanError('cancelled'));
    });
    void (async () => {
      while (!stopped) {
        try {
          const value = await pluginScan(plugin, 'label', true);
          if (!stopped) onCode(value);
        } catch (e) {
          if (stopped) return;
          stopped = true;
          unwatch();
          onEnd(e instanceof ScanError ? e : new ScanError('unavailable'));
        }
      }
    })();
    return {
      stop() {
        if (stopped) return;
        stopped = true;
        unwatch();
        void plugin.cancel().catch(() => undefined);
      },
    };
  }
  // With every format asked for, a weak symbology can misread a patch of a frame once: a value
  // counts when two frames in a row show it.
  let previous = new Set<string>();
  const stop = await readCamera(
    video,
    (values) => {
      for (const v of values) if (previous.has(v)) onCode(v);
      previous = new Set(values);
      return true;
    },
    () => onEnd(new ScanError('cancelled')),
  );
  return { stop };
}
