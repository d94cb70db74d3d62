// The hub: one multiplexed event stream (`GET /v1/events?topics=…`) carrying every
// topic that some view follows, fanned out to the subscribers of each topic. It runs in
// the SharedWorker that every tab of the origin shares (live_worker.ts), or in the page
// itself where SharedWorker is missing (live.ts).
//
// The one idea: positions make every change of the stream gap-free. A view reads its
// state (the answer carries the topic's position) and subscribes with that position;
// the hub keeps the last position it delivered of each topic. When the set of topics
// changes, or the stream breaks, the hub opens a new stream naming each topic with its
// position (`task:acme/t_1@e.41`): the server replays whatever came after it. The old
// stream is closed only once the new one says `ready`, and an event that both deliver is
// dropped the second time (per topic, an event older than the last delivered is a
// copy). A subscriber that joins a topic the stream already carries, with an older
// position than the stream's, gets what it missed from a short per-topic buffer, or a
// reset (read again) when the buffer no longer reaches back that far.

export interface LiveEvent {
  topic: string;
  position: string;
  name: string;
  at: number;
  payload: any;
}

// `live`: the stream is open; `offline`: it broke and a new one is being tried (the app
// says "reconnecting"); `signed_out`: the server refused the credential.
export type LiveState = 'connecting' | 'live' | 'offline' | 'signed_out';

export interface HubSub {
  topic: string;
  // The position of the last event this subscriber has (or of its read); null: none.
  last: string | null;
  event(e: LiveEvent): void;
  // Read the topic's state again: what came in between cannot be replayed.
  reset(reason: string): void;
}

// Whether position `a` ("<epoch>.<seq>") comes after `b`. Another epoch (a server that
// restarted) counts as after: streams only ever deliver the current one.
export function after(a: string, b: string | null | undefined): boolean {
  if (!b) return true;
  const [ea, sa] = a.split('.');
  const [eb, sb] = b.split('.');
  return ea !== eb || Number(sa) > Number(sb);
}

const kMaxTopics = 64;       // per stream (the server's bound)
const kBuffer = 200;         // events kept per topic for late subscribers
const kStall = 45000;        // no byte for this long (heartbeats come every 15 s): reconnect
const kRemoveDelay = 1000;   // a topic nobody follows leaves the stream after this

type StreamHandlers = {
  ready(s: Stream): void;
  frame(s: Stream, name: string, data: any): void;
  failed(s: Stream, status: number, message: string): void;
  ended(s: Stream): void;
};

// One open `GET /v1/events`: its topics, the positions it was opened with, and the
// Server-Sent Events read with fetch.
class Stream {
  ready = false;
  closed = false;
  lastByte = Date.now();
  private ctl = new AbortController();

  constructor(readonly topics: string[], readonly starts: Map<string, string | null>, private on: StreamHandlers) {
    const spec = topics.map((t) => encodeURIComponent(t) + (starts.get(t) ? '@' + encodeURIComponent(starts.get(t)!) : ''));
    void this.run('/v1/events?topics=' + spec.join(','));
  }

  has(topic: string) {
    return this.starts.has(topic);
  }

  close() {
    this.closed = true;
    this.ctl.abort();
  }

  private async run(url: string) {
    let res: Response;
    try {
      res = await fetch(url, { headers: { Accept: 'text/event-stream' }, credentials: 'same-origin', signal: this.ctl.signal });
    } catch {
      if (!this.closed) this.on.failed(this, 0, '');
      return;
    }
    if (!res.ok || !res.body) {
      let message = '';
      try {
        message = (await res.json())?.error?.message ?? '';
      } catch {
        message = '';
      }
      if (!this.closed) this.on.failed(this, res.status, message);
      return;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.closed) break;
        this.lastByte = Date.now();
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while (!this.closed && (end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let name = '';
          const data: string[] = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith('event:')) name = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
          }
          if (!name) continue;  // comments (heartbeats), retry hints
          let parsed: any = null;
          try {
            parsed = JSON.parse(data.join('\n'));
          } catch {
            parsed = null;
          }
          if (name === 'ready') {
            this.ready = true;
            this.on.ready(this);
          } else {
            this.on.frame(this, name, parsed);
          }
        }
      }
    } catch {
      // aborted or broken: both end the stream
    }
    if (this.closed) return;
    this.closed = true;
    if (this.ready) this.on.ended(this);
    else this.on.failed(this, 0, '');
  }
}

