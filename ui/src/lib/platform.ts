// Which kind of device the app runs on. Mobile gets the native barcode plugin and the
// camera-capture photo input; desktop gets the barcode-detector (ZXing wasm) and a text field.

export type Platform = 'mobile' | 'desktop';

/** Guess from a user agent string; used when the OS plugin is not available. */
export function platformFromUserAgent(ua: string): Platform {
  return /Android|iPhone|iPad|iPod|Mobile/i.test(ua) ? 'mobile' : 'desktop';
}

/** Asks Tauri's OS plugin (lazy, so it costs nothing on first paint); falls back to the UA. */
export async function detectPlatform(): Promise<Platform> {
  detected = await detect();
  return detected;
}

let detected: Platform = 'desktop';

async function detect(): Promise<Platform> {
  try {
    const os = await import('@tauri-apps/plugin-os');
    const name = os.platform();
    if (name === 'android' || name === 'ios') return 'mobile';
    if (typeof name === 'string') return 'desktop';
  } catch {
    /* not running in Tauri, or the plugin is not registered */
  }
  return platformFromUserAgent(typeof navigator === 'undefined' ? '' : navigator.userAgent);
}

/** A short haptic tick for key presses, where the webview supports vibration. */
export function hapticTick(): void {
  if (detected === 'mobile') {
    // Native haptics (Tauri plugin, mobile only); the web vibration API where that fails.
    void import('@tauri-apps/plugin-haptics')
      .then((haptics) => haptics.selectionFeedback())
      .catch(vibrate);
    return;
  }
  vibrate();
}

function vibrate(): void {
  try {
    if (typeof navigator !== 'undefined' && typeof navigator.vibrate === 'function') navigator.vibrate(10);
  } catch {
    /* vibration blocked: harmless */
  }
}

/** Opens an address in the phone's maps app (Tauri opener plugin; map URLs only). */
export async function openInMaps(address: string): Promise<void> {
  const q = encodeURIComponent(address);
  const ios = /iPhone|iPad|iPod/i.test(typeof navigator === 'undefined' ? '' : navigator.userAgent);
  const { openUrl } = await import('@tauri-apps/plugin-opener');
  await openUrl(ios ? `maps://?q=${q}` : `geo:0,0?q=${q}`);
}
