// The closed sets of codes the Rust side reports: the errors a command fails with and the
// server's reasons for refusing a record. Plain data with no imports, so both the backend
// module and the translations (which map each code to a sentence) build on it.

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
  'method_not_allowed',
  'signature_required',
  'id_check_required',
  'age_not_met',
  'place_required',
  'contents_photo_required',
  'correction_not_allowed',
  'sync_held',
] as const;

export type AppErrorCode = (typeof APP_ERROR_CODES)[number];

export type AppError = { code: AppErrorCode; message: string };

/** Whether `v` is one of {@link APP_ERROR_CODES}. */
export function isAppErrorCode(v: unknown): v is AppErrorCode {
  return typeof v === 'string' && (APP_ERROR_CODES as readonly string[]).includes(v);
}

/**
 * The server's closed reasons for refusing a record (`RejectCode` in crates/protocol/src/wire.rs),
 * held to ui/tests/fixtures/contract.json by tests/unit/contract.test.ts like the error codes.
 */
export const REJECT_CODES = [
  'code_wrong',
  'code_locked',
  'code_expired',
  'token_invalid',
  'token_reused',
  'verification_unknown',
  'already_delivered',
  'not_assigned',
  'code_required',
  'offline_not_allowed',
  'chain_broken',
  'id_conflict',
  'photo_missing',
  'verification_used',
  'verification_expired',
  'code_replaced',
  'backdated',
  'step_missing',
  'invalid',
] as const;
export type RejectCode = (typeof REJECT_CODES)[number];
