// Hearth in the browser: sign-in, the organization's tasks grouped by repository (live),
// and a task's view: its transcript streaming, the prompt box, permission requests
// answered inline, the diff, and the git actions. See docs/web.md.
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, enc, setCsrf } from './api';
import { follow, StreamState } from './sse';
import { Markdown } from './markdown';
import { AuditPage, FeedPage, InspectorPage, SettingsPage } from './pages';

type Json = any;

// --- Routing: /, /orgs/:org, /orgs/:org/tasks/:task ------------------------------------

function usePath(): [string, (p: string) => void] {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const on = () => setPath(location.pathname);
    addEventListener('popstate', on);
    return () => removeEventListener('popstate', on);
  }, []);
  const go = (p: string) => {
    if (p !== location.pathname) history.pushState(null, '', p);
    setPath(p);
  };
  return [path, go];
}

function message(e: unknown): string {
  return e instanceof ApiError || e instanceof Error ? e.message : String(e);
}

// --- Sign-in ----------------------------------------------------------------------------

function SignIn({ onSignedIn }: { onSignedIn: (user: Json) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const r = await api('POST', '/v1/auth/sign-in', { username, password });
      setCsrf(r.csrf_token);
      onSignedIn(r.user);
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to Hearth</h1>
        <label>
          Username
          <input name="username" autocomplete="username" value={username} required
                 onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" value={password} required
                 onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
        <p class="hint">
          First run? The server admin is <code>admin</code>; its password is in <code>DATA_DIR/initial-admin-password</code>.
        </p>
      </form>
    </main>
  );
}

// --- The shell: header, org switcher, sidebar, the task --------------------------------

function Shell({ user, onSignedOut }: { user: Json; onSignedOut: () => void }) {
  const [path, go] = usePath();
  const [orgs, setOrgs] = useState<Json[] | null>(null);
  const [error, setError] = useState('');
  const parts = path.split('/').filter(Boolean);
  const [lastOrg, setLastOrg] = useState('');
  const orgSlug = parts[0] === 'orgs' ? decodeURIComponent(parts[1] ?? '') : lastOrg;
  const section = parts[0] === 'orgs' ? parts[2] ?? 'tasks' : parts[0] ?? 'tasks';
  const taskId = parts[0] === 'orgs' && parts[2] === 'tasks' ? decodeURIComponent(parts[3] ?? '') : '';
  useEffect(() => { if (orgSlug) setLastOrg(orgSlug); }, [orgSlug]);
  // How many tasks wait unread in the feed: shown on its link, kept current by its stream.
  const [unreadCount, setUnreadCount] = useState(0);
  useEffect(() => {
    const count = () => api('GET', '/v1/me/feed?limit=1').then((f) => setUnreadCount(f.unread)).catch(() => {});
    return follow('/v1/me/feed/events', (name) => {
      if (name === 'user.feed.bumped' || name === 'user.feed.read' || name === 'reset') void count();
    }, () => {}, () => void count());
  }, []);
  const role = orgs?.find((o) => o.slug === orgSlug)?.role ?? '';
  const link = (to: string, label: string, here: boolean) => (
    <a href={to} class={here ? 'nav current' : 'nav'} aria-current={here ? 'page' : undefined}
       onClick={(e) => { e.preventDefault(); go(to); }}>{label}</a>
  );

  useEffect(() => {
    api('GET', '/v1/orgs')
      .then((r) => {
        setOrgs(r.items);
        if (location.pathname === '/' && r.items.length) go(`/orgs/${enc(r.items[0].slug)}`);
      })
      .catch((e) => setError(message(e)));
  }, []);

  const signOut = async () => {
    try {
      await api('POST', '/v1/auth/sign-out', {});
    } finally {
      onSignedOut();
    }
  };

  return (
    <div class="shell">
      <header class="top">
        <span class="brand">Hearth</span>
        {orgs && orgs.length > 0 && (
          <label class="org-switch">
            <span class="visually-hidden">Organization</span>
            <select value={orgSlug} onChange={(e) => go(`/orgs/${enc((e.target as HTMLSelectElement).value)}${section === 'settings' || section === 'audit' ? '/' + section : ''}`)}>
              {orgs.map((o) => <option value={o.slug}>{o.name}</option>)}
            </select>
          </label>
        )}
        {orgSlug && link(`/orgs/${enc(orgSlug)}`, 'Tasks', section === 'tasks' && parts[0] === 'orgs')}
        {link('/feed', unreadCount ? `Feed (${unreadCount})` : 'Feed', section === 'feed')}
        {orgSlug && link(`/orgs/${enc(orgSlug)}/settings`, 'Settings', section === 'settings')}
        {orgSlug && (role === 'admin' || role === 'owner') && link(`/orgs/${enc(orgSlug)}/audit`, 'Audit log', section === 'audit')}
        {user.is_admin && link('/inspector', 'Inspector', section === 'inspector')}
        <span class="spacer" />
        <span class="who">{user.username}</span>
        <button class="quiet" onClick={signOut}>Sign out</button>
      </header>
      {error && <p class="error" role="alert">{error}</p>}
      {orgs && orgs.length === 0 && (
        <main class="empty"><p>You are not in an organization yet. Create one with <code>hearth org create NAME</code>, or ask an admin to add you.</p></main>
      )}
      {section === 'feed' && <FeedPage orgs={orgs ?? []} go={go} />}
      {section === 'inspector' && (user.is_admin ? <InspectorPage actorId={decodeURIComponent(parts[1] ?? '')} go={go} />
                                                 : <main class="empty"><p>The inspector is for server administrators.</p></main>)}
      {parts[0] === 'orgs' && section === 'settings' && <SettingsPage org={orgSlug} role={role} />}
      {parts[0] === 'orgs' && section === 'audit' && <AuditPage org={orgSlug} />}
      {parts[0] === 'orgs' && section === 'tasks' && orgSlug && <OrgView key={orgSlug} org={orgSlug} taskId={taskId} go={go} />}
    </div>
  );
}

