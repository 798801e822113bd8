// Camera and image barcode scanning. Both engines are lazy-loaded so neither counts against
// the first screen's bundle: the Tauri barcode plugin on mobile, barcode-detector (ZXing
// compiled to wasm, served from our own dist/ — no CDN) on desktop.

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

function base64Bytes(b64: string): ArrayBuffer {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes.buffer;
}

type Detector = { detect(source: ImageBitmapSource): Promise<{ rawValue: string }[]> };
let detectorPromise: Promise<Detector> | null = null;

async function loadDetector(): Promise<Detector> {
  detectorPromise ??= (async () => {
    // The wasm comes inlined in a lazy chunk and is handed over as bytes: the app's CSP
    // (tauri.conf.json) allows 'wasm-unsafe-eval' but no fetch of app assets (connect-src
    // is IPC only), and ZXing's default would fetch it from a CDN.
    const [{ BarcodeDetector, prepareZXingModule }, wasm] = await Promise.all([
      import('barcode-detector/ponyfill'),
      import('zxing-wasm/reader/zxing_reader.wasm?base64'),
    ]);
    prepareZXingModule({ overrides: { wasmBinary: base64Bytes(wasm.default) }, fireImmediately: false });
    return new BarcodeDetector({ formats: [...DETECTOR_FORMATS] });
  })();
  return detectorPromise;
}

/** Reads the first barcode in a picked image file (desktop, or a photo on any device). */
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
  const detector = await loadDetector();
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
