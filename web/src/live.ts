// Live updates for the views: `subscribe(topic, position, onEvent, onReset)`. A view
// reads its state (the answer carries `position`, api.ts), then subscribes with it: it
// gets every event of the topic after that position, in order, once; `onReset` means
// "read your state again" (what came in between cannot be replayed: the server
// restarted, the client fell behind, or the view subscribed without a position).
//
// Every tab of the origin shares one stream, owned by a SharedWorker (live_worker.ts);
// where SharedWorker is missing (or its script fails), the page runs the hub itself:
// one stream per tab. Topics: `org:{org}`, `github:{org}`, `task:{org}/{task}`,
// `session:{org}/{task}/{session}`, `feed` (docs/web.md).
import { useEffect, useState } from 'preact/hooks';
import { after, Hub, HubSub, LiveEvent, LiveState } from './live_hub';

export type { LiveEvent, LiveState };

// The older of two read positions: following from it misses neither read's events.
export function older(a: string | null | undefined, b: string | null | undefined): string | null {
  if (!a || !b) return a || b || null;
  return after(a, b) ? b : a;
}

interface Sub {
  id: number;
  topic: string;
  last: string | null;
  onEvent: (e: LiveEvent) => void;
  onReset: (reason: string) => void;
}

interface Backend {
  shared: boolean;
  add(s: Sub): void;
  remove(s: Sub): void;
  resume(): void;
}

const subs = new Map<number, Sub>();
let nextId = 1;
let state: LiveState = 'connecting';
const watchers = new Set<(s: LiveState) => void>();
let backend: Backend | null = null;

function setState(s: LiveState) {
  if (s === state) return;
  state = s;
  for (const cb of watchers) cb(s);
}

function event(s: Sub | undefined, e: LiveEvent) {
  if (!s || (s.last !== null && !after(e.position, s.last))) return;
  s.last = e.position;
  s.onEvent(e);
}

function reset(s: Sub | undefined, reason: string) {
  if (!s) return;
  s.last = null;
  s.onReset(reason);
}

function inPage(): Backend {
  const hub = new Hub();
  hub.watch(setState);
  const mine = new Map<number, HubSub>();
  return {
    shared: false,
    add(s) {
      const sub: HubSub = { topic: s.topic, last: s.last, event: (e) => event(s, e), reset: (r) => reset(s, r) };
      mine.set(s.id, sub);
      hub.add(sub);
    },
    remove(s) {
      const sub = mine.get(s.id);
      if (!sub) return;
      mine.delete(s.id);
      hub.remove(sub);
    },
    resume: () => hub.resume(),
  };
}

function shared(): Backend | null {
  if (typeof SharedWorker === 'undefined') return null;
  let worker: SharedWorker;
  try {
    worker = new SharedWorker('/assets/live-worker.js', { name: 'hearth-live-1' });
  } catch {
    return null;
  }
  const port = worker.port;
  const send = (s: Sub) => port.postMessage({ op: 'sub', id: s.id, topic: s.topic, last: s.last });
  port.onmessage = (m) => {
    const d = m.data;
    if (d?.t === 'ev') event(subs.get(d.id), d.e);
    else if (d?.t === 'reset') reset(subs.get(d.id), d.reason);
    else if (d?.t === 'state') setState(d.s);
  };
  // The worker's script could not load: this tab runs its own stream.
  worker.onerror = () => {
    backend = inPage();
    document.documentElement.dataset.live = 'page';
    for (const s of subs.values()) backend.add(s);
  };
  port.start();
  addEventListener('pagehide', () => port.postMessage({ op: 'bye' }));
  addEventListener('pageshow', (e) => {
    if ((e as PageTransitionEvent).persisted) for (const s of subs.values()) send(s);
  });
  return {
    shared: true,
    add: send,
    remove: (s) => port.postMessage({ op: 'unsub', id: s.id }),
    resume: () => port.postMessage({ op: 'resume' }),
  };
}

// Follows `topic` from `position` (the position of the read the view shows; null: the
// view reads when told to by onReset). Returns the way to stop.
export function subscribe(topic: string, position: string | null | undefined,
                          onEvent: (e: LiveEvent) => void, onReset: (reason: string) => void): () => void {
  if (!backend) {
    backend = shared() ?? inPage();
    // Which one this tab uses, for the browser test (and anyone curious).
    document.documentElement.dataset.live = backend.shared ? 'shared' : 'page';
  }
  const s: Sub = { id: nextId++, topic, last: position ?? null, onEvent, onReset };
  subs.set(s.id, s);
  backend.add(s);
  return () => {
    if (!subs.delete(s.id)) return;
    backend!.remove(s);
  };
}

// After `signed_out`: the page found it is signed in after all (another tab signed in
// again), so live updates resume with the current credential.
export function resume() {
  backend?.resume();
}

// The state of live updates, for the app's one "reconnecting" banner.
export function useLiveState(): LiveState {
  const [s, set] = useState(state);
  useEffect(() => {
    watchers.add(set);
    set(state);
    return () => {
      watchers.delete(set);
    };
  }, []);
  return s;
}

// The usual shape of a live view: read its state, then follow `topic` from the read's
// position; on a reset, read again. While a read is under way, events wait, and those
// the read already reflects (at or before its position) are dropped: `onRead` may simply
// replace the view's state, `onEvent` applies one change to it. Reads never overlap (a
// reset during a read reads once more after it). Returns the way to stop.
export function follow<T extends { position?: string }>(
  topic: string,
  read: () => Promise<T>,
  onRead: (data: T) => void,
  onEvent: (e: LiveEvent) => void,
  onError: (e: unknown) => void,
): () => void {
  let gone = false;
  let loading: Promise<string | null> | null = null;
  let again = false;
  let waiting: LiveEvent[] = [];
  let stop = () => {};
  const once = async (): Promise<string | null> => {
    let position: string | null = null;
    try {
      const data = await read();
      if (gone) return null;
      position = data?.position ?? null;
      onRead(data);
    } catch (e) {
      if (!gone) onError(e);
    }
    const held = waiting;
    waiting = [];
    if (!gone) for (const e of held) if (!position || after(e.position, position)) onEvent(e);
    return position;
  };
  const load = (): Promise<string | null> => {
    if (loading) {
      again = true;
      return loading;
    }
    loading = (async () => {
      let position: string | null = null;
      do {
        again = false;
        position = await once();
      } while (again && !gone);
      loading = null;
      return position;
    })();
    return loading;
  };
  void load().then((position) => {
    if (gone) return;
    stop = subscribe(topic, position, (e) => (loading ? waiting.push(e) : onEvent(e)), () => void load());
  });
  return () => {
    gone = true;
    stop();
  };
}
