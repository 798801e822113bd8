// Doorstep courier UI entry point.
//
// Stable data-testid hooks (QA automation and the end-to-end WebDriver test rely on these;
// rename only together with the tests):
//   app shell     error-banner, loading, nav-route, nav-scan, nav-queue, nav-settings, back
//   enroll        enroll-screen, enroll-input, enroll-server, enroll-submit, enroll-error, enroll-scan (mobile)
//   route         route-list, stop-<sequence>, maps-<sequence>, route-meta, route-cached, route-empty,
//                 sync-badge (data-online, data-pending), sync-pending, refresh-route, scan-button,
//                 depot-open
//   scan          barcode-input, scan-submit, scan-result (data-outcome), scan-stop, scan-count,
//                 scan-camera, scan-image, scan-image-input, scan-camera-error, finish-scanning,
//                 scan-cant-deliver, scan-cancel, report-unexpected, report-form, report-barcode,
//                 report-note, report-send, report-cancel, report-done (+ photo-input, photo-preview)
//   camera open   camera-sheet (data-mode windowed|video), camera-panel, camera-count,
//                 camera-result (data-outcome or data-kind), camera-report, camera-done
//   depot         depot-screen, depot-count, depot-last (data-kind), depot-camera, depot-camera-error,
//                 depot-input, depot-submit, depot-expected, depot-parcel-<barcode> (data-checked),
//                 depot-none, depot-extra, depot-finish, depot-confirm (data-missing), depot-missing,
//                 depot-confirm-count, depot-confirm-extra, depot-confirm-finish, depot-keep-scanning,
//                 depot-done (data-event), depot-done-count, depot-done-missing, depot-close
//   code keypad   code-screen, code-display (data-length), code-input, code-error (data-code),
//                 attempts-left (data-count), offline-label, key-0 … key-9, key-backspace,
//                 scan-customer-qr, cant-give-code, resend-code, code-status
//   token (QR)    token-screen, token-input, token-submit, token-camera, token-error
//   locked        locked-screen, locked-report
//   method        method-screen, method-<delivery method> (data-steps), method-none, method-cant-deliver
//   open box      open-box-screen, photo-input, photo-preview, open-box-error, contents-confirm,
//                 contents-refuse, open-box-cant-deliver
//   proof         proof-screen (data-method), proof-verification, proof-method, recipient-name,
//                 place-input, place-scan (mobile), safe-places, safe-place-<n>, safe-place-other,
//                 id-section, id-no-number, id-type-<type>, id-min-age, id-year, id-meets-age, id-seen,
//                 photo-section, photo-input, photo-preview, signature-section (data-signed),
//                 signature-pad, signature-clear, proof-error, age-refusal, record-refused-age,
//                 proof-cant-deliver, confirm-proof
//   done          done-screen (data-outcome), done-reason (data-reason), next-delivery
//   exceptions    exceptions-screen, reason-<code>, exception-note, exception-submit, exception-error
//   sync queue    queue-list, queue-item-<event_id> (data-state, data-kind), queue-reason
//                 (data-reject-code), queue-pending, queue-empty, sync-now, sync-error (data-code),
//                 correct-<event_id>, correct-done
//   correction    correction-sheet (data-event), correct-reason-<reason>, correct-note,
//                 correct-submit, correct-error (data-code)
//   settings      settings-screen, settings-server, settings-fleet, settings-courier,
//                 settings-device, settings-version, language-select, theme-select, unenroll
//   update        update-screen, update-pending (data-count), update-sync, update-sync-error
//                 (data-code), update-get
//   update banner update-banner (data-version; route, queue, settings), update-banner-open,
//                 update-banner-dismiss
// The root element carries data-screen=<name> of the screen on show.

import './styles.css';
import { App } from './app';
import { backend } from './lib/backend';
import { detectPlatform } from './lib/platform';
import { getLang } from './i18n';
import { screens } from './screens';
import { startTheme } from './lib/theme';

// Before the first screen renders, so no screen ever shows in the wrong colours.
startTheme();

async function boot(): Promise<void> {
  document.documentElement.lang = getLang();
  const root = document.getElementById('app');
  if (!root) throw new Error('index.html has no #app element');
  const platform = await detectPlatform();
  const app = new App(root, backend, platform, screens);
  (window as unknown as { __doorstep?: App }).__doorstep = app;
  await app.start();
}

void boot();
