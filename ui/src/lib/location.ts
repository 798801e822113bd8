// The phone's position for the proof of delivery (Tauri geolocation plugin, mobile only).
// Best effort: a refused permission or no fix within the timeout gives null, never an error —
// a delivery is never held up by GPS.
import type { Location } from './backend';

export async function currentLocation(timeoutMs = 3000): Promise<Location | null> {
  try {
    const geo = await import('@tauri-apps/plugin-geolocation');
    let permission = await geo.checkPermissions();
    if (permission.location === 'prompt' || permission.location === 'prompt-with-rationale') {
      permission = await geo.requestPermissions(['location']);
    }
    if (permission.location !== 'granted') return null;
    const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), timeoutMs + 500));
    const position = await Promise.race([
      geo.getCurrentPosition({ enableHighAccuracy: true, timeout: timeoutMs, maximumAge: 60_000 }),
      timeout,
    ]);
    if (!position) return null;
    const { latitude, longitude, accuracy } = position.coords;
    return { lat: latitude, lon: longitude, accuracy_m: Number.isFinite(accuracy) ? accuracy : null };
  } catch {
    return null;
  }
}