function Connection({ state }: { state: StreamState }) {
  if (state === 'live') return null;
  return <p class="connection" role="status">{state === 'connecting' ? 'Connecting to live updates…' : 'Live updates lost; reconnecting…'}</p>;
}

function OrgView({ org, taskId, go }: { org: string; taskId: string; go: (p: string) => void }) {
  const [tasks, setTasks] = useState<Json[] | null>(null);
  const [unread, setUnread] = useState<Record<string, boolean>>({});
  const [bumped, setBumped] = useState<Record<string, number>>({});
  const [error, setError] = useState('');
  const [state, setState] = useState<StreamState>('connecting');
  const [creating, setCreating] = useState(false);
  const viewing = useRef(taskId);
  viewing.current = taskId;

  const load = () =>
    Promise.all([api('GET', `/v1/orgs/${enc(org)}/tasks?limit=500`), api('GET', '/v1/me/feed?limit=500')])
      .then(([t, f]) => {
        // Summaries that arrived on the stream while this was read may be newer.
        setTasks((current) => {
          const loaded = new Map<string, Json>(t.items.map((i: Json) => [i.task_id, i]));
          for (const c of current ?? [])
            if (!loaded.has(c.task_id) || (c.version ?? 0) > (loaded.get(c.task_id).version ?? 0)) loaded.set(c.task_id, c);
          return [...loaded.values()].filter((i) => i.status !== 'archived' && i.status !== 'killed');
        });
        const u: Record<string, boolean> = {};
        const b: Record<string, number> = {};
        for (const i of f.items) {
          if (i.unread) u[i.task_id] = true;
          b[i.task_id] = i.bumped_at;
        }
        setUnread(u);
        setBumped(b);
        setError('');
      })
      .catch((e) => setError(message(e)));

  useEffect(() => {
    const stopOrg = follow(`/v1/orgs/${enc(org)}/events`, (name, d) => {
      if (name === 'reset') void load();
      if (name !== 'organization.task.changed' || !d?.payload) return;
      const s = d.payload;
      setTasks((list) => {
        const old = (list ?? []).find((t) => t.task_id === s.task_id);
        if (old && (old.version ?? 0) > (s.version ?? 0)) return list;
        const rest = (list ?? []).filter((t) => t.task_id !== s.task_id);
        if (s.status === 'archived' || s.status === 'killed') return rest;
        return [s, ...rest];
      });
    }, setState, () => void load());
    const stopFeed = follow('/v1/me/feed/events', (name, d) => {
      if (name === 'user.feed.bumped' && d?.payload?.item) {
        const item = d.payload.item;
        setBumped((b) => ({ ...b, [item.task_id]: item.bumped_at }));
        // What the person is looking at is read already.
        if (item.org_id && item.task_id === viewing.current)
          void api('POST', `/v1/orgs/${enc(org)}/tasks/${enc(item.task_id)}/read`, {}).catch(() => {});
        else setUnread((u) => ({ ...u, [item.task_id]: true }));
        const note = d.payload.notification;
        if (note && 'Notification' in window && Notification.permission === 'granted')
          new Notification(`Hearth: ${item.title}`, { body: note.message });
      }
      if (name === 'user.feed.read' && d?.payload) {
        if (d.payload.all) setUnread({});
        else if (d.payload.task_id) setUnread((u) => ({ ...u, [d.payload.task_id]: false }));
      }
    }, () => {});
    return () => {
      stopOrg();
      stopFeed();
    };
  }, [org]);

  const groups = useMemo(() => {
    const by: Record<string, Json[]> = {};
    for (const t of tasks ?? []) (by[t.repo_id] ??= []).push(t);
    // The feed's order first (the latest event that mattered to you), then the latest change.
    const key = (t: Json) => Math.max(bumped[t.task_id] ?? 0, 0) || t.updated_at;
    for (const list of Object.values(by)) list.sort((a, b) => key(b) - key(a));
    return Object.entries(by).sort(([a], [b]) => a.localeCompare(b));
  }, [tasks, bumped]);

  return (
    <div class="org">
      <nav class="sidebar" aria-label="Tasks">
        <button class="primary" onClick={() => setCreating(true)}>New task</button>
        <Connection state={state} />
        {error && <p class="error" role="alert">{error}</p>}
        {tasks === null && !error && <p class="muted">Loading tasks…</p>}
        {tasks && tasks.length === 0 && <p class="muted">No tasks yet. Start one with “New task”.</p>}
        {groups.map(([repo, list]) => (
          <section class="repo-group">
            <h2>{repo}</h2>
            <ul>
              {list.map((t) => (
                <li>
                  <a href={`/orgs/${enc(org)}/tasks/${enc(t.task_id)}`} class={t.task_id === taskId ? 'task current' : 'task'}
                     data-task={t.task_id}
                     onClick={(e) => { e.preventDefault(); go(`/orgs/${enc(org)}/tasks/${enc(t.task_id)}`); }}>
                    <span class={`status s-${t.status}`} title={t.status}>{t.status}</span>
                    <span class="title">{t.title}</span>
                    {unread[t.task_id] && <span class="badge" aria-label="unread">●</span>}
                  </a>
                </li>
              ))}
            </ul>
          </section>
        ))}
      </nav>
      <main class="content">
        {taskId ? <TaskView key={taskId} org={org} taskId={taskId} onRead={() => setUnread((u) => ({ ...u, [taskId]: false }))} />
                : <div class="empty"><p>Pick a task on the left, or start a new one.</p></div>}
      </main>
      {creating && <NewTask org={org} onClose={() => setCreating(false)}
                            onCreated={(id) => { setCreating(false); go(`/orgs/${enc(org)}/tasks/${enc(id)}`); }} />}
    </div>
  );
}

