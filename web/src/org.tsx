// An organization's tasks: the sidebar (live tasks by repository, unread and "needs you"
// marks), the task list that is the org's landing page (columns and filters, live), and
// the New task dialog.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, enc } from './api';
import { mergeSummary, useApp, useTitle } from './app';
import { follow } from './live';
import { Ago, Dialog, go, Json, Link, message, plural, State, useLoad, useRoute } from './ui';

// --- Status ---------------------------------------------------------------------------------

const kStatusWords: Record<string, string> = {
  provisioning: 'setting up', running: 'running', idle: 'idle', conflict: 'conflict',
  error: 'error', archived: 'archived', killed: 'killed', pull_request: 'open PR',
};

const kNeedsWords: Record<string, string> = {
  permission: 'asks permission', failed_turn: 'turn failed', conflict: 'conflict', error: 'setup failed',
};

// A task's status, or "needs you" (why, in its title) when something waits for a person.
export function StatusPill({ task, long = false }: { task: Json; long?: boolean }) {
  const n = task.needs_you;
  if (n) return <span class="status s-needs" title={n.message}>{long ? `needs you: ${kNeedsWords[n.reason] ?? n.reason}` : 'needs you'}</span>;
  return <span class={`status s-${task.status}`} title={task.status}>{kStatusWords[task.status] ?? task.status}</span>;
}

// --- The sidebar ----------------------------------------------------------------------------

export function Sidebar({ org, current }: { org: string; current: string }) {
  const { tasks, feed, newTask } = useApp();
  const groups = useMemo(() => {
    const by: Record<string, Json[]> = {};
    for (const t of tasks ?? []) (by[t.repo_id] ??= []).push(t);
    // What needs you first, then the feed's order (the latest event that mattered to you).
    const key = (t: Json) => Math.max(feed.items.get(t.task_id)?.bumped_at ?? 0, t.updated_at ?? 0);
    for (const list of Object.values(by)) list.sort((a, b) => (b.needs_you ? 1 : 0) - (a.needs_you ? 1 : 0) || key(b) - key(a));
    return Object.entries(by).sort(([a], [b]) => a.localeCompare(b));
  }, [tasks, feed]);
  return (
    <nav class="sidebar" aria-label="Tasks">
      <button class="primary wide" onClick={newTask} title="New task (c)">New task</button>
      {!tasks && <p class="muted loading">Loading tasks…</p>}
      {tasks && !tasks.length && <p class="muted empty-state">No tasks yet.</p>}
      {groups.map(([repo, list]) => {
        const item = (t: Json) => (
          <li key={t.task_id}>
            <Link to={`/orgs/${enc(org)}/tasks/${enc(t.task_id)}`} class={t.task_id === current ? 'task current' : 'task'}
                  current={t.task_id === current} title={t.needs_you?.message}>
              <StatusPill task={t} />
              <span class="title">{t.title}</span>
              {t.pull && t.status !== 'pull_request' && (
                <small class={`pr pr-${t.pull.state}${t.pull.review_state === 'changes_requested' || t.pull.checks === 'failure' ? ' pr-attention' : ''}`}
                       title={[`Pull request #${t.pull.number}: ${t.pull.state}`, t.pull.review_state && `review: ${t.pull.review_state.replace('_', ' ')}`,
                               t.pull.checks && `checks: ${t.pull.checks}`, t.pull.reviews_waiting > 0 && `${t.pull.reviews_waiting} review comments waiting`]
                         .filter(Boolean).join(' · ')}>
                  #{t.pull.number}{t.pull.checks === 'failure' ? ' ✗' : t.pull.checks === 'success' ? ' ✓' : ''}{t.pull.reviews_waiting > 0 ? ` 💬${t.pull.reviews_waiting}` : ''}
                </small>
              )}
              {feed.items.get(t.task_id)?.unread && t.task_id !== current && <span class="badge" aria-label="unread">●</span>}
            </Link>
          </li>
        );
        // Open pull requests no task works on yet: below the tasks, folded.
        const pulls = list.filter((t) => t.status === 'pull_request');
        return (
          <section class="repo-group">
            <h2>{repo}</h2>
            <ul>{list.filter((t) => t.status !== 'pull_request').map(item)}</ul>
            {pulls.length > 0 && (
              <details class="pulls" open={pulls.some((t) => t.task_id === current)}>
                <summary>{plural(pulls.length, 'open pull request')}</summary>
                <ul>{pulls.map(item)}</ul>
              </details>
            )}
          </section>
        );
      })}
    </nav>
  );
}

