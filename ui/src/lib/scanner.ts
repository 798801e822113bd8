// Camera and image barcode scanning. Both engines are lazy-loaded so neither counts against
// the first screen's bundle: the Tauri barcode plugin on mobile, barcode-detector (ZXing
// compiled to wasm, from the app's own files — no CDN) on desktop. A mobile build carries no
// ZXing at all, neither its JavaScript nor its wasm.

import { convertFileSrc } from '@tauri-apps/api/core';

export type ScanFailure = 'denied' | 'unavailable' | 'nothing_found' | 'cancelled';

export class ScanError extends Error {
  constructor(readonly reason: ScanFailure) {
    super(reason);
    this.name = 'ScanError';
  }
}

/** Label symbologies: GS1-128 / Code 128, UPU S10 (Code 128), QR for tokens and enrollment. */
const DETECTOR_FORMATS = ['code_128', 'qr_code', 'data_matrix', 'ean_13', 'code_39', 'itf'] as const;

/** One scan with the native plugin (mobile). Asks for the camera permission first. */
export async function scanWithPlugin(kind: 'label' | 'qr'): Promise<string> {
  const plugin = await import('@tauri-apps/plugin-barcode-scanner');
  let permission = await plugin.checkPermissions();
  if (permission !== 'granted') permission = await plugin.requestPermissions();
  if (permission !== 'granted') throw new ScanError('denied');
  const F = plugin.Format;
  const formats =
    kind === 'qr'
      ? [F.QRCode]
      : [F.Code128, F.QRCode, F.DataMatrix, F.EAN13, F.Code39, F.ITF];
  try {
    const result = await plugin.scan({ windowed: false, formats, cameraDirection: 'back' });
    return result.content;
  } catch (e) {
    throw new ScanError(String(e).toLowerCase().includes('cancel') ? 'cancelled' : 'unavailable');
  }
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
    return new BarcodeDetector({ formats: [...DETECTOR_FORMATS] });
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
 * Streams the camera into `video` and calls `onCode` with the first barcode seen. Returns
 * a function that stops the camera; it also stops by itself after a code is found.
 */
export async function startCameraScan(
  video: HTMLVideoElement,
  onCode: (value: string) => void,
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
  video.srcObject = stream;
  video.setAttribute('playsinline', '');
  await video.play().catch(() => undefined);
  let stopped = false;
  const stop = () => {
    stopped = true;
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
  const tick = async () => {
    if (stopped) return;
    try {
      if (video.readyState >= 2) {
        const found = await detector.detect(video);
        const first = found[0];
        if (first && !stopped) {
          stop();
          onCode(first.rawValue);
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
