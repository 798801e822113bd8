// The fleet's release channel in the UI: the blocking update screen (what still waits to be sent,
// a sync that really syncs, the update opened by Rust), the quiet "update available" banner, the
// policy learnt at a route refresh, and the enrollment form prefilled with the build's server.
import { describe, expect, it } from 'vitest';
import { clearMocks } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import { type QueueItem } from '../../src/lib/backend';
import { UPDATE_AVAILABLE, UPDATE_REQUIRED } from '../fixtures/fake-backend';
import { $, click, fake, root, settle, startApp, useAppHarness } from '../fixtures/harness';

const count = (cmd: string) => fake.calls.filter((c) => c.cmd === cmd).length;

function pendingItem(n: number): QueueItem {
  return {
    event_id: `e${n}`,
    stop_address: `${n} Elm Close`,
    recipient_name: 'Eva Novak',
    kind: 'delivered',
    barcodes: [`0034012345000000004${n}`],
    committed_at_ms: Date.UTC(2026, 10, 25, 9, n),
    state: 'pending',
    reason: null,
  };
}

useAppHarness();

describe('the update required screen', () => {
  it('says how many deliveries wait and sends them with Sync now', async () => {
    await startApp({ updateRequired: true, queue: [pendingItem(1), pendingItem(2)] });
    expect(root.dataset.screen).toBe('update');
    expect($('update-pending')?.dataset.count).toBe('2');
    expect($('update-pending')?.textContent).toContain('2 deliveries on this phone are still waiting');

    await click('update-sync');
    expect(count('sync_now')).toBe(1);
    expect(fake.queue.every((q) => q.state === 'synced')).toBe(true);
    expect($('update-pending')?.dataset.count).toBe('0');
    expect($('update-pending')?.textContent).toContain('Every delivery recorded on this phone has been sent');
    expect(root.dataset.screen).toBe('update');
  });

  it('shows why a sync did not go through', async () => {
    await startApp({ updateRequired: true, pending: 1 });
    expect($('update-sync-error')?.hidden).toBe(true);
    await emit('sync-status', {
      pending: 1,
      disputed: 0,
      syncing: false,
      online: false,
      last_success_ms: null,
      last_error: 'No connection to the server.',
    });
    await settle();
    expect($('update-sync-error')?.hidden).toBe(false);
    expect($('update-sync-error')?.textContent).toBe('No connection to the server.');
    expect($('update-pending')?.textContent).toContain('1 delivery on this phone is still waiting');
  });

  it('asks Rust to open the update instead of following a link in the webview', async () => {
    await startApp({ updateRequired: true });
    expect(root.querySelector('a')).toBeNull();
    await click('update-get');
    expect(fake.calls.filter((c) => c.cmd === 'open_update')).toEqual([{ cmd: 'open_update', args: {} }]);
    expect($('error-banner')?.hidden).toBe(true);
  });

  it('shows the refusal when Rust will not open the link', async () => {
    await startApp({ updateRequired: true, updateUrlRefused: true });
    await click('update-get');
    expect($('error-banner')?.hidden).toBe(false);
    expect($('error-banner')?.dataset.code).toBe('update_url_refused');
  });

  it('without a link, says to ask the fleet manager and offers no button', async () => {
    await startApp({ update: { ...UPDATE_REQUIRED, update_url: null } });
    expect($('update-get')).toBeNull();
    expect($('update-screen')?.textContent).toContain('Ask your fleet manager');
    expect($('update-sync')).not.toBeNull();
  });

  it('goes away when the fleet lowers its minimum, learnt by Sync now', async () => {
    await startApp({ updateRequired: true });
    expect(root.dataset.screen).toBe('update');
    fake.updateOnRefresh = null;
    await click('update-sync');
    expect(count('refresh_route')).toBeGreaterThan(0);
    expect(root.dataset.screen).toBe('route');
  });
});

