// The one module that talks to the Rust side (the contract is docs/ipc.md).
// Screens import from here and never call `invoke` or `listen` themselves, so the whole
// contract with Rust is visible — and mockable — in one place.

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import { isAppErrorCode, type AppError, type AppErrorCode, type RejectCode } from './codes';

export { APP_ERROR_CODES, REJECT_CODES, type AppError, type AppErrorCode, type RejectCode } from './codes';

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
  /** What the customer asked for on their page, or `null` when nothing. */
  customer: CustomerChoice | null;
};
/**
 * What the customer chose before the courier came (`CustomerChoice` in wire.rs; the core trims
 * it and leaves out a blank part). Their words: shown as text, never as markup.
 */
export type CustomerChoice = {
  /** How they asked for the parcels to be handed over. */
  method?: DeliveryMethod;
  /** For that method: a neighbour's "name, house number", the safe place, or the pickup point's name and address. */
  place?: string;
  /** Free text for the courier. */
  instructions?: string;
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

/** How parcels leave the courier's hands, in the order the app offers them. */
export const DELIVERY_METHODS = ['hand_to_recipient', 'neighbour', 'safe_place', 'pickup_point'] as const;
export type DeliveryMethod = (typeof DELIVERY_METHODS)[number];

/** One way of handing the scanned parcels over and the steps the policy asks for it at the door. */
export type DoorMethod = {
  method: DeliveryMethod;
  code_required: boolean;
  /** A proof photo (for a safe place: the parcel in its place). */
  photo_required: boolean;
  signature_required: boolean;
  /** Before the code: the customer opens the box, the courier photographs the contents. */
  open_box_check: boolean;
  /** An ID of an accepted type is checked against the recipient. */
  id_check: boolean;
  /** The recipient must be at least this old; an ID is checked for it. */
  minimum_age?: number;
};

export const ID_TYPES = ['passport', 'national_id_card', 'driving_licence', 'residence_permit'] as const;
export type IdType = (typeof ID_TYPES)[number];

/**
 * An ID check as the courier enters it. Never the ID's number or image; the year of birth only
 * decides the age check in the core, which neither stores nor sends it.
 */
export type IdCheckEntry = {
  id_type: IdType;
  year_of_birth?: number;
  /** The courier tapped "meets the minimum age" after reading the date of birth. */
  meets_minimum_age?: boolean;
  /** The courier saw the ID in person and it shows the recipient. */
  courier_confirmed: boolean;
};

/** What `submit_proof` takes (`ProofInput` in view.rs). */
export type ProofInput = {
  /** Who took the parcels; may be empty for a safe place or a pickup point (the core names the stop's recipient). */
  recipient_name: string;
  photo_path?: string | null;
  /** A PNG saved with `savePhoto`. */
  signature_path?: string | null;
  /** The neighbour's house number, the safe place, or the pickup point's id. */
  place?: string | null;
  id_check?: IdCheckEntry | null;
};

export type HandoverView =
  | { step: 'idle'; last_scan: ScanResult | null }
  | {
      step: 'scanning';
      stop: RouteStop;
      scanned: string[];
      last_scan: ScanResult | null;
      /** The ways every scanned parcel may be handed over; `finishScanning` takes one. */
      methods: DoorMethod[];
      /**
       * The method the method screen opens on, one of `methods`: the customer's when the parcels
       * allow it, else `hand_to_recipient` when offered, else `null` (the core decides).
       */
      preselected: DeliveryMethod | null;
    }
  | { step: 'open_box'; stop: RouteStop; scanned: string[]; photo_taken: boolean }
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
      /** The method picked and its steps: signature, ID and minimum age, place. */
      door: DoorMethod;
      /** For a safe place: where the shipper allows it (the courier may describe another). */
      safe_places: string[];
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
  /** The last problem in English: shown only when there is no `last_error_code`. */
  last_error: string | null;
  /** The last problem's closed code (`network`, `server_error`, `sync_held`, …): the UI shows its text. */
  last_error_code?: AppErrorCode | null;
};
export type QueueItem = {
  event_id: string;
  stop_address: string;
  recipient_name: string;
  kind: QueueKind;
  barcodes: string[];
  committed_at_ms: number;
  state: 'pending' | 'synced' | 'disputed';
  /** Why the server refused it, in English: shown only when there is no `reject_code`. */
  reason: string | null;
  /** The server's closed reason for refusing it: the UI shows `reject.<code>`. */
  reject_code?: RejectCode | null;
};
export type QueueKind = 'delivered' | 'failed' | 'unexpected' | 'depot_check_in' | 'correction';

