// A session's transcript and its composer. The transcript is a list of events by `seq`
// (docs/http-api.md, Agent sessions), folded into what a person reads: a message per
// run of chunks, one card per tool call whose status and content update in place
// (`tool_call` then its `tool_call_update`s), one plan per turn that updates, thoughts
// collapsed, a sentence where a turn failed or stopped early, and the pending permission
// requests as cards to answer. Events Hearth records for itself (`session_created`,
// `agent_started`, usage and mode updates) show nothing.
//
// Live through `session:{org}/{task}/{session}`: the session and its transcript are read
// at once, the stream follows from the older of their positions, and events continue by
// seq (duplicates dropped, a gap read from the transcript).
import { ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, enc } from './api';
import { older, subscribe } from './live';
import { Markdown } from './markdown';
import { duration, Json, message, when } from './ui';

// --- From events to items -------------------------------------------------------------------

type Item =
  | { type: 'user'; key: string; at: number; by: string; text: string }
  | { type: 'agent' | 'thought'; key: string; at: number; turn: number; text: string }
  | { type: 'tool'; key: string; at: number; call: Json; permission: Json | null }
  | { type: 'plan'; key: string; at: number; entries: Json[] }
  | { type: 'note'; key: string; at: number; text: string; tone: 'muted' | 'error' }
  | { type: 'turn'; key: string; at: number; turn: number; took: number | null; stop: string };

const kStopWords: Record<string, string> = {
  max_tokens: 'The agent stopped: it reached its token limit.',
  max_turn_requests: 'The agent stopped: it reached its limit of requests for one turn.',
  refusal: 'The agent refused to go on.',
};

// ACP: fields present in an update replace those of the call (arrays whole).
function mergeCall(call: Json, update: Json): Json {
  const next = { ...call };
  for (const [k, v] of Object.entries(update)) if (v !== undefined) next[k] = v;
  return next;
}