// --- New task -------------------------------------------------------------------------

function NewTask({ org, onClose, onCreated }: { org: string; onClose: () => void; onCreated: (id: string) => void }) {
  const [repos, setRepos] = useState<Json[] | null>(null);
  const [agents, setAgents] = useState<Json[]>([]);
  const [repo, setRepo] = useState('');
  const [agent, setAgent] = useState('mock');
  const [base, setBase] = useState('');
  const [prompt, setPrompt] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api('GET', `/v1/orgs/${enc(org)}/repos`).then((r) => {
      setRepos(r.items);
      if (r.items.length) setRepo(r.items[0].repo_id);
    }).catch((e) => setError(message(e)));
    api('GET', `/v1/orgs/${enc(org)}/agents`).then((r) => setAgents(r.items ?? [])).catch(() => {});
    const esc = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    addEventListener('keydown', esc);
    return () => removeEventListener('keydown', esc);
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const body: Json = { repo, agent, prompt };
      if (base) body.base_branch = base;
      const t = await api('POST', `/v1/orgs/${enc(org)}/tasks`, body);
      onCreated(t.task_id);
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="dialog-backdrop">
      <form class="dialog" role="dialog" aria-modal="true" aria-labelledby="new-task-title" onSubmit={submit}>
        <h2 id="new-task-title">New task</h2>
        {repos && repos.length === 0 && <p class="muted">No repositories yet: an admin connects one (Settings, or <code>hearth repo add</code>).</p>}
        <label>Repository
          <select name="repo" value={repo} onChange={(e) => setRepo((e.target as HTMLSelectElement).value)} required>
            {(repos ?? []).map((r) => <option value={r.repo_id}>{r.repo_id} ({r.default_branch})</option>)}
          </select>
        </label>
        <label>Base branch <input name="base" placeholder="the repository's default" value={base}
                                  onInput={(e) => setBase((e.target as HTMLInputElement).value)} /></label>
        <label>Agent
          <select name="agent" value={agent} onChange={(e) => setAgent((e.target as HTMLSelectElement).value)}>
            {(agents.length ? agents : [{ name: 'mock', title: 'Mock agent' }]).map((a) => <option value={a.name}>{a.title ?? a.name}</option>)}
          </select>
        </label>
        <label>Prompt
          <textarea name="prompt" rows={5} value={prompt} required autofocus
                    onInput={(e) => setPrompt((e.target as HTMLTextAreaElement).value)} />
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <div class="row">
          <button type="button" class="quiet" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={busy || !repo}>{busy ? 'Creating…' : 'Create task'}</button>
        </div>
      </form>
    </div>
  );
}