/** What was wrong with a delivery the courier corrects (`CorrectionReason` in wire.rs). */
export const CORRECTION_REASONS = ['wrong_door', 'not_handed_over'] as const;
export type CorrectionReason = (typeof CORRECTION_REASONS)[number];

/** A parcel that should be in the van at the end-of-day depot check-in. */
export type DepotParcel = {
  /** Its label (normalised). */
  barcode: string;
  /** Its stop's address. */
  address: string;
  /** Scanned at the depot. */
  checked: boolean;
};

/** The end-of-day check-in of the van (`depot_view`, `depot_scan`, `depot_finish`). */
export type DepotView = {
  /** The route's day. */
  date: string;
  /** Every parcel of the day's route that was not delivered, ticked once scanned. */
  expected: DepotParcel[];
  /** Labels scanned that were not expected. */
  extra: string[];
  /** The label just scanned (normalised), after `depotScan`. */
  last_scanned: string | null;
  /** The check-in's record, after `depotFinish`. */
  recorded_event_id: string | null;
};
export const EXCEPTION_REASONS = [
  'not_home',
  'refused',
  'code_locked',
  'no_code',
  'address_problem',
  'damaged',
  'unsafe',
  'refused_contents',
  'refused_age',
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

/**
 * Turns whatever a rejected `invoke` produced into an {@link AppError}: the contract's
 * `{code, message}`, a bare string (Tauri's own errors, e.g. an unknown command), an
 * `Error`, or anything else. Unknown codes become `internal` so a switch stays exhaustive; a
 * known code without a message keeps the code as its message (the screens show the code's
 * translated sentence, `errorText` in i18n, never the message).
 */
export function normaliseError(raw: unknown): AppError {
  if (raw instanceof BackendError) return raw.toJSON();
  if (raw !== null && typeof raw === 'object') {
    const o = raw as Record<string, unknown>;
    const message = typeof o.message === 'string' && o.message.trim() !== '' ? o.message : null;
    if (isAppErrorCode(o.code)) {
      return { code: o.code, message: message ?? o.code };
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
  /** Done scanning, handing over by `method` (null: into the recipient's hands). */
  finishScanning: (method: DeliveryMethod | null) => call<HandoverView>('finish_scanning', { method }),
  /** The open-box check: the contents' photo (from `savePhoto`) and whether the customer accepted them. */
  checkContents: (photoPath: string | null, accepted: boolean) =>
    call<HandoverView>('check_contents', { photoPath, accepted }),
  submitCode: (code: string) => call<HandoverView>('submit_code', { code }),
  submitToken: (token: string) => call<HandoverView>('submit_token', { token }),
  /** Where the phone is, recorded with the next proof (null: unknown). */
  setLocation: (location: Location | null) => call<null>('set_location', { location }),
  /** Hands a photo (or the signature PNG) to Rust as raw bytes; resolves to the path `submitProof` takes. */
  savePhoto: (bytes: Uint8Array) => call<string>('save_photo', bytes),
  submitProof: (proof: ProofInput) => call<HandoverView>('submit_proof', { proof }),
  /** `idCheck` goes with `refused_age` only (the core keeps it as a failed check). */
  reportException: (reason: ExceptionReason, note: string | null, idCheck: IdCheckEntry | null = null) =>
    call<HandoverView>('report_exception', { reason, note, idCheck }),
  /**
   * Reports a parcel that is not on today's route: its label as scanned, an optional photo (from
   * `savePhoto`) and note. Resolves to the record's id; the fleet manager sees it.
   */
  reportUnexpected: (barcode: string, photoPath: string | null, note: string | null) =>
    call<string>('report_unexpected', { barcode, photoPath, note }),
  /** The end-of-day depot check-in so far. */
  depotView: () => call<DepotView>('depot_view'),
  /** One label scanned at the depot (a repeat counts once). */
  depotScan: (barcode: string) => call<DepotView>('depot_scan', { barcode }),
  /** Records the check-in (its id in `recorded_event_id`); the next one starts empty. */
  depotFinish: () => call<DepotView>('depot_finish'),
  resetHandover: () => call<HandoverView>('reset_handover'),
  resendCode: () => call<{ next_allowed_at: number }>('resend_code'),
  /**
   * Corrects one of today's handovers (a `delivered` queue item): a new record that refers to it;
   * its parcels are to deliver again. Resolves to the correction's record id.
   */
  correctDelivery: (eventId: string, reason: CorrectionReason, note: string | null) =>
    call<string>('correct_delivery', { eventId, correction: reason, note }),
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