export function fold(events: Json[]): { items: Item[]; pending: Json[] } {
  const items: Item[] = [];
  const tools = new Map<string, Extract<Item, { type: 'tool' }>>();
  const plans = new Map<number, Extract<Item, { type: 'plan' }>>();
  const asked = new Map<string, Json>();  // permission id → request, until resolved
  const started = new Map<number, number>();
  const tool = (id: string, at: number, fields: Json) => {
    let t = tools.get(id);
    if (!t) {
      t = { type: 'tool', key: `tool-${id}`, at, call: { toolCallId: id }, permission: null };
      tools.set(id, t);
      items.push(t);
    }
    t.call = mergeCall(t.call, fields);
    return t;
  };
  for (const e of events) {
    const d = e.data ?? {};
    if (!started.has(e.turn)) started.set(e.turn, e.at);
    const last = items[items.length - 1];
    switch (e.kind) {
      case 'user_message':
        started.set(e.turn, e.at);
        items.push({ type: 'user', key: `s${e.seq}`, at: e.at, by: d.by ?? '', text: d.text ?? '' });
        break;
      case 'agent_message':
      case 'agent_thought': {
        const type = e.kind === 'agent_message' ? 'agent' : 'thought';
        if (last && last.type === type && last.turn === e.turn) items[items.length - 1] = { ...last, text: last.text + (d.text ?? '') };
        else items.push({ type, key: `s${e.seq}`, at: e.at, turn: e.turn, text: d.text ?? '' });
        break;
      }
      case 'tool_call':
      case 'tool_call_update':
        if (d.toolCallId) tool(d.toolCallId, e.at, d);
        break;
      case 'plan': {
        const p = plans.get(e.turn);
        if (p) p.entries = d.entries ?? [];
        else {
          const item = { type: 'plan' as const, key: `plan-${e.turn}`, at: e.at, entries: d.entries ?? [] };
          plans.set(e.turn, item);
          items.push(item);
        }
        break;
      }
      case 'permission_requested': {
        const { status, ...call } = d.tool_call ?? {};
        const id = call.toolCallId ?? `permission-${d.permission_id}`;
        // The request may be the first word of a call (codex asks first): it waits.
        const t = tool(id, e.at, tools.has(id) ? call : { ...call, status: status ?? 'pending' });
        t.permission = { ...d, status: 'pending' };
        asked.set(d.permission_id, { ...d, turn: e.turn });
        break;
      }
      case 'permission_resolved': {
        asked.delete(d.permission_id);
        for (const t of tools.values()) if (t.permission?.permission_id === d.permission_id) t.permission = { ...t.permission, ...d };
        break;
      }
      case 'turn_ended': {
        const s = started.get(e.turn);
        items.push({ type: 'turn', key: `s${e.seq}`, at: e.at, turn: e.turn, took: s ? e.at - s : null, stop: d.stop_reason ?? '' });
        if (d.stop_reason === 'cancelled')
          items.push({ type: 'note', key: `n${e.seq}`, at: e.at, tone: 'muted', text: d.cancelled_by ? `${d.cancelled_by} stopped the agent.` : 'The agent was stopped.' });
        else if (kStopWords[d.stop_reason])
          items.push({ type: 'note', key: `n${e.seq}`, at: e.at, tone: 'error', text: kStopWords[d.stop_reason] });
        break;
      }
      case 'turn_failed': {
        const s = started.get(e.turn);
        items.push({ type: 'note', key: `s${e.seq}`, at: e.at, tone: 'error', text: `This turn failed: ${d.error ?? 'no reason given'}` });
        items.push({ type: 'turn', key: `t${e.seq}`, at: e.at, turn: e.turn, took: s ? e.at - s : null, stop: 'failed' });
        break;
      }
      case 'turn_interrupted':
        items.push({ type: 'note', key: `s${e.seq}`, at: e.at, tone: 'error', text: 'The server stopped during this turn; the next message starts a fresh agent.' });
        break;
      case 'cancel_requested':
        items.push({ type: 'note', key: `s${e.seq}`, at: e.at, tone: 'muted', text: `${d.by || 'Someone'} asked the agent to stop.` });
        break;
      case 'agent_restart_requested':
        items.push({ type: 'note', key: `s${e.seq}`, at: e.at, tone: 'muted', text: `${d.by || 'Someone'} restarted the agent: the next message starts it afresh, with the org's current secrets.` });
        break;
      case 'network_refused':
        items.push({ type: 'note', key: `s${e.seq}`, at: e.at, tone: 'error', text: d.message || `Hearth's egress proxy refused a connection to ${d.host}: ${d.reason}.` });
        break;
      case 'session_closed':
        items.push({ type: 'note', key: `s${e.seq}`, at: e.at, tone: 'muted', text: d.by ? `${d.by} closed this session.` : 'This session was closed.' });
        break;
      case 'notice':
        if (d.title) items.push({ type: 'note', key: `s${e.seq}`, at: e.at, tone: d.severity === 'error' ? 'error' : 'muted', text: d.description ? `${d.title}: ${d.description}` : d.title });
        break;
      default:
        break;  // session_created, agent_started, usage, modes, commands: nothing to read
    }
  }
  // Requests a turn end settled without a resolution event are not pending any more.
  const ended = new Set(events.filter((e) => e.kind.startsWith('turn_')).map((e) => e.turn));
  return { items, pending: [...asked.values()].filter((p) => !ended.has(p.turn)) };
}

// --- Tool calls ---------------------------------------------------------------------------

// Paths in the sandbox read relative to its work dir.
function rel(path: string | undefined): string {
  return (path ?? '').replace(/^\/workspace\//, '');
}

function texts(content: Json[] | undefined): string[] {
  return (content ?? []).filter((c) => c?.type === 'content' && c.content?.type === 'text').map((c) => c.content.text as string);
}

// A line diff of two texts: lines kept (' '), removed ('-') and added ('+'). Exact (LCS)
// for what differs between the common head and tail when that is small enough;
// otherwise all old lines out, all new lines in.
export function lineDiff(a: string, b: string): [string, string][] {
  const x = a.split('\n'), y = b.split('\n');
  let head = 0;
  while (head < x.length && head < y.length && x[head] === y[head]) head++;
  let tail = 0;
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++;
  const xs = x.slice(head, x.length - tail), ys = y.slice(head, y.length - tail);
  const out: [string, string][] = x.slice(0, head).map((l) => [' ', l]);
  if (xs.length * ys.length <= 250000) {
    const n = xs.length, m = ys.length;
    const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--)
      for (let j = m - 1; j >= 0; j--) L[i][j] = xs[i] === ys[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    let i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && xs[i] === ys[j]) { out.push([' ', xs[i]]); i++; j++; }
      else if (j < m && (i === n || L[i][j + 1] >= L[i + 1][j])) out.push(['+', ys[j++]]);
      else out.push(['-', xs[i++]]);
    }
  } else {
    for (const l of xs) out.push(['-', l]);
    for (const l of ys) out.push(['+', l]);
  }
  for (const l of x.slice(x.length - tail)) out.push([' ', l]);
  return out;
}