// --- The task -------------------------------------------------------------------------

function TaskView({ org, taskId, onRead }: { org: string; taskId: string; onRead: () => void }) {
  const base = `/v1/orgs/${enc(org)}/tasks/${enc(taskId)}`;
  const [task, setTask] = useState<Json | null>(null);
  const [error, setError] = useState('');
  const [session, setSession] = useState('');
  const [tab, setTab] = useState<'transcript' | 'diff'>('transcript');
  const [outcome, setOutcome] = useState<{ kind: string; text: string; ok: boolean } | null>(null);
  const [state, setState] = useState<StreamState>('connecting');

  useEffect(() => {
    let gone = false;
    // The newer of what we have and what came (a read and an event may cross).
    const newer = (t: Json) => setTask((old) => (old && (old.version ?? 0) > (t.version ?? 0) ? old : t));
    const load = () => api('GET', base).then((t) => !gone && newer(t)).catch((e) => !gone && setError(message(e)));
    void load();
    void api('POST', `${base}/read`, {}).then(onRead).catch(() => {});
    // Read again each time the stream is live: nothing published before it is missed.
    // (A stream opened a moment before the task's actor exists is retried.)
    let stop = () => {};
    const start = () => {
      stop = follow(`${base}/events`, (name, d) => {
        if (name === 'task.changed' && d?.payload) newer(d.payload);
        if (name === 'reset') void load();
        if (name === 'task.op.finished' && d?.payload) {
          const op = d.payload;
          if (op.kind === 'diff') return;
          const out = op.result?.output ?? '';
          const files = op.result?.conflict_files;
          setOutcome({ kind: op.kind, ok: op.status === 'succeeded',
                       text: op.status === 'succeeded' ? (out || 'done') : `${op.error ?? 'failed'}${files ? `: ${files.join(', ')}` : ''}` });
        }
      }, setState, () => void load());
    };
    start();
    return () => {
      gone = true;
      stop();
    };
  }, [taskId]);

  useEffect(() => {
    if (task?.sessions?.length && !session) setSession(task.sessions[task.sessions.length - 1].session_id);
  }, [task]);

  const act = async (kind: string) => {
    setOutcome({ kind, ok: true, text: 'running…' });
    try {
      const r = await api('POST', `${base}/${kind}`, {});
      if (!r?.op_id) setOutcome({ kind, ok: true, text: 'done' });
    } catch (e) {
      setOutcome({ kind, ok: false, text: message(e) });
    }
  };

  if (error) return <p class="error" role="alert">{error}</p>;
  if (!task) return <p class="muted">Loading the task…</p>;
  const live = task.status !== 'archived' && task.status !== 'killed';
  return (
    <article class="task-view" aria-labelledby="task-title">
      <header class="task-head">
        <Title base={base} task={task} />
        <p class="meta">
          <span class={`status s-${task.status}`}>{task.status}</span>
          <code>{task.branch}</code> from <code>{task.base_branch}</code> · owner {task.owner?.username ?? task.owner_name}
        </p>
        {task.status === 'provisioning' && <p class="progress" role="status">Provisioning: {task.phase ?? 'starting'}…</p>}
        {task.status === 'error' && <p class="error" role="alert">Provisioning failed while {task.error_step}: {task.error}</p>}
        {task.conflict_files && <p class="error" role="alert">Sync stopped on conflicts in: {task.conflict_files.join(', ')}</p>}
        <div class="actions">
          {live && ['push', 'sync', 'merge'].map((k) => <button onClick={() => act(k)} disabled={!!task.running_op}>{k[0].toUpperCase() + k.slice(1)}</button>)}
          {task.status === 'error' && <button onClick={() => act('retry')}>Retry</button>}
          {live ? <button onClick={() => act('archive')}>Archive</button> : task.status === 'archived' && <button onClick={() => act('unarchive')}>Unarchive</button>}
          {task.status !== 'killed' && <button class="danger" onClick={() => confirm('Kill this task? Its sandbox and sessions end.') && act('kill')}>Kill</button>}
        </div>
        {outcome && <p class={outcome.ok ? 'outcome' : 'outcome error'} role="status">{outcome.kind}: {outcome.text}</p>}
        <Connection state={state} />
      </header>
      <div class="tabs" role="tablist">
        {(task.sessions ?? []).map((s: Json) => (
          <button role="tab" aria-selected={tab === 'transcript' && s.session_id === session}
                  onClick={() => { setSession(s.session_id); setTab('transcript'); }}>{s.title} <small>{s.status}</small></button>
        ))}
        <button role="tab" aria-selected={tab === 'diff'} onClick={() => setTab('diff')}>
          Diff <small>{task.diff ? `${task.diff.files} files +${task.diff.added} −${task.diff.removed}` : ''}</small>
        </button>
      </div>
      {tab === 'diff' ? <Diff base={base} refreshedAt={task.diff?.refreshed_at} />
                      : session ? <Transcript key={session} base={base} session={session} live={live} />
                                : <p class="muted">The first session starts once the sandbox is ready.</p>}
    </article>
  );
}

