// The one module that talks to the Rust side (the contract is docs/ipc.md).
// Screens import from here and never call `invoke` or `listen` themselves, so the whole
// contract with Rust is visible — and mockable — in one place.

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import { errorText } from '../i18n';

/**
 * The closed set of error codes the Rust side reports (`AppErrorCode` in
 * crates/courier/src/view.rs). The UI switches on these. tests/unit/contract.test.ts holds this
 * list to ui/tests/fixtures/contract.json, which a Rust test writes from the enum.
 */
export const APP_ERROR_CODES = [
  'not_enrolled',
  'enrollment_invalid',
  'enrollment_link_invalid',
  'network',
  'server_error',
  'device_revoked',
  'update_required',
  'update_url_refused',
  'barcode_invalid',
  'no_handover',
  'wrong_step',
  'code_format',
  'code_locked',
  'already_delivered',
  'offline_not_allowed',
  'token_invalid',
  'photo_required',
  'photo_invalid',
  'recipient_required',
  'storage',
  'internal',
] as const;

export type AppErrorCode = (typeof APP_ERROR_CODES)[number];

export type AppError = { code: AppErrorCode; message: string };

export type AppStatus = {
  enrolled: boolean;
  server_url: string | null;
  fleet_name: string | null;
  courier_name: string | null;
  device_id: string | null;
  app_version: string;
  /** The fleet's release channel for this phone, as the last manifest or sync answer said. */
  update: null | UpdateInfo;
  /** The server built into this app (DOORSTEP_SERVER_URL): the enrollment form starts with it. */
  default_server_url: string | null;
};

export type UpdateInfo = {
  minimum: string;
  latest: string;
  update_url: string | null;
  /** Below the minimum: no new handover until updated (recorded deliveries still sync). */
  required: boolean;
  /** `latest` is newer than this build and nothing is required. */
  available: boolean;
};

/** A position, as `set_location` takes it. */
export type Location = { lat: number; lon: number; accuracy_m: number | null };

export type ParcelState = 'todo' | 'delivered' | 'exception' | 'disputed';
export type RouteParcel = {
  parcel_id: string;
  barcode: string;
  description: string | null;
  photo_required: boolean;
  status: ParcelState;
};
export type RouteStop = {
  stop_id: string;
  sequence: number;
  recipient_name: string;
  address: string;
  code_required: boolean;
  code_length: number | null;
  offline_allowed: boolean;
  reasons: string[];
  status: ParcelState;
  parcels: RouteParcel[];
};
export type Route = { date: string; stops: RouteStop[]; fetched_at_ms: number | null; from_cache: boolean };

export type ScanOutcome =
  | 'added'
  | 'already_scanned'
  | 'not_on_route'
  | 'already_delivered'
  | 'other_stop'
  | 'invalid';
export type ScanResult = {
  outcome: ScanOutcome;
  message: string;
  parcel_id: string | null;
  other_stop: null | { stop_id: string; sequence: number; address: string };
};

export type Verification = 'not_required' | 'online_code' | 'offline_code' | 'token';
export type HandoverView =
  | { step: 'idle'; last_scan: ScanResult | null }
  | { step: 'scanning'; stop: RouteStop; scanned: string[]; last_scan: ScanResult | null }
  | {
      step: 'code';
      stop: RouteStop;
      scanned: string[];
      code_length: number;
      attempts_left: number | null;
      offline: boolean;
      error: AppError | null;
    }
  | { step: 'locked'; stop: RouteStop; scanned: string[] }
  | {
      step: 'proof';
      stop: RouteStop;
      scanned: string[];
      verification: Verification;
      offline: boolean;
      photo_required: boolean;
    }
  | {
      step: 'done';
      stop: RouteStop;
      scanned: string[];
      outcome: 'delivered' | 'exception';
      event_id: string;
    };

export type SyncStatus = {
  pending: number;
  disputed: number;
  syncing: boolean;
  online: boolean | null;
  last_success_ms: number | null;
  last_error: string | null;
};
export type QueueItem = {
  event_id: string;
  stop_address: string;
  recipient_name: string;
  kind: 'delivered' | 'failed';
  barcodes: string[];
  committed_at_ms: number;
  state: 'pending' | 'synced' | 'disputed';
  reason: string | null;
};
export const EXCEPTION_REASONS = [
  'not_home',
  'refused',
  'code_locked',
  'no_code',
  'address_problem',
  'damaged',
  'unsafe',
] as const;
export type ExceptionReason = (typeof EXCEPTION_REASONS)[number];

