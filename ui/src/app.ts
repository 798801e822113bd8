// The app shell: holds what the Rust side last told us (status, route, handover, sync),
// decides which screen shows, and gives screens one small context to act through.
//
// Which screen shows is a pure function of that state (`screenFor`), so it is unit tested:
// the update screen blocks everything once no handover is under way (a stop already started
// can be finished, as the core allows), then enrollment, then whatever step the handover is
// in; only when no handover is under way does the courier move freely between tabs.
//
// The fleet's update policy comes with every manifest and sync answer, so the status is read
// again after each route refresh and each finished sync. The route is refreshed when the app
// starts and whenever it comes back to the foreground, so an idle phone learns it too.

import {
  BackendError,
  normaliseError,
  type AppError,
  type AppStatus,
  type Backend,
  type ExceptionReason,
  type HandoverView,
  type QueueItem,
  type Route,
  type SyncStatus,
} from './lib/backend';
import { h, replaceChildren } from './lib/dom';
import type { Platform } from './lib/platform';
import { errorText, t } from './i18n';

/** Where the courier is when no handover is under way (`depot`: the end-of-day check-in, from the route). */
export type Tab = 'route' | 'scan' | 'queue' | 'settings' | 'depot';
/** Screens over a handover step: the way out, the customer's QR, the choice of method after scanning. */
export type Overlay = 'exceptions' | 'token' | 'method' | null;
export type ScreenName =
  | 'loading'
  | 'update'
  | 'enroll'
  | 'route'
  | 'scan'
  | 'method'
  | 'open_box'
  | 'code'
  | 'locked'
  | 'proof'
  | 'done'
  | 'exceptions'
  | 'token'
  | 'queue'
  | 'settings'
  | 'depot';

export type AppState = {
  status: AppStatus | null;
  route: Route | null;
  view: HandoverView;
  sync: SyncStatus | null;
  queue: QueueItem[] | null;
  tab: Tab;
  overlay: Overlay;
  /** The reason to preselect on the exceptions screen (e.g. code_locked from the locked screen). */
  reasonHint: ExceptionReason | null;
  /** Why the delivery just recorded failed, when this app recorded it (the done view has no reason). */
  doneReason: ExceptionReason | null;
  /** An error to show in the banner until the next action. */
  error: AppError | null;
  /** The release whose "update available" banner the courier hid (until the app restarts). */
  dismissedUpdate: string | null;
};

export function screenFor(s: AppState): ScreenName {
  if (!s.status) return 'loading';
  const step = s.view.step;
  if (s.status.update?.required && step === 'idle') return 'update';
  if (!s.status.enrolled) return 'enroll';
  if (step !== 'idle' && step !== 'done' && s.overlay) return s.overlay;
  switch (step) {
    case 'scanning':
      return 'scan';
    case 'open_box':
      return 'open_box';
    case 'code':
      return 'code';
    case 'locked':
      return 'locked';
    case 'proof':
      return 'proof';
    case 'done':
      return 'done';
    case 'idle':
      return s.tab;
  }
}

/** What a screen can see and do. */
export interface Ctx {
  readonly state: AppState;
  readonly backend: Backend;
  readonly platform: Platform;
  /** Runs a command; on failure shows the error (and recovers from the global ones). */
  run<T>(fn: () => Promise<T>): Promise<T | undefined>;
  /** Like run, but hands AppErrors back to the caller instead of the banner. */
  attempt<T>(fn: () => Promise<T>): Promise<{ ok: T } | { err: AppError }>;
  /** Applies a new handover view returned by a command; `reason` names a failed delivery just recorded. */
  setView(view: HandoverView, reason?: ExceptionReason | null): void;
  setTab(tab: Tab): void;
  setOverlay(o: Overlay, reasonHint?: ExceptionReason | null): void;
  setStatus(s: AppStatus): void;
  setRoute(r: Route): void;
  setQueue(q: QueueItem[]): void;
  setSync(s: SyncStatus): void;
  /** Downloads the route and reads the status again (the manifest carries the update policy). */
  refreshRoute(): Promise<Route | undefined>;
  /** Reads the status again (after a sync, whose answer carries the update policy). */
  refreshStatus(): Promise<void>;
  /** Hides the "update available" banner for this release until the app restarts. */
  dismissUpdate(): void;
  /** Re-renders the current screen (e.g. after a language change). */
  rerender(): void;
  /** Asks the core for everything again (status, handover, route, sync). */
  reload(): Promise<void>;
}