function Title({ base, task }: { base: string; task: Json }) {
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(task.title);
  const [error, setError] = useState('');
  if (!editing)
    return <h1 id="task-title" class="title" title="Rename" onClick={() => { setValue(task.title); setEditing(true); }}>{task.title}</h1>;
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      await api('PATCH', base, { title: value });
      setEditing(false);
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <form onSubmit={save} class="rename">
      <label class="visually-hidden" for="rename">Title</label>
      <input id="rename" value={value} autofocus onInput={(e) => setValue((e.target as HTMLInputElement).value)}
             onKeyDown={(e) => e.key === 'Escape' && setEditing(false)} />
      {error && <span class="error">{error}</span>}
    </form>
  );
}

// --- The transcript ---------------------------------------------------------------------

function Transcript({ base, session, live }: { base: string; session: string; live: boolean }) {
  const path = `${base}/sessions/${enc(session)}`;
  const [events, setEvents] = useState<Json[]>([]);
  const [pending, setPending] = useState<Json[]>([]);
  const [state, setState] = useState<StreamState>('connecting');
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  const bottom = useRef<HTMLDivElement>(null);
  const draftTimer = useRef<number>(0);

  useEffect(() => {
    const seen = new Set<number>();
    const add = (e: Json) => {
      if (!e || seen.has(e.seq)) return;
      seen.add(e.seq);
      setEvents((list) => [...list, e]);
    };
    const stop = follow(`${path}/events`, (name, d) => {
      if (name === 'transcript') add(d);
      if (name === 'permission') void loadPermissions();
    }, setState);
    const loadPermissions = () => api('GET', `${path}/permissions?status=pending`).then((r) => setPending(r.items)).catch(() => {});
    void loadPermissions();
    const poll = setInterval(loadPermissions, 2000);
    void api('GET', `${base}/sessions/${enc(session)}/draft`).then((d) => d.text && setText(d.text)).catch(() => {});
    return () => {
      stop();
      clearInterval(poll);
    };
  }, [path]);

  useEffect(() => bottom.current?.scrollIntoView({ block: 'end' }), [events.length]);

  const send = async () => {
    if (!text.trim()) return;
    setError('');
    try {
      await api('POST', `${base}/prompt`, { text, session_id: session });
      setText('');
      void api('PUT', `${base}/sessions/${enc(session)}/draft`, { text: '' }).catch(() => {});
    } catch (e) {
      setError(message(e));
    }
  };
  const draft = (value: string) => {
    setText(value);
    clearTimeout(draftTimer.current);
    draftTimer.current = window.setTimeout(() => {
      void api('PUT', `${base}/sessions/${enc(session)}/draft`, { text: value }).catch(() => {});
    }, 500);
  };
  const answer = async (p: Json, decision: string) => {
    try {
      await api('POST', `${path}/permissions/${enc(p.permission_id)}`, { decision });
      setPending((list) => list.filter((x) => x.permission_id !== p.permission_id));
    } catch (e) {
      setError(message(e));
    }
  };

  return (
    <section class="transcript" aria-label="Transcript">
      <Connection state={state} />
      <ol class="events">
        {groupEvents(events).map((e) => <li class={`event k-${e.kind}`}><Event e={e} /></li>)}
      </ol>
      {pending.map((p) => (
        <div class="permission" role="group" aria-label="Permission request">
          <p>The agent asks: <strong>{p.tool_call?.title ?? 'to use a tool'}</strong></p>
          <button onClick={() => answer(p, 'allow_once')}>Allow once</button>
          <button onClick={() => answer(p, 'allow_always')}>Always allow</button>
          <button class="danger" onClick={() => answer(p, 'reject')}>Reject</button>
        </div>
      ))}
      <div ref={bottom} />
      {live && (
        <form class="prompt" onSubmit={(e) => { e.preventDefault(); void send(); }}>
          <label class="visually-hidden" for="prompt">Message the agent</label>
          <textarea id="prompt" rows={3} placeholder="Message the agent (Enter sends, Shift+Enter for a new line)" value={text}
                    onInput={(e) => draft((e.target as HTMLTextAreaElement).value)}
                    onKeyDown={(e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); void send(); } }} />
          <button type="submit" class="primary">Send</button>
          {error && <p class="error" role="alert">{error}</p>}
        </form>
      )}
    </section>
  );
}

