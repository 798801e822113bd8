// The customer's page: refreshes its live part ("when is it coming", the window, "n stops
// before yours", too late to change) from /c/{ref}/live.json every minute while the page is
// visible, without a reload. The page works without it; this only keeps it current.

interface Live {
  when: string;
  window: string | null;
  before: string | null;
  closed: string | null;
  delivered: boolean;
}

const REFRESH_MS = 60_000;
const section = document.querySelector<HTMLElement>('[data-live]');

/** Sets the text of the live line `name`, making it when the page had none yet. */
function line(name: string, text: string | null, strong = false): void {
  if (!section) return;
  let el = section.querySelector<HTMLElement>(`[data-live-${name}]`);
  if (text === null) {
    el?.remove();
    return;
  }
  if (!el) {
    el = document.createElement('p');
    el.setAttribute(`data-live-${name}`, '');
    if (name === 'before') el.setAttribute('aria-live', 'polite');
    section.append(el);
  }
  if (strong) {
    const b = document.createElement('strong');
    b.textContent = text;
    el.replaceChildren(b);
  } else {
    el.textContent = text;
  }
}

async function refresh(url: string): Promise<void> {
  if (document.visibilityState !== 'visible') return;
  let live: Live;
  try {
    const r = await fetch(url, { credentials: 'omit', cache: 'no-store' });
    if (!r.ok) return;
    live = (await r.json()) as Live;
  } catch {
    return; // offline for a moment: the page keeps what it shows and tries again
  }
  if (live.delivered) {
    window.location.reload();
    return;
  }
  line('when', live.when);
  line('window', live.window, true);
  line('before', live.before);
  if (live.closed !== null) {
    for (const f of document.querySelectorAll<HTMLElement>('fieldset, form[data-choice]')) f.remove();
    let closed = document.querySelector<HTMLElement>('[data-closed]');
    if (!closed) {
      closed = document.createElement('p');
      closed.className = 'warn';
      closed.setAttribute('data-closed', '');
      document.querySelector('[data-current]')?.after(closed);
    }
    closed.textContent = live.closed;
  }
}

const url = section?.dataset.live;
if (url) {
  window.setInterval(() => void refresh(url), REFRESH_MS);
  document.addEventListener('visibilitychange', () => void refresh(url));
}