export class Hub {
  private subs = new Map<string, Set<HubSub>>();
  private pos = new Map<string, string>();  // the last position delivered, per topic
  private buf = new Map<string, { since: string | null; events: LiveEvent[] }>();
  private refused = new Map<string, string>();  // topics the server refused, and why
  private live: Stream | null = null;           // the stream events come from
  private opening: Stream | null = null;        // its successor, until `ready`
  private timer: ReturnType<typeof setTimeout> | undefined;
  private due = 0;
  private delay = 500;
  private state: LiveState = 'connecting';
  private watchers = new Set<(s: LiveState) => void>();
  private handlers: StreamHandlers = {
    ready: (s) => this.onReady(s),
    frame: (s, name, data) => this.onFrame(s, name, data),
    failed: (s, status, message) => this.onFailed(s, status, message),
    ended: (s) => this.onEnded(s),
  };

  constructor() {
    setInterval(() => {
      for (const s of [this.live, this.opening])
        if (s && !s.closed && Date.now() - s.lastByte > kStall) {
          s.close();
          if (s === this.live) this.onEnded(s);
          else this.onFailed(s, 0, '');
        }
    }, 10000);
  }

  // Calls `cb` with the state now and at every change; returns the way to stop.
  watch(cb: (s: LiveState) => void): () => void {
    this.watchers.add(cb);
    cb(this.state);
    return () => this.watchers.delete(cb);
  }

  add(sub: HubSub) {
    let set = this.subs.get(sub.topic);
    if (!set) this.subs.set(sub.topic, (set = new Set()));
    set.add(sub);
    if (this.state === 'signed_out') this.setState('connecting');  // signed in again
    const refused = this.refused.get(sub.topic);
    if (refused !== undefined) {
      queueMicrotask(() => set!.has(sub) && sub.reset(refused));
      return;
    }
    if (this.live?.has(sub.topic)) this.catchUp(sub);
    else this.schedule(0);  // a topic the stream lacks: a new stream
  }

  // After `signed_out`, once the page knows it is signed in again (another tab signed
  // in): follow again with the new credential.
  resume() {
    if (this.state !== 'signed_out') return;
    this.setState('connecting');
    this.schedule(0);
  }

  remove(sub: HubSub) {
    const set = this.subs.get(sub.topic);
    if (!set?.delete(sub) || set.size) return;
    this.subs.delete(sub.topic);
    this.refused.delete(sub.topic);
    this.schedule(kRemoveDelay);
  }

  // A subscriber joining a topic the live stream carries: give it what it missed.
  private catchUp(sub: HubSub) {
    const at = this.pos.get(sub.topic) ?? null;
    if (sub.last === null) {
      // It has read nothing to continue from: it reads now, live events follow.
      sub.last = at;
      queueMicrotask(() => this.subs.get(sub.topic)?.has(sub) && sub.reset('subscribed without a position'));
      return;
    }
    if (at === null || !after(at, sub.last)) return;  // nothing delivered after its read
    const b = this.buf.get(sub.topic);
    if (b && b.since !== null && !after(b.since, sub.last)) {
      for (const e of b.events) this.deliver(sub, e);
    } else {
      sub.last = at;
      queueMicrotask(() => this.subs.get(sub.topic)?.has(sub) && sub.reset('missed events are no longer buffered'));
    }
  }

  private deliver(sub: HubSub, e: LiveEvent) {
    if (sub.last !== null && !after(e.position, sub.last)) return;
    sub.last = e.position;
    sub.event(e);
  }

  private setState(s: LiveState) {
    if (s === this.state) return;
    this.state = s;
    for (const cb of this.watchers) cb(s);
  }

