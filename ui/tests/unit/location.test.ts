import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { currentLocation } from '../../src/lib/location';
import { backend } from '../../src/lib/backend';

afterEach(() => clearMocks());

function mockGeolocation(permission: string, calls: string[]) {
  mockIPC((cmd, args) => {
    calls.push(cmd);
    if (cmd === 'plugin:geolocation|check_permissions') return { location: permission, coarseLocation: permission };
    if (cmd === 'plugin:geolocation|request_permissions') return { location: 'denied', coarseLocation: 'denied' };
    if (cmd === 'plugin:geolocation|get_current_position') {
      expect((args as { options: { enableHighAccuracy: boolean } }).options.enableHighAccuracy).toBe(true);
      return { timestamp: 1, coords: { latitude: 52.37, longitude: 4.89, accuracy: 8, altitude: null, altitudeAccuracy: null, speed: null, heading: null } };
    }
    if (cmd === 'set_location') return null;
    throw new Error(`unexpected ${cmd}`);
  });
}

describe('location for the proof of delivery', () => {
  it('reads the position when the courier allowed location', async () => {
    const calls: string[] = [];
    mockGeolocation('granted', calls);
    expect(await currentLocation()).toEqual({ lat: 52.37, lon: 4.89, accuracy_m: 8 });
    expect(calls).toContain('plugin:geolocation|get_current_position');
  });

  it('gives null, without asking for a position, when permission is refused', async () => {
    const calls: string[] = [];
    mockGeolocation('prompt', calls);
    expect(await currentLocation()).toBeNull();
    expect(calls).toContain('plugin:geolocation|request_permissions');
    expect(calls).not.toContain('plugin:geolocation|get_current_position');
  });

  it('sends the position to Rust in the contract shape', async () => {
    let sent: unknown;
    mockIPC((cmd, args) => {
      if (cmd === 'set_location') sent = args;
      return null;
    });
    await backend.setLocation({ lat: 1.5, lon: 2.5, accuracy_m: null });
    expect(sent).toEqual({ location: { lat: 1.5, lon: 2.5, accuracy_m: null } });
  });
});