// --- The task list (the org's landing page) ----------------------------------------------

const kStatuses = ['', 'provisioning', 'running', 'idle', 'conflict', 'error', 'pull_request', 'archived', 'killed', 'all'];
const kStatusOptions: Record<string, string> = { '': 'Active', all: 'All, with archived' };

interface Filters {
  status: string;
  repo: string;
  owner: string;
  needs: boolean;
  q: string;
}

function filtersOf(query: URLSearchParams): Filters {
  return { status: query.get('status') ?? '', repo: query.get('repo') ?? '', owner: query.get('owner') ?? '',
           needs: query.get('needs_you') === '1', q: query.get('q') ?? '' };
}

// The list route's query for these filters.
function queryOf(f: Filters): string {
  const q = new URLSearchParams();
  if (f.status) q.set('status', f.status);
  if (f.repo) q.set('repo', f.repo);
  if (f.owner) q.set('owner', f.owner);
  if (f.needs) q.set('needs_you', '1');
  if (f.q) q.set('q', f.q);
  const s = q.toString();
  return s ? '?' + s : '';
}

// The API's query: `archived` carries the archived status, `status` the others.
function apiQuery(f: Filters): string {
  const q = new URLSearchParams({ limit: '100' });
  if (f.status === 'archived') q.set('archived', 'only');
  else if (f.status === 'all') q.set('archived', 'include');
  else if (f.status) {
    q.set('status', f.status);
    if (f.status === 'killed') q.set('archived', 'include');
  }
  if (f.repo) q.set('repo', f.repo);
  if (f.owner) q.set('owner', f.owner);
  if (f.needs) q.set('needs_you', '1');
  if (f.q) q.set('q', f.q);
  return q.toString();
}

// Whether a summary that changed live still belongs in the list under these filters.
function matches(f: Filters, t: Json, me: Json): boolean {
  if (f.status === 'archived') { if (t.status !== 'archived') return false; }
  else if (f.status === 'all') { /* everything */ }
  else if (f.status) { if (t.status !== f.status) return false; }
  else if (t.status === 'archived' || t.status === 'killed') return false;
  if (f.repo && t.repo_id !== f.repo) return false;
  if (f.owner && (f.owner === 'me' ? t.owner_id !== me.id : t.owner_name !== f.owner)) return false;
  if (f.needs && !t.needs_you) return false;
  const text = `${t.title} ${t.branch}`.toLowerCase();
  return f.q.toLowerCase().split(/\s+/).filter(Boolean).every((w) => text.includes(w));
}