describe('learning the policy', () => {
  it('shows the update screen at the next route refresh when the minimum was raised', async () => {
    await startApp();
    expect(root.dataset.screen).toBe('route');
    fake.updateOnRefresh = UPDATE_REQUIRED;
    await click('refresh-route');
    expect(root.dataset.screen).toBe('update');
  });

  it('refreshes the route when the app starts, so an idle phone learns the policy', async () => {
    await startApp({ updateOnRefresh: UPDATE_REQUIRED });
    expect(count('refresh_route')).toBe(1);
    expect(root.dataset.screen).toBe('update');
  });

  it('reads the status again when a sync has finished', async () => {
    await startApp({ pending: 1 });
    const before = count('app_status');
    await emit('sync-status', { pending: 1, disputed: 0, syncing: true, online: true, last_success_ms: null, last_error: null });
    await settle();
    expect(count('app_status')).toBe(before);
    fake.status = { ...fake.status, update: UPDATE_REQUIRED };
    await emit('sync-status', { pending: 0, disputed: 0, syncing: false, online: true, last_success_ms: 1, last_error: null });
    await settle();
    expect(count('app_status')).toBe(before + 1);
    expect(root.dataset.screen).toBe('update');
  });

  it('keeps a stop under way on screen when the policy arrives, and blocks after it', async () => {
    await startApp();
    await click('scan-button');
    const input = $('barcode-input') as HTMLInputElement;
    input.value = 'RR123456785GB';
    await click('scan-submit');
    await click('finish-scanning');
    expect(root.dataset.screen).toBe('proof');
    fake.status = { ...fake.status, update: UPDATE_REQUIRED };
    await emit('sync-status', { pending: 0, disputed: 0, syncing: true, online: true, last_success_ms: null, last_error: null });
    await emit('sync-status', { pending: 0, disputed: 0, syncing: false, online: true, last_success_ms: 1, last_error: null });
    await settle();
    expect(root.dataset.screen).toBe('proof');
  });
});

describe('the update available banner', () => {
  it('shows the offered version on the route with an Update button that asks Rust', async () => {
    await startApp({ update: UPDATE_AVAILABLE });
    expect(root.dataset.screen).toBe('route');
    expect($('update-banner')?.hidden).toBe(false);
    expect($('update-banner')?.textContent).toContain('Update available: 0.2.1');
    await click('update-banner-open');
    expect(count('open_update')).toBe(1);
  });

  it('stays hidden for this session once dismissed, on every tab', async () => {
    await startApp({ update: UPDATE_AVAILABLE });
    await click('update-banner-dismiss');
    expect($('update-banner')?.hidden).toBe(true);
    await click('nav-queue');
    expect($('update-banner')?.hidden).toBe(true);
    await click('nav-route');
    expect($('update-banner')?.hidden).toBe(true);
  });

  it('comes back for a newer release than the one dismissed', async () => {
    const app = await startApp({ update: UPDATE_AVAILABLE });
    await click('update-banner-dismiss');
    app.setStatus({ ...app.state.status!, update: { ...UPDATE_AVAILABLE, latest: '0.3.0' } });
    await settle();
    expect($('update-banner')?.hidden).toBe(false);
    expect($('update-banner')?.dataset.version).toBe('0.3.0');
  });

  it('is shown on the queue and settings tabs too, and never without an offer', async () => {
    await startApp({ update: UPDATE_AVAILABLE });
    await click('nav-queue');
    expect($('update-banner')?.hidden).toBe(false);
    await click('nav-settings');
    expect($('update-banner')?.hidden).toBe(false);

    clearMocks();
    root.replaceChildren();
    await startApp({ update: { ...UPDATE_AVAILABLE, latest: '0.1.0', available: false } });
    expect($('update-banner')?.hidden).toBe(true);
  });
});

describe('enrollment in a fleet build', () => {
  it('starts with the server built into the app', async () => {
    await startApp({ enrolled: false, defaultServerUrl: 'https://dispatch.northside.example' });
    expect(($('enroll-server') as HTMLInputElement).value).toBe('https://dispatch.northside.example');
    ($('enroll-input') as HTMLInputElement).value = 'ABCD-1234';
    await click('enroll-submit');
    expect(fake.calls.find((c) => c.cmd === 'enroll')?.args).toEqual({ input: 'ABCD-1234', serverUrl: 'https://dispatch.northside.example' });
    expect(root.dataset.screen).toBe('route');
  });

  it('starts empty in a build without one', async () => {
    await startApp({ enrolled: false });
    expect(($('enroll-server') as HTMLInputElement).value).toBe('');
  });
});
