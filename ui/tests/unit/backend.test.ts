import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import { backend, BackendError, normaliseError, type SyncStatus } from '../../src/lib/backend';

afterEach(() => clearMocks());

describe('backend error normalisation', () => {
  it('keeps a contract error as it is', () => {
    expect(normaliseError({ code: 'code_locked', message: 'Too many wrong codes.' })).toEqual({
      code: 'code_locked',
      message: 'Too many wrong codes.',
    });
  });

  it('turns an unknown code into internal but keeps the message', () => {
    expect(normaliseError({ code: 'teapot', message: 'short and stout' })).toEqual({
      code: 'internal',
      message: 'short and stout',
    });
  });

  it('turns a bare string from tauri into an internal error with that text', () => {
    expect(normaliseError('command foo not found')).toEqual({ code: 'internal', message: 'command foo not found' });
  });

  it('keeps a known code without a message, the code standing in for the message', () => {
    expect(normaliseError({ code: 'code_locked' })).toEqual({ code: 'code_locked', message: 'code_locked' });
  });

  it('treats scan outcomes that are not errors as unknown codes', () => {
    expect(normaliseError({ code: 'not_on_route', message: 'x' }).code).toBe('internal');
  });

  it('never returns an empty message for junk', () => {
    for (const junk of [null, undefined, 42, {}, '', { code: 7 }]) {
      const e = normaliseError(junk);
      expect(e.code).toBe('internal');
      expect(e.message.length).toBeGreaterThan(0);
    }
  });
});

describe('backend commands', () => {
  it('sends camelCase argument keys as the contract says', async () => {
    const seen: { cmd: string; args: unknown }[] = [];
    mockIPC((cmd, args) => {
      seen.push({ cmd, args });
      return { step: 'idle', last_scan: null };
    });
    await backend.enroll('ABCD-1234', 'https://x.example');
    await backend.finishScanning('neighbour');
    await backend.finishScanning(null);
    await backend.checkContents('/cache/photos/photo-1.jpg', false);
    await backend.submitProof({ recipient_name: 'Ben', photo_path: null, place: '14B' });
    await backend.reportException('not_home', null);
    const idCheck = { id_type: 'passport', year_of_birth: 2010, courier_confirmed: true } as const;
    await backend.reportException('refused_age', null, idCheck);
    expect(seen).toEqual([
      { cmd: 'enroll', args: { input: 'ABCD-1234', serverUrl: 'https://x.example' } },
      { cmd: 'finish_scanning', args: { method: 'neighbour' } },
      { cmd: 'finish_scanning', args: { method: null } },
      { cmd: 'check_contents', args: { photoPath: '/cache/photos/photo-1.jpg', accepted: false } },
      // The proof goes as one object with the core's snake_case fields (ProofInput in view.rs).
      { cmd: 'submit_proof', args: { proof: { recipient_name: 'Ben', photo_path: null, place: '14B' } } },
      { cmd: 'report_exception', args: { reason: 'not_home', note: null, idCheck: null } },
      { cmd: 'report_exception', args: { reason: 'refused_age', note: null, idCheck } },
    ]);
  });

  it('rejects with a BackendError carrying the code when the command fails', async () => {
    mockIPC(() => {
      throw { code: 'device_revoked', message: 'This phone was removed.' };
    });
    const err = await backend.appStatus().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).code).toBe('device_revoked');
    expect((err as BackendError).message).toBe('This phone was removed.');
  });

  it('delivers sync-status events to the subscriber until it unsubscribes', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const got: SyncStatus[] = [];
    const unlisten = await backend.onSyncStatus((s) => got.push(s));
    const status: SyncStatus = { pending: 2, disputed: 0, syncing: false, online: false, last_success_ms: null, last_error: null };
    await emit('sync-status', status);
    unlisten();
    await emit('sync-status', { ...status, pending: 9 });
    expect(got).toEqual([status]);
  });
});
