// Small pieces every page uses: routing (history API), error words, counts with the
// right grammar, relative times, loading/empty/error states, and a dialog that takes
// focus and gives it back.
import { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from './api';

export type Json = any;

// --- Routing ------------------------------------------------------------------------

const routeWatchers = new Set<() => void>();

// Goes to `to` (a path, maybe with a query) in the app, without a page load.
export function go(to: string, replace = false) {
  if (to !== location.pathname + location.search) history[replace ? 'replaceState' : 'pushState'](null, '', to);
  for (const cb of routeWatchers) cb();
}

addEventListener('popstate', () => {
  for (const cb of routeWatchers) cb();
});

// The current path and query, re-rendering on every change.
export function useRoute(): { path: string; query: URLSearchParams } {
  const [, tick] = useState(0);
  useEffect(() => {
    const cb = () => tick((n) => n + 1);
    routeWatchers.add(cb);
    return () => {
      routeWatchers.delete(cb);
    };
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

// A link inside the app: a real <a href> (open in a new tab works) that routes in place.
export function Link({ to, class: cls, children, title, current }:
  { to: string; class?: string; children: ComponentChildren; title?: string; current?: boolean }) {
  return (
    <a href={to} class={cls} title={title} aria-current={current ? 'page' : undefined}
       onClick={(e) => {
         if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
         e.preventDefault();
         go(to);
       }}>{children}</a>
  );
}

// --- Words ----------------------------------------------------------------------------

export function message(e: unknown): string {
  return e instanceof ApiError || e instanceof Error ? e.message : String(e);
}

// "1 task", "2 tasks".
export function plural(n: number, one: string, many = one + 's'): string {
  return `${n} ${n === 1 ? one : many}`;
}

// "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago", then the date.
export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} h ago`;
  const d = Math.round(h / 24);
  if (d === 1) return 'yesterday';
  if (d < 14) return `${d} days ago`;
  return new Date(ms).toLocaleDateString();
}

export function when(ms: number | null | undefined): string {
  return ms ? new Date(ms).toLocaleString() : '';
}

// "850 ms", "4.2 s", "3 min 5 s".
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60000);
  return `${m} min ${Math.round((ms % 60000) / 1000)} s`;
}

// Re-renders every `ms`, so that relative times stay true.
export function useNow(ms = 30000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

// A relative time; the exact one on hover.
export function Ago({ at }: { at: number | null | undefined }) {
  const now = useNow();
  if (!at) return null;
  return <time dateTime={new Date(at).toISOString()} title={when(at)}>{ago(at, now)}</time>;
}

// --- Loading, empty, error ----------------------------------------------------------------

// Loads `path` (again when `deps` change); the third value runs it again.
export function useLoad(path: string | null, deps: unknown[] = []): [Json | null, string, () => void] {
  const [data, setData] = useState<Json | null>(null);
  const [error, setError] = useState('');
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    let gone = false;
    api('GET', path)
      .then((d) => {
        if (gone) return;
        setData(d);
        setError('');
      })
      .catch((e) => !gone && setError(message(e)));
    return () => {
      gone = true;
    };
  }, [path, tick, ...deps]);
  return [data, error, () => setTick((t) => t + 1)];
}

// Shows the error, "Loading …", or `empty` words, or else the children.
export function State({ data, error, empty, what = '', children }:
  { data: Json | null; error: string; empty: string | false; what?: string; children: ComponentChildren }) {
  if (error && !data) return <p class="error" role="alert">{error}</p>;
  if (!data) return <p class="muted loading">Loading{what ? ' ' + what : ''}…</p>;
  if (empty) return <p class="muted empty-state">{empty}</p>;
  return <>{error && <p class="error" role="alert">{error}</p>}{children}</>;
}

// --- Dialogs ----------------------------------------------------------------------------

const focusable = 'button:not([disabled]), [href], input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

// A modal dialog: focus moves into it (its [autofocus] element, or the first control),
// Tab stays inside, Escape closes it, and focus returns where it was.
export function Dialog({ title, onClose, children, onSubmit }:
  { title: string; onClose: () => void; children: ComponentChildren; onSubmit?: (e: Event) => void }) {
  const box = useRef<HTMLFormElement>(null);
  // Before the first paint: a key typed right after opening lands in the dialog.
  useLayoutEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const el = box.current!;
    (el.querySelector<HTMLElement>('[autofocus]') ?? el.querySelector<HTMLElement>(focusable))?.focus();
    const key = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        onClose();
      } else if (e.key === 'Tab') {
        const items = [...el.querySelectorAll<HTMLElement>(focusable)];
        if (!items.length) return;
        const first = items[0], last = items[items.length - 1];
        if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
        else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
      }
    };
    el.addEventListener('keydown', key);
    return () => {
      el.removeEventListener('keydown', key);
      before?.focus?.();
    };
  }, []);
  return (
    <div class="dialog-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <form ref={box} class="dialog" role="dialog" aria-modal="true" aria-label={title} onSubmit={(e) => { e.preventDefault(); onSubmit?.(e); }}
            onKeyDown={(e) => {
              // ⌘/Ctrl+Enter submits from anywhere in the dialog.
              if (e.key === 'Enter' && (e.metaKey || e.ctrlKey)) {
                e.preventDefault();
                box.current?.requestSubmit();
              }
            }}>
        <h2>{title}</h2>
        {children}
      </form>
    </div>
  );
}

// Whether a key press happened while typing (shortcuts then stay out of the way).
export function typing(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null;
  return !!t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName));
}