  // Runs `rebuild` in `ms` (or sooner, when already due sooner).
  private schedule(ms: number) {
    const due = Date.now() + ms;
    if (this.timer !== undefined && this.due <= due) return;
    clearTimeout(this.timer);
    this.due = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.rebuild();
    }, ms);
  }

  private wanted(): string[] {
    const topics = [...this.subs.keys()].filter((t) => !this.refused.has(t));
    for (const t of topics.splice(kMaxTopics)) {
      this.refused.set(t, `more than ${kMaxTopics} live topics at once: this one is not followed live`);
      for (const sub of this.subs.get(t) ?? []) sub.reset(this.refused.get(t)!);
    }
    return topics;
  }

  // Opens a stream for the topics wanted now, unless the live or the opening one is it.
  private rebuild() {
    if (this.state === 'signed_out') return;
    const topics = this.wanted();
    const same = (s: Stream | null) => !!s && s.topics.length === topics.length && topics.every((t) => s.has(t));
    if (!topics.length) {
      this.live?.close();
      this.opening?.close();
      this.live = this.opening = null;
      this.pos.clear();
      this.buf.clear();
      this.setState('connecting');
      return;
    }
    if (same(this.opening)) return;
    this.opening?.close();
    this.opening = null;
    if (same(this.live)) return;
    const starts = new Map<string, string | null>();
    for (const t of topics) {
      // Where the stream is, or else the oldest read of the topic's subscribers.
      let start: string | null = this.pos.get(t) ?? null;
      if (!start)
        for (const sub of this.subs.get(t) ?? [])
          if (sub.last !== null && (start === null || after(start, sub.last))) start = sub.last;
      starts.set(t, start);
    }
    this.opening = new Stream(topics, starts, this.handlers);
  }

  private onReady(s: Stream) {
    if (s !== this.opening) return s.close();
    const old = this.live;
    this.live = s;
    this.opening = null;
    old?.close();
    this.delay = 500;
    for (const t of [...this.pos.keys()]) if (!s.has(t)) this.pos.delete(t);
    for (const t of [...this.buf.keys()]) if (!s.has(t)) this.buf.delete(t);
    for (const t of s.topics) {
      const start = s.starts.get(t) ?? null;
      if (!this.buf.has(t) || start === null) this.buf.set(t, { since: start, events: [] });
      // Opened without a position and not carried by the stream it replaces: events
      // before `ready` may be missing, so its subscribers read now. Otherwise each gets
      // what it lacks between its read and where the stream starts.
      const covered = start !== null || !!old?.has(t);
      for (const sub of this.subs.get(t) ?? []) {
        if (covered && sub.last === null && old?.has(t)) continue;  // live all along
        if (covered) this.catchUp(sub);
        else queueMicrotask(() => this.subs.get(t)?.has(sub) && sub.reset('the stream opened'));
      }
    }
    this.setState('live');
    this.schedule(0);  // the wanted topics may have changed meanwhile
  }

  private onFrame(s: Stream, name: string, data: any) {
    if (s !== this.live) return;  // a stream being replaced, after its successor took over
    const topic: string | undefined = data?.topic;
    if (name === 'signed_out') {
      this.live?.close();
      this.opening?.close();
      this.live = this.opening = null;
      this.setState('signed_out');
      return;
    }
    if (!topic) return;
    if (name === 'reset') {
      this.pos.delete(topic);
      this.buf.set(topic, { since: null, events: [] });
      for (const sub of this.subs.get(topic) ?? []) {
        sub.last = null;
        sub.reset(data.reason ?? 'reset');
      }
      return;
    }
    if (name === 'closed') {
      const reason = data.reason ?? 'you can no longer follow this';
      this.refused.set(topic, reason);
      for (const sub of this.subs.get(topic) ?? []) sub.reset(reason);
      this.schedule(0);
      return;
    }
    const e = data as LiveEvent;
    if (typeof e.position !== 'string') return;
    const at = this.pos.get(topic);
    if (at && !after(e.position, at)) return;  // delivered already (by the stream before)
    this.pos.set(topic, e.position);
    let b = this.buf.get(topic);
    if (!b) this.buf.set(topic, (b = { since: null, events: [] }));
    if (b.since === null && !b.events.length) b.since = e.position;
    b.events.push(e);
    if (b.events.length > kBuffer) b.since = b.events.shift()!.position;
    for (const sub of [...(this.subs.get(topic) ?? [])]) this.deliver(sub, e);
  }

  private onFailed(s: Stream, status: number, message: string) {
    if (s !== this.opening) return;
    this.opening = null;
    if (status === 401 || status === 403) {
      this.live?.close();
      this.live = null;
      this.setState('signed_out');
      return;
    }
    // A topic the server refuses names itself (400: `topic "x"`), or its org (404:
    // `no organization "acme"`, one the caller is not in): those leave the stream.
    const org = (t: string) => t.slice(t.indexOf(':') + 1).split('/')[0];
    const bad = status === 400 || status === 404
      ? s.topics.filter((t) => message.includes(`"${t}"`) || (t.includes(':') && message.includes(`"${org(t)}"`)))
      : [];
    if (bad.length) {
      for (const t of bad) {
        this.refused.set(t, message);
        for (const sub of this.subs.get(t) ?? []) sub.reset(message);
      }
      this.schedule(0);
      return;
    }
    if (!this.live) this.setState('offline');
    this.schedule(this.delay);
    this.delay = Math.min(this.delay * 2, 15000);
  }

  private onEnded(s: Stream) {
    if (s !== this.live) return;
    this.live = null;
    if (this.opening) return;  // its successor is on its way
    this.setState('offline');
    this.schedule(this.delay);
    this.delay = Math.min(this.delay * 2, 15000);
  }
}