/** Thrown by every command wrapper: always a stable `code` plus a message for people. */
export class BackendError extends Error implements AppError {
  readonly code: AppErrorCode;
  constructor(err: AppError) {
    super(err.message);
    this.name = 'BackendError';
    this.code = err.code;
  }
  toJSON(): AppError {
    return { code: this.code, message: this.message };
  }
}

function isAppErrorCode(v: unknown): v is AppErrorCode {
  return typeof v === 'string' && (APP_ERROR_CODES as readonly string[]).includes(v);
}

/**
 * Turns whatever a rejected `invoke` produced into an {@link AppError}: the contract's
 * `{code, message}`, a bare string (Tauri's own errors, e.g. an unknown command), an
 * `Error`, or anything else. Unknown codes become `internal` so a switch stays exhaustive; a
 * known code without a message gets its translated sentence.
 */
export function normaliseError(raw: unknown): AppError {
  if (raw instanceof BackendError) return raw.toJSON();
  if (raw !== null && typeof raw === 'object') {
    const o = raw as Record<string, unknown>;
    const message = typeof o.message === 'string' && o.message.trim() !== '' ? o.message : null;
    if (isAppErrorCode(o.code)) {
      return { code: o.code, message: message ?? errorText(o.code) };
    }
    if (message) return { code: 'internal', message };
  }
  if (typeof raw === 'string' && raw.trim() !== '') return { code: 'internal', message: raw };
  return { code: 'internal', message: 'Something went wrong inside the app.' };
}

export function isAppError(e: unknown): e is AppError {
  return (
    e !== null &&
    typeof e === 'object' &&
    isAppErrorCode((e as { code?: unknown }).code) &&
    typeof (e as { message?: unknown }).message === 'string'
  );
}

async function call<T>(cmd: string, args?: Record<string, unknown> | Uint8Array): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (raw) {
    throw new BackendError(normaliseError(raw));
  }
}

export const backend = {
  appStatus: () => call<AppStatus>('app_status'),
  enroll: (input: string, serverUrl: string | null) =>
    call<AppStatus>('enroll', { input, serverUrl }),
  unenroll: () => call<AppStatus>('unenroll'),
  route: () => call<Route>('route'),
  refreshRoute: () => call<Route>('refresh_route'),
  handoverView: () => call<HandoverView>('handover_view'),
  scanParcel: (barcode: string) => call<HandoverView>('scan_parcel', { barcode }),
  finishScanning: () => call<HandoverView>('finish_scanning'),
  submitCode: (code: string) => call<HandoverView>('submit_code', { code }),
  submitToken: (token: string) => call<HandoverView>('submit_token', { token }),
  /** Where the phone is, recorded with the next proof (null: unknown). */
  setLocation: (location: Location | null) => call<null>('set_location', { location }),
  /** Hands a picked/captured photo to Rust as raw bytes; resolves to the path `submitProof` takes. */
  savePhoto: (bytes: Uint8Array) => call<string>('save_photo', bytes),
  submitProof: (recipientName: string, photoPath: string | null) =>
    call<HandoverView>('submit_proof', { recipientName, photoPath }),
  reportException: (reason: ExceptionReason, note: string | null) =>
    call<HandoverView>('report_exception', { reason, note }),
  resetHandover: () => call<HandoverView>('reset_handover'),
  resendCode: () => call<{ next_allowed_at: number }>('resend_code'),
  syncNow: () => call<SyncStatus>('sync_now'),
  syncStatus: () => call<SyncStatus>('sync_status'),
  syncQueue: () => call<QueueItem[]>('sync_queue'),
  /** Opens the fleet's update link outside the app; Rust picks and checks the link. */
  openUpdate: () => call<null>('open_update'),
  /** Calls `handler` with every `sync-status` event; resolves to the unsubscribe function. */
  onSyncStatus: (handler: (s: SyncStatus) => void): Promise<UnlistenFn> =>
    listen<SyncStatus>('sync-status', (ev) => handler(ev.payload)),
};

export type Backend = typeof backend;