function DiffBlock({ path, oldText, newText }: { path: string; oldText: string | null; newText: string }) {
  const lines = oldText === null || oldText === undefined ? newText.split('\n').map((l): [string, string] => ['+', l]) : lineDiff(oldText, newText);
  // Three lines of context around each change; the rest folds to "⋯".
  const near = lines.map((_, i) => lines.slice(Math.max(0, i - 3), i + 4).some(([t]) => t !== ' '));
  const shown: ComponentChildren[] = [];
  let skipped = false;
  lines.forEach(([t, l], i) => {
    if (!near[i]) {
      if (!skipped) shown.push(<span class="fold">⋯{'\n'}</span>);
      skipped = true;
      return;
    }
    skipped = false;
    shown.push(<span class={t === '+' ? 'add' : t === '-' ? 'del' : ''}>{t}{l}{'\n'}</span>);
  });
  return (
    <div class="tool-diff">
      <p class="tool-path"><code>{rel(path)}</code>{oldText === null || oldText === undefined ? <small> new file</small> : null}</p>
      <pre class="patch">{shown}</pre>
    </div>
  );
}

const kToolStatus: Record<string, string> = { pending: 'waiting', in_progress: 'running', completed: 'done', failed: 'failed' };

function ToolCard({ call, permission }: { call: Json; permission: Json | null }) {
  const status: string = call.status ?? 'pending';
  const kind: string = call.kind ?? 'other';
  const out = texts(call.content);
  const diffs = (call.content ?? []).filter((c: Json) => c?.type === 'diff');
  const terminal = (call.content ?? []).some((c: Json) => c?.type === 'terminal');
  const path = call.locations?.[0]?.path ?? call.rawInput?.path ?? call.rawInput?.file_path;
  const command = call.rawInput?.command ? [call.rawInput.command, ...(call.rawInput.args ?? [])].join(' ') : null;
  const title = (call.title ?? kind).replace(/\/workspace\//g, '');
  let body: ComponentChildren = null;
  if (kind === 'execute' || terminal || command) {
    body = (out.length || status === 'in_progress' || command) ? (
      <pre class="terminal">{command && <span class="cmd">$ {command}{'\n'}</span>}{out.join('') || (status === 'in_progress' ? 'running…' : status === 'completed' ? '(no output)' : '')}</pre>
    ) : null;
  } else if (diffs.length) {
    body = <>{diffs.map((c: Json) => <DiffBlock path={c.path} oldText={c.oldText ?? null} newText={c.newText ?? ''} />)}
      {status === 'failed' && out.length > 0 && <p class="error">{out.join('\n')}</p>}</>;
  } else if (kind === 'read') {
    const text = out.join('\n').replace(/\n$/, '');
    const n = text.split('\n').length;
    body = <>{path && !title.includes(rel(path)) && <p class="tool-path"><code>{rel(path)}</code></p>}
      {text && (status === 'failed' ? <p class="error">{text}</p>
        : <details><summary>{n} line{n === 1 ? '' : 's'} read</summary><pre>{text}</pre></details>)}</>;
  } else if (out.length) {
    body = status === 'failed' ? <p class="error">{out.join('\n')}</p> : <Markdown text={out.join('\n')} />;
  }
  const decided = permission && permission.status !== 'pending'
    ? { allowed: 'allowed', rejected: 'rejected', timed_out: 'timed out: rejected', cancelled: 'cancelled' }[permission.status as string] ?? permission.status
    : null;
  const by: string = permission?.answered_by ?? permission?.by ?? '';
  const policy = by.match(/^policy \((.*)\)$/);  // answered by an allow-always rule
  return (
    <div class={`tool-card st-${status}`} data-tool-call={call.toolCallId} data-status={status}>
      <div class="tool-head">
        <span class="tool-title">{title}</span>
        <span class={`tool-status st-${status}`}>{permission?.status === 'pending' ? 'needs your answer' : kToolStatus[status] ?? status}</span>
      </div>
      {body && <div class="tool-body">{body}</div>}
      {decided && <p class="tool-permission muted small">{policy
        ? `Allowed without asking: ${policy[1]}.`
        : `Permission ${decided}${by ? ` by ${by}` : ''}${permission.decision ? ` (${permission.decision.replace('_', ' ')})` : ''}.`}</p>}
    </div>
  );
}

function Plan({ entries }: { entries: Json[] }) {
  const done = entries.filter((p) => p.status === 'completed').length;
  return (
    <div class="plan">
      <p class="plan-title">Plan <small class="muted">{done} of {entries.length} done</small></p>
      <ul>
        {entries.map((p) => (
          <li class={`pl-${p.status}`}>
            <span class="check" aria-hidden="true">{p.status === 'completed' ? '✓' : p.status === 'in_progress' ? '▸' : '○'}</span>
            <span class="visually-hidden">{p.status === 'completed' ? 'done: ' : p.status === 'in_progress' ? 'in progress: ' : 'to do: '}</span>
            {p.content}
          </li>
        ))}
      </ul>
    </div>
  );
}

function Stamp({ at, extra }: { at: number; extra?: string }) {
  return <time class="stamp" dateTime={new Date(at).toISOString()}>{new Date(at).toLocaleTimeString()}{extra ? ` · ${extra}` : ''}</time>;
}

function ItemView({ item }: { item: Item }) {
  switch (item.type) {
    case 'user':
      return <div class="user"><p class="who">{item.by} <Stamp at={item.at} /></p><p class="said">{item.text}</p></div>;
    case 'agent':
      return <div class="agent"><Stamp at={item.at} /><Markdown text={item.text} /></div>;
    case 'thought': {
      const first = item.text.split('\n')[0].replace(/[*_`#]/g, '');
      return (
        <details class="thought">
          <summary>Thought <span class="preview">{first.length > 80 ? first.slice(0, 80) + '…' : first}</span></summary>
          <Markdown text={item.text} />
        </details>
      );
    }
    case 'tool':
      return <ToolCard call={item.call} permission={item.permission} />;
    case 'plan':
      return <Plan entries={item.entries} />;
    case 'note':
      return <p class={item.tone === 'error' ? 'note error' : 'note muted'}>{item.text}</p>;
    case 'turn':
      return <p class="turn-end"><Stamp at={item.at} extra={item.took !== null ? `turn ${item.turn} took ${duration(item.took)}` : `turn ${item.turn}`} /></p>;
  }
}

const kItemClass: Record<Item['type'], string> = {
  user: 'k-user_message', agent: 'k-agent_message', thought: 'k-agent_thought', tool: 'k-tool_call', plan: 'k-plan', note: 'k-note', turn: 'k-turn_ended',
};

// --- The transcript and the composer ------------------------------------------------------

export function Transcript({ org, taskId, session, live, taskStatus }:
  { org: string; taskId: string; session: string; live: boolean; taskStatus: string }) {
  const base = `/v1/orgs/${enc(org)}/tasks/${enc(taskId)}`;
  const path = `${base}/sessions/${enc(session)}`;
  const store = useRef({ events: [] as Json[], last: 0, held: new Map<number, Json>(), filling: false, again: false });
  const [tick, setTick] = useState(0);
  const [info, setInfo] = useState<Json | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState('');
  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    let gone = false;
    const s = store.current;
    // A read joins a message stored in pieces into one event: from_seq..seq.
    const first = (e: Json): number => e.from_seq ?? e.seq;
    const append = (e: Json) => {
      if (e.seq <= s.last) return false;
      if (first(e) !== s.last + 1) {
        s.held.set(first(e), e);
        return false;
      }
      s.events.push(e);
      s.last = e.seq;
      for (let n; (n = s.held.get(s.last + 1)); ) {
        s.held.delete(first(n));
        s.events.push(n);
        s.last = n.seq;
      }
      return true;
    };
    // Reads the transcript after the last seq we have, page by page; returns the first
    // page's position.
    const fill = async (): Promise<string | null> => {
      if (s.filling) {
        s.again = true;
        return null;
      }
      s.filling = true;
      let position: string | null = null;
      try {
        do {
          s.again = false;
          for (let more = true; more && !gone; ) {
            const page = await api('GET', `${path}/transcript?after_seq=${s.last}&limit=1000`);
            position ??= page.position ?? null;
            for (const e of page.items) append(e);
            more = page.more;
          }
        } while (s.again && !gone);
        if (!gone) setError('');
      } catch (e) {
        if (!gone) setError(message(e));
      } finally {
        s.filling = false;
        if (!gone) {
          setLoaded(true);
          setTick((t) => t + 1);
        }
      }
      return position;
    };
    const newer = (x: Json) => setInfo((old: Json) => (old && (old.updated_at ?? 0) > (x.updated_at ?? 0) ? old : x));
    // The session and its transcript, read at once; following from the older of their
    // positions misses nothing either read lacks.
    const load = async (): Promise<string | null> => {
      const [a, b] = await Promise.all([
        api('GET', path).then((x) => {
          if (!gone) newer(x);
          return x.position ?? null;
        }).catch((e) => {
          if (!gone) setError(message(e));
          return null;
        }),
        fill(),
      ]);
      return older(a, b);
    };
    let stop = () => {};
    void load().then((position) => {
      if (gone) return;
      stop = subscribe(`session:${org}/${taskId}/${session}`, position, (e) => {
        if (e.name === 'session.events.appended') {
          let added = false;
          for (const x of e.payload?.events ?? []) added = append(x) || added;
          if (s.held.size) void fill();  // a gap: read it
          if (added) setTick((t) => t + 1);
        } else if (e.name === 'transcript' && e.payload?.seq) {
          if (append(e.payload)) setTick((t) => t + 1);
          if (s.held.size) void fill();
        } else if (e.name === 'session.status.changed' && e.payload) {
          newer(e.payload);
        }
      }, () => void load());
    });
    return () => {
      gone = true;
      stop();
    };
  }, [path]);

  const { items, pending } = useMemo(() => fold(store.current.events), [tick]);

  // Follow the end while the reader is at the end (also when the window narrows and the
  // text reflows); leave them be when they scrolled up.
  useEffect(() => {
    const el = scroller.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [tick, pending.length]);
  useEffect(() => {
    const el = scroller.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const watch = new ResizeObserver(() => {
      if (stick.current) el.scrollTop = el.scrollHeight;
    });
    watch.observe(el);
    return () => watch.disconnect();
  }, []);

  const status = info?.status ?? '';
  return (
    <section class="transcript" aria-label="Transcript">
      <div class="scroll" ref={scroller} onScroll={(e) => {
        const el = e.currentTarget as HTMLDivElement;
        stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
      }}>
        {!loaded && <p class="muted loading">Loading the transcript…</p>}
        {loaded && !items.length && !error && <p class="muted empty-state">Nothing here yet: the agent's messages and tool calls show up as they come.</p>}
        <ol class="events">
          {items.map((item) => <li key={item.key} class={`event ${kItemClass[item.type]}`}><ItemView item={item} /></li>)}
        </ol>
        {pending.map((p) => <Permission key={p.permission_id} path={path} request={p} />)}
        {status === 'running' && !pending.length && <p class="working muted" role="status">The agent is working…</p>}
        {error && <p class="error" role="alert">{error}</p>}
      </div>
      {live && <AlwaysAllowed path={path} rules={info?.always_allow ?? []} />}
      {live && <Composer base={base} path={path} session={session} status={status} taskStatus={taskStatus} />}
    </section>
  );
}

// What a person allowed for the rest of the session (the session's `always_allow`), each
// revocable: the next such call asks again. The list follows the session's status events.
function AlwaysAllowed({ path, rules }: { path: string; rules: Json[] }) {
  const [error, setError] = useState('');
  if (!rules.length) return null;
  const revoke = async (rule: string) => {
    setError('');
    try {
      await api('DELETE', `${path}/always-allow/${enc(rule)}`);
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <div class="always-allowed" aria-label="Allowed without asking">
      <span class="muted">Allowed without asking:</span>
      <ul>{rules.map((r) => (
        <li key={r.rule}>{r.label} <span class="muted">by {r.by}</span>{' '}
          <button class="quiet" title={`Ask again before ${r.label}`} onClick={() => revoke(r.rule)}>Revoke</button></li>
      ))}</ul>
      {error && <p class="error" role="alert">{error}</p>}
    </div>
  );
}

function Permission({ path, request }: { path: string; request: Json }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const kinds = new Set((request.options ?? []).map((o: Json) => o.kind));
  const call = request.tool_call ?? {};
  const answer = async (decision: string) => {
    setBusy(true);
    setError('');
    try {
      await api('POST', `${path}/permissions/${enc(request.permission_id)}`, { decision });
    } catch (e) {
      setError(message(e));
      setBusy(false);
    }
  };
  return (
    <div class="permission" role="group" aria-label="Permission request">
      <p><strong>The agent asks permission:</strong> {(call.title ?? 'to use a tool').replace(/\/workspace\//g, '')}</p>
      {request.deadline_at && <p class="muted small">Unanswered by {when(request.deadline_at)}, it is rejected.</p>}
      <div class="row left">
        {(kinds.has('allow_once') || !kinds.size) && <button class="primary" disabled={busy} onClick={() => answer('allow_once')}>Allow once</button>}
        {kinds.has('allow_always') && request.always_allow &&
          <button disabled={busy} title={`Allow without asking, in this session: ${request.always_allow.label}`}
                  onClick={() => answer('allow_always')}>Always allow: {request.always_allow.label}</button>}
        {(kinds.has('reject_once') || kinds.has('reject_always') || !kinds.size) && <button class="danger" disabled={busy} onClick={() => answer('reject')}>Reject</button>}
      </div>
      {error && <p class="error" role="alert">{error}</p>}
    </div>
  );
}

function Composer({ base, path, session, status, taskStatus }:
  { base: string; path: string; session: string; status: string; taskStatus: string }) {
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const timer = useRef<number>(0);
  useEffect(() => {
    void api('GET', `${path}/draft`).then((d) => d.text && setText(d.text)).catch(() => {});
  }, [path]);
  const running = status === 'running' || status === 'cancelling';
  const why = taskStatus === 'provisioning' ? 'The sandbox is still being set up.'
    : taskStatus === 'error' ? 'Setting up the sandbox failed.'
    : status === 'closed' ? 'This session is closed.'
    : running ? 'The agent is working; send when its turn ends, or stop it.' : '';
  const send = async () => {
    if (!text.trim() || why || busy) return;
    setBusy(true);
    setError('');
    try {
      await api('POST', `${base}/prompt`, { text, session_id: session });
      setText('');
      clearTimeout(timer.current);
      void api('PUT', `${path}/draft`, { text: '' }).catch(() => {});
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };
  const draft = (value: string) => {
    setText(value);
    clearTimeout(timer.current);
    timer.current = window.setTimeout(() => void api('PUT', `${path}/draft`, { text: value }).catch(() => {}), 500);
  };
  const stop = async () => {
    try {
      await api('POST', `${path}/cancel`, {});
    } catch (e) {
      setError(message(e));
    }
  };
  const restart = async () => {
    try {
      await api('POST', `${path}/restart`, {});
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <form class="composer" onSubmit={(e) => { e.preventDefault(); void send(); }}>
      <label class="visually-hidden" for="prompt">Message the agent</label>
      <textarea id="prompt" rows={2} placeholder="Message the agent (Enter sends, Shift+Enter for a new line)" value={text}
                onInput={(e) => draft((e.target as HTMLTextAreaElement).value)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter' && (!e.shiftKey || e.metaKey || e.ctrlKey)) {
                    e.preventDefault();
                    void send();
                  }
                }} />
      <div class="composer-actions">
        {running && <button type="button" class="danger" onClick={stop} disabled={status === 'cancelling'}>{status === 'cancelling' ? 'Stopping…' : 'Stop'}</button>}
        {!running && status !== 'closed' && taskStatus !== 'provisioning' &&
          <button type="button" class="quiet" onClick={restart}
                  title="End the agent now; the next message starts it afresh with the org's current secrets, resuming the conversation where the agent can">Restart agent</button>}
        <button type="submit" class="primary" disabled={!!why || busy || !text.trim()} title={why || undefined}>Send</button>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
    </form>
  );
}