export function TaskList({ org }: { org: string }) {
  const app = useApp();
  const { query } = useRoute();
  const f = filtersOf(query);
  const [items, setItems] = useState<Json[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState('');
  const [search, setSearch] = useState(f.q);
  const [repos] = useLoad(`/v1/orgs/${enc(org)}/repos`);
  const [members] = useLoad(`/v1/orgs/${enc(org)}/members`);
  useTitle(app.org?.name ?? org);
  const key = apiQuery(f);
  const set = (change: Partial<Filters>) => go(`/orgs/${enc(org)}${queryOf({ ...f, ...change })}`, true);

  useEffect(() => {
    setItems(null);
    setError('');
    return follow(`org:${org}`, () => api('GET', `/v1/orgs/${enc(org)}/tasks?${key}`),
      (r) => {
        setItems(r.items);
        setNext(r.next_cursor ?? null);
        setError('');
      },
      (e) => {
        if (e.name === 'organization.task.changed' && e.payload)
          setItems((list) => mergeSummary(list ?? [], e.payload, (t) => matches(f, t, app.user)));
        if (e.name === 'organization.pull.removed' && e.payload)
          setItems((list) => (list ?? []).filter((t) => t.task_id !== e.payload.task_id));
      },
      (e) => setError(message(e)));
  }, [org, key]);

  // The search box filters as you type, a moment after the last key.
  useEffect(() => {
    if (search === f.q) return;
    const t = setTimeout(() => set({ q: search.trim() }), 300);
    return () => clearTimeout(t);
  }, [search]);

  const more = async () => {
    try {
      const r = await api('GET', `/v1/orgs/${enc(org)}/tasks?${key}&after=${enc(next!)}`);
      setItems((list) => [...(list ?? []), ...r.items.filter((i: Json) => !(list ?? []).some((t) => t.task_id === i.task_id))]);
      setNext(r.next_cursor ?? null);
    } catch (e) {
      setError(message(e));
    }
  };

  const sorted = useMemo(() => [...(items ?? [])].sort((a, b) => (b.updated_at ?? 0) - (a.updated_at ?? 0)), [items]);
  const needs = sorted.filter((t) => t.needs_you).length;
  const filtered = !!(f.status || f.repo || f.owner || f.needs || f.q);
  return (
    <section class="task-list" aria-labelledby="list-title">
      <div class="list-head">
        <h1 id="list-title">Tasks</h1>
        {items && <span class="muted">{plural(sorted.length, 'task')}{next ? ' so far' : ''}{needs ? `, ${needs} need${needs === 1 ? 's' : ''} you` : ''}</span>}
        <span class="spacer" />
        <button class="primary" onClick={app.newTask} title="New task (c)">New task</button>
      </div>
      <form class="filters" role="search" onSubmit={(e) => { e.preventDefault(); set({ q: search.trim() }); }}>
        <label class="grow">Search <input type="search" value={search} placeholder="Words of the title or branch"
                                          onInput={(e) => setSearch((e.target as HTMLInputElement).value)} /></label>
        <label>Status
          <select value={f.status} onChange={(e) => set({ status: (e.target as HTMLSelectElement).value })}>
            {kStatuses.map((s) => <option value={s}>{kStatusOptions[s] ?? kStatusWords[s]}</option>)}
          </select>
        </label>
        <label>Repository
          <select value={f.repo} onChange={(e) => set({ repo: (e.target as HTMLSelectElement).value })}>
            <option value="">Any</option>
            {(repos?.items ?? []).map((r: Json) => <option value={r.repo_id}>{r.name ?? r.repo_id}</option>)}
          </select>
        </label>
        <label>Owner
          <select value={f.owner} onChange={(e) => set({ owner: (e.target as HTMLSelectElement).value })}>
            <option value="">Anyone</option>
            <option value="me">Me</option>
            {(members?.items ?? []).filter((m: Json) => m.username !== app.user.username)
              .map((m: Json) => <option value={m.username}>{m.username}</option>)}
          </select>
        </label>
        <label class="check"><input type="checkbox" checked={f.needs} onChange={(e) => set({ needs: (e.target as HTMLInputElement).checked })} /> Needs you</label>
      </form>
      <State data={items} error={error} what="tasks"
             empty={!sorted.length && (filtered ? 'No tasks match these filters.' : 'No tasks yet. Start one with New task (or press c).')}>
        <table class="tasks">
          <thead><tr><th>Status</th><th>Title</th><th class="wide-only">Repository</th><th class="wide-only">Owner</th><th class="wide-only">Agent</th><th>Updated</th></tr></thead>
          <tbody>
            {sorted.map((t) => (
              <tr key={t.task_id} class={t.needs_you ? 'needs' : ''} data-task={t.task_id}>
                <td><StatusPill task={t} /></td>
                <td class="title-cell">
                  <Link to={`/orgs/${enc(org)}/tasks/${enc(t.task_id)}`}>{t.title}</Link>
                  {app.feed.items.get(t.task_id)?.unread && <span class="badge" aria-label="unread"> ●</span>}
                  {t.needs_you && <small class="needs-why">{t.needs_you.message}</small>}
                </td>
                <td class="wide-only">{t.repo_id}</td>
                <td class="wide-only">{t.owner_name}</td>
                <td class="wide-only">{t.agent}</td>
                <td class="when"><Ago at={t.updated_at} /></td>
              </tr>
            ))}
          </tbody>
        </table>
        {next && <button onClick={more}>Show more</button>}
      </State>
    </section>
  );
}

// --- New task -------------------------------------------------------------------------------

export function NewTask({ org, onClose, onCreated }: { org: string; onClose: () => void; onCreated: (id: string) => void }) {
  const { role } = useApp();
  const [repos, reposError] = useLoad(`/v1/orgs/${enc(org)}/repos`);
  const [agents, agentsError] = useLoad(`/v1/orgs/${enc(org)}/agents`);
  const [repo, setRepo] = useState('');
  const [agent, setAgent] = useState('mock');
  const [base, setBase] = useState('');
  const [prompt, setPrompt] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (repos?.items?.length && !repo) setRepo(repos.items[0].repo_id);
  }, [repos]);
  const usable = (agents?.items ?? []).filter((a: Json) => a.installed);
  useEffect(() => {
    if (usable.length && !usable.some((a: Json) => a.name === agent)) setAgent(usable[0].name);
  }, [agents]);

  const submit = async () => {
    if (busy || !repo || !prompt.trim()) return;
    setBusy(true);
    setError('');
    try {
      const body: Json = { repo, agent, prompt };
      if (base.trim()) body.base_branch = base.trim();
      const t = await api('POST', `/v1/orgs/${enc(org)}/tasks`, body);
      onCreated(t.task_id);
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  const admin = role === 'admin' || role === 'owner';
  const noRepos = repos && !repos.items?.length;
  return (
    <Dialog title="New task" onClose={onClose} onSubmit={() => void submit()}>
      {reposError && <p class="error" role="alert">{reposError}</p>}
      {!repos && !reposError && <p class="muted loading">Loading repositories…</p>}
      {noRepos && (
        <p class="notice">No repository is connected yet. {admin
          ? <>Connect one in <Link to={`/orgs/${enc(org)}/settings`}>Settings</Link> (or <code>hearth repo add</code>).</>
          : 'Ask an admin of this organization to connect one.'}</p>
      )}
      <label>Repository
        <select name="repo" value={repo} disabled={!repos?.items?.length} onChange={(e) => setRepo((e.target as HTMLSelectElement).value)} required>
          {(repos?.items ?? []).map((r: Json) => <option value={r.repo_id}>{r.name ?? r.repo_id} ({r.default_branch})</option>)}
        </select>
      </label>
      <label>Base branch <input name="base" placeholder="the repository's default" value={base}
                                onInput={(e) => setBase((e.target as HTMLInputElement).value)} /></label>
      <label>Agent
        <select name="agent" value={agent} onChange={(e) => setAgent((e.target as HTMLSelectElement).value)}>
          {!agents && <option value="mock">{agentsError ? 'Mock agent' : 'Loading agents…'}</option>}
          {(agents?.items ?? []).map((a: Json) => (
            <option value={a.name} disabled={!a.installed}>{a.title ?? a.name}{a.installed ? '' : ' (not installed)'}</option>
          ))}
        </select>
      </label>
      <label>Prompt
        <textarea name="prompt" rows={6} value={prompt} required autofocus placeholder="What should the agent do?"
                  onInput={(e) => setPrompt((e.target as HTMLTextAreaElement).value)} />
      </label>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="row">
        <span class="hint">⌘/Ctrl+Enter creates it</span>
        <span class="spacer" />
        <button type="button" class="quiet" onClick={onClose}>Cancel</button>
        <button type="submit" class="primary" disabled={busy || !repo || !prompt.trim()}>{busy ? 'Creating…' : 'Create task'}</button>
      </div>
    </Dialog>
  );
}