// Consecutive message chunks read as one message.
function groupEvents(events: Json[]): Json[] {
  const out: Json[] = [];
  for (const e of events) {
    const last = out[out.length - 1];
    if (last && (e.kind === 'agent_message' || e.kind === 'agent_thought') && last.kind === e.kind && last.turn === e.turn) {
      out[out.length - 1] = { ...last, data: { ...last.data, text: (last.data?.text ?? '') + (e.data?.text ?? '') } };
    } else {
      out.push(e);
    }
  }
  return out;
}

function Event({ e }: { e: Json }) {
  const d = e.data ?? {};
  switch (e.kind) {
    case 'user_message':
      return <div class="user"><span class="who">{d.by}</span><p class="said">{d.text ?? ''}</p></div>;
    case 'agent_message':
      return <div class="agent"><Markdown text={d.text ?? ''} /></div>;
    case 'agent_thought':
      return <details class="thought"><summary>Thinking</summary><Markdown text={d.text ?? ''} /></details>;
    case 'tool_call':
      return <details class="tool"><summary>Tool: {d.title} <small>{d.status}</small></summary><pre>{JSON.stringify(d.content ?? d.rawInput ?? {}, null, 2)}</pre></details>;
    case 'tool_call_update':
      return <details class="tool"><summary>Tool {d.toolCallId}: {d.status ?? 'updated'}</summary><pre>{toolText(d)}</pre></details>;
    case 'plan':
      return <ul class="plan">{(d.entries ?? []).map((p: Json) => <li><input type="checkbox" disabled checked={p.status === 'completed'} /> {p.content}</li>)}</ul>;
    case 'turn_ended':
      return <p class="turn-end">Turn {e.turn} ended ({d.stop_reason})</p>;
    case 'turn_failed':
      return <p class="error">Turn {e.turn} failed: {d.error}</p>;
    case 'turn_interrupted':
      return <p class="error">Turn {e.turn} was interrupted: {d.reason}</p>;
    case 'permission_requested':
      return <p class="muted">Asked permission: {d.tool_call?.title}</p>;
    case 'permission_resolved':
      return <p class="muted">Permission {d.status}{d.by ? ` by ${d.by}` : ''}</p>;
    default:
      return <p class="muted small">{e.kind}</p>;
  }
}