export interface Screen {
  el: HTMLElement;
  /** Called when state changes while this screen stays up. */
  update?(ctx: Ctx): void;
  /** Where focus goes when the screen appears; the heading when absent. */
  focus?(): void;
  destroy?(): void;
}

export type ScreenFactory = (ctx: Ctx) => Screen;

export class App implements Ctx {
  readonly state: AppState = {
    status: null,
    route: null,
    view: { step: 'idle', last_scan: null },
    sync: null,
    queue: null,
    tab: 'route',
    overlay: null,
    reasonHint: null,
    doneReason: null,
    error: null,
    dismissedUpdate: null,
  };
  private current: { name: ScreenName; screen: Screen } | null = null;
  private readonly banner: HTMLElement;
  private readonly main: HTMLElement;
  private scheduled = false;
  /** Whether the route was refreshed since the app started. */
  private refreshed = false;

  constructor(
    private readonly root: HTMLElement,
    readonly backend: Backend,
    readonly platform: Platform,
    private readonly screens: Record<ScreenName, ScreenFactory>,
  ) {
    this.banner = h('div', { class: 'banner', role: 'alert', 'aria-live': 'assertive', testid: 'error-banner', hidden: true });
    this.main = h('div', { class: 'screen-host' });
    replaceChildren(root, this.banner, this.main);
    root.dataset.platform = platform;
  }

  /**
   * Loads status, handover, route and sync state, subscribes to sync events, and refreshes the
   * route (now and whenever the app comes back to the foreground).
   */
  async start(): Promise<void> {
    this.render();
    void this.backend
      .onSyncStatus((s) => {
        const finished = this.state.sync?.syncing === true && !s.syncing;
        this.setSync(s);
        if (finished) void this.refreshStatus();
      })
      .catch(() => undefined);
    await this.reload();
    if (this.state.status?.enrolled && !this.refreshed) void this.refreshRoute();
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this.state.status?.enrolled) void this.refreshRoute();
    });
  }

  async reload(): Promise<void> {
    const status = await this.run(() => this.backend.appStatus());
    if (!status) return;
    this.state.status = status;
    // Also below the minimum version: the update screen shows what still waits to be sent, and
    // a stop under way is finished first.
    if (status.enrolled) {
      const [view, route, sync] = await Promise.all([
        this.run(() => this.backend.handoverView()),
        this.run(() => this.backend.route()),
        this.run(() => this.backend.syncStatus()),
      ]);
      if (view) this.state.view = view;
      if (route) this.state.route = route;
      if (sync) this.state.sync = sync;
      // Never downloaded yet (e.g. enrolled at start by the fleet build): fetch it now.
      if (route && route.fetched_at_ms === null) {
        this.render();
        await this.refreshRoute();
      }
    }
    this.render();
  }

  async refreshRoute(): Promise<Route | undefined> {
    this.refreshed = true;
    const route = await this.run(() => this.backend.refreshRoute());
    if (route) this.setRoute(route);
    await this.refreshStatus();
    return route;
  }

  async refreshStatus(): Promise<void> {
    try {
      this.setStatus(await this.backend.appStatus());
    } catch {
      /* keep what we had; the next command shows the error */
    }
  }

  dismissUpdate(): void {
    this.state.dismissedUpdate = this.state.status?.update?.latest ?? null;
    this.schedule();
  }

  async attempt<T>(fn: () => Promise<T>): Promise<{ ok: T } | { err: AppError }> {
    try {
      return { ok: await fn() };
    } catch (e) {
      const err = e instanceof BackendError ? e.toJSON() : normaliseError(e);
      if (await this.recover(err)) return { err };
      return { err };
    }
  }

  async run<T>(fn: () => Promise<T>): Promise<T | undefined> {
    const r = await this.attempt(fn);
    if ('ok' in r) {
      if (this.state.error) this.showError(null);
      return r.ok;
    }
    this.showError(r.err);
    return undefined;
  }

  /** Errors that change what the app is, whichever screen caused them. */
  private async recover(err: AppError): Promise<boolean> {
    switch (err.code) {
      case 'update_required':
      case 'not_enrolled':
      case 'device_revoked': {
        try {
          this.state.status = await this.backend.appStatus();
        } catch {
          /* keep what we had */
        }
        this.schedule();
        return true;
      }
      case 'wrong_step':
      case 'no_handover': {
        try {
          this.setView(await this.backend.handoverView());
        } catch {
          /* keep what we had */
        }
        return true;
      }
      default:
        return false;
    }
  }

  showError(err: AppError | null): void {
    this.state.error = err;
    if (err) {
      // The code's sentence in the courier's language; the core's English message goes unshown.
      replaceChildren(
        this.banner,
        h('span', null, errorText(err.code)),
        h('button', { class: 'banner-close', 'aria-label': t('common.close'), onclick: () => this.showError(null) }, '×'),
      );
      this.banner.dataset.code = err.code;
      this.banner.hidden = false;
    } else {
      this.banner.hidden = true;
      delete this.banner.dataset.code;
    }
    this.schedule();
  }

  setView(view: HandoverView, reason: ExceptionReason | null = null): void {
    const stepChanged = view.step !== this.state.view.step;
    this.state.view = view;
    if (stepChanged) this.state.doneReason = view.step === 'done' ? reason : null;
    if (stepChanged) this.state.overlay = null;
    if (view.step === 'idle') this.state.overlay = null;
    this.schedule();
  }
  setTab(tab: Tab): void {
    this.state.tab = tab;
    this.showError(null);
    this.schedule();
  }
  setOverlay(o: Overlay, reasonHint: ExceptionReason | null = null): void {
    this.state.overlay = o;
    this.state.reasonHint = reasonHint;
    this.schedule();
  }
  setStatus(s: AppStatus): void {
    this.state.status = s;
    this.schedule();
  }
  setRoute(r: Route): void {
    this.state.route = r;
    this.schedule();
  }
  setQueue(q: QueueItem[]): void {
    this.state.queue = q;
    this.schedule();
  }
  setSync(s: SyncStatus): void {
    this.state.sync = s;
    this.schedule();
  }
  rerender(): void {
    if (this.current) {
      this.current.screen.destroy?.();
      this.current = null;
    }
    this.render();
  }

  /** Batches several state changes in one task into one render. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.render();
    });
  }

  render(): void {
    const name = screenFor(this.state);
    if (this.current?.name === name) {
      this.current.screen.update?.(this);
      return;
    }
    this.current?.screen.destroy?.();
    const screen = this.screens[name](this);
    screen.el.dataset.screen = name;
    this.current = { name, screen };
    replaceChildren(this.main, screen.el);
    this.root.dataset.screen = name;
    screen.update?.(this);
    if (screen.focus) {
      screen.focus();
    } else {
      // Move focus to the new screen's heading so screen readers announce it.
      const heading = screen.el.querySelector<HTMLElement>('h1');
      if (heading) {
        heading.tabIndex = -1;
        heading.focus({ preventScroll: true });
      }
    }
  }

  get screenName(): ScreenName | null {
    return this.current?.name ?? null;
  }
}