function toolText(d: Json): string {
  const parts: string[] = [];
  for (const c of d.content ?? []) if (c?.content?.type === 'text') parts.push(c.content.text);
  return parts.join('\n') || JSON.stringify(d, null, 2);
}

// --- The diff ---------------------------------------------------------------------------

function Diff({ base, refreshedAt }: { base: string; refreshedAt: number | null }) {
  const [files, setFiles] = useState<Json[] | null>(null);
  const [open, setOpen] = useState<Record<string, string>>({});
  const [error, setError] = useState('');
  useEffect(() => {
    api('GET', `${base}/diff?limit=1000`).then((r) => setFiles(r.items)).catch((e) => setError(message(e)));
  }, [refreshedAt]);
  const show = async (path: string) => {
    if (open[path] !== undefined) return setOpen((o) => { const c = { ...o }; delete c[path]; return c; });
    try {
      const f = await api('GET', `${base}/diff/file?path=${enc(path)}`);
      setOpen((o) => ({ ...o, [path]: f.patch_truncated ? '(too large to show here)' : f.patch }));
    } catch (e) {
      setError(message(e));
    }
  };
  const revert = async (path: string) => {
    try {
      await api('POST', `${base}/revert`, { path });
    } catch (e) {
      setError(message(e));
    }
  };
  if (error) return <p class="error" role="alert">{error}</p>;
  if (!files) return <p class="muted">Loading the diff…</p>;
  if (!files.length) return <p class="muted">No changes against the base branch.</p>;
  return (
    <ul class="diff">
      {files.map((f) => (
        <li>
          <div class="file">
            <button class="link" onClick={() => show(f.path)} aria-expanded={open[f.path] !== undefined}>
              <span class={`fstatus f-${f.status}`}>{f.status}</span> {f.path}
            </button>
            <span class="counts">{f.binary ? 'binary' : `+${f.added} −${f.removed}`}</span>
            <button class="quiet" onClick={() => revert(f.path)}>Revert</button>
          </div>
          {open[f.path] !== undefined && <pre class="patch">{open[f.path].split('\n').map((l) =>
            <span class={l.startsWith('+') ? 'add' : l.startsWith('-') ? 'del' : l.startsWith('@@') ? 'hunk' : ''}>{l + '\n'}</span>)}</pre>}
        </li>
      ))}
    </ul>
  );
}

// --- Start ------------------------------------------------------------------------------

function App() {
  const [user, setUser] = useState<Json | null | undefined>(undefined);
  useEffect(() => {
    api('GET', '/v1/auth/session')
      .then((s) => {
        setCsrf(s.csrf_token);
        setUser(s.user);
      })
      .catch(() => setUser(null));
  }, []);
  if (user === undefined) return <p class="boot">Loading Hearth…</p>;
  if (user === null) return <SignIn onSignedIn={setUser} />;
  return <Shell user={user} onSignedOut={() => { setCsrf(''); setUser(null); history.pushState(null, '', '/'); }} />;
}

render(<App />, document.getElementById('app')!);
