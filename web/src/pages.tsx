// The pages beside the tasks: the feed and notifications, an org's settings
// (repositories, members, secrets, API tokens, agents), its audit log, and the
// inspector (server admins). Each shows loading, empty and error states in words.
import { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, enc } from './api';

type Json = any;

function message(e: unknown): string {
  return e instanceof ApiError || e instanceof Error ? e.message : String(e);
}

// Loads `path` (again when `deps` change); `reload` runs it again.
function useLoad(path: string | null, deps: unknown[] = []): [Json | null, string, () => void] {
  const [data, setData] = useState<Json | null>(null);
  const [error, setError] = useState('');
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    let gone = false;
    api('GET', path).then((d) => { if (!gone) { setData(d); setError(''); } }).catch((e) => !gone && setError(message(e)));
    return () => { gone = true; };
  }, [path, tick, ...deps]);
  return [data, error, () => setTick((t) => t + 1)];
}

function State({ data, error, empty, children }: { data: Json | null; error: string; empty: boolean; children: ComponentChildren }) {
  if (error) return <p class="error" role="alert">{error}</p>;
  if (!data) return <p class="muted">Loading…</p>;
  if (empty) return <p class="muted">Nothing here yet.</p>;
  return <>{children}</>;
}

function when(ms: number | null | undefined) {
  return ms ? new Date(ms).toLocaleString() : '';
}

// --- Feed -----------------------------------------------------------------------------

export function FeedPage({ orgs, go }: { orgs: Json[]; go: (p: string) => void }) {
  const [feed, error, reload] = useLoad('/v1/me/feed?limit=200');
  const [notes] = useLoad('/v1/me/notifications?limit=100');
  const [permission, setPermission] = useState(typeof Notification === 'undefined' ? 'unsupported' : Notification.permission);
  const slug = (orgId: string) => orgs.find((o) => o.org_id === orgId)?.slug ?? orgId;
  const readAll = async () => {
    await api('POST', '/v1/me/feed/read', {});
    reload();
  };
  return (
    <main class="page">
      <h1>Feed</h1>
      <div class="row left">
        <button onClick={readAll}>Mark all read</button>
        {permission === 'default' && (
          <button onClick={async () => setPermission(await Notification.requestPermission())}>Notify me in this browser</button>
        )}
        {permission === 'granted' && <span class="muted">Browser notifications are on.</span>}
      </div>
      <State data={feed} error={error} empty={!feed?.items?.length}>
        <ul class="list">
          {feed?.items?.map((i: Json) => (
            <li class={i.unread ? 'unread' : ''}>
              <a href={`/orgs/${enc(slug(i.org_id))}/tasks/${enc(i.task_id)}`}
                 onClick={(e) => { e.preventDefault(); go(`/orgs/${enc(slug(i.org_id))}/tasks/${enc(i.task_id)}`); }}>
                {i.unread && <span class="badge" aria-label="unread">●</span>} {i.title}
              </a>
              <span class="muted"> · {i.reason} · {when(i.bumped_at)}</span>
            </li>
          ))}
        </ul>
      </State>
      <h2>Notifications</h2>
      {notes?.items?.length ? (
        <ul class="list">
          {notes.items.map((n: Json) => <li class={n.read ? '' : 'unread'}><strong>{n.type.replace('_', ' ')}</strong>: {n.message} <span class="muted">{when(n.created_at)}</span></li>)}
        </ul>
      ) : <p class="muted">No notifications.</p>}
    </main>
  );
}

// --- Settings -------------------------------------------------------------------------

function Section({ title, children }: { title: string; children: ComponentChildren }) {
  return <section class="settings-section"><h2>{title}</h2>{children}</section>;
}

function Form({ onSubmit, children, label }: { onSubmit: () => Promise<void>; children: ComponentChildren; label: string }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <form class="inline-form" onSubmit={async (e) => {
      e.preventDefault();
      setBusy(true);
      setError('');
      try { await onSubmit(); } catch (err) { setError(message(err)); } finally { setBusy(false); }
    }}>
      {children}
      <button type="submit" disabled={busy}>{label}</button>
      {error && <p class="error" role="alert">{error}</p>}
    </form>
  );
}

function field(set: (v: string) => void) {
  return (e: Event) => set((e.target as HTMLInputElement).value);
}

export function SettingsPage({ org, role }: { org: string; role: string }) {
  const admin = role === 'admin' || role === 'owner';
  const o = `/v1/orgs/${enc(org)}`;
  const [repos, reposError, reloadRepos] = useLoad(`${o}/repos`);
  const [members, membersError, reloadMembers] = useLoad(`${o}/members`);
  const [secrets, secretsError, reloadSecrets] = useLoad(admin ? `${o}/secrets` : null);
  const [tokens, tokensError, reloadTokens] = useLoad('/v1/tokens');
  const [agents, agentsError] = useLoad(`${o}/agents`);
  const [url, setUrl] = useState('');
  const [credential, setCredential] = useState('');
  const [username, setUsername] = useState('');
  const [memberRole, setMemberRole] = useState('member');
  const [secretName, setSecretName] = useState('');
  const [secretValue, setSecretValue] = useState('');
  const [tokenName, setTokenName] = useState('');
  const [newToken, setNewToken] = useState('');

  return (
    <main class="page">
      <h1>Settings</h1>
      <Section title="Repositories">
        <State data={repos} error={reposError} empty={false}>
          {repos?.items?.length ? (
            <table><thead><tr><th>Name</th><th>URL</th><th>Default branch</th><th /></tr></thead><tbody>
              {repos.items.map((r: Json) => (
                <tr><td>{r.repo_id}</td><td><code>{r.url}</code></td><td>{r.default_branch}</td>
                  <td>{admin && <button class="quiet danger" onClick={async () => { try { await api('DELETE', `${o}/repos/${enc(r.repo_id)}`); } catch (e) { alert(message(e)); } reloadRepos(); }}>Remove</button>}</td></tr>
              ))}
            </tbody></table>
          ) : <p class="muted">No repositories yet.</p>}
        </State>
        {admin && (
          <Form label="Connect" onSubmit={async () => {
            await api('POST', `${o}/repos`, credential ? { url, credential } : { url });
            setUrl('');
            reloadRepos();
          }}>
            <label>Git URL <input value={url} onInput={field(setUrl)} placeholder="https://github.com/acme/web.git or file:///srv/git/web.git" required /></label>
            <label>Credential (org secret, for https) <input value={credential} onInput={field(setCredential)} placeholder="GITHUB_TOKEN" /></label>
          </Form>
        )}
      </Section>

      <Section title="Members">
        <State data={members} error={membersError} empty={false}>
          <table><thead><tr><th>User</th><th>Role</th><th /></tr></thead><tbody>
            {members?.items?.map((m: Json) => (
              <tr><td>{m.username}</td>
                <td>{admin ? (
                  <select aria-label={`Role of ${m.username}`} value={m.role} onChange={async (e) => {
                    try { await api('PATCH', `${o}/members/${enc(m.username)}`, { role: (e.target as HTMLSelectElement).value }); } catch (err) { alert(message(err)); }
                    reloadMembers();
                  }}>{['member', 'admin', 'owner'].map((r) => <option value={r}>{r}</option>)}</select>
                ) : m.role}</td>
                <td>{admin && <button class="quiet danger" onClick={async () => { try { await api('DELETE', `${o}/members/${enc(m.username)}`); } catch (e) { alert(message(e)); } reloadMembers(); }}>Remove</button>}</td></tr>
            ))}
          </tbody></table>
        </State>
        {admin && (
          <Form label="Add" onSubmit={async () => { await api('POST', `${o}/members`, { username, role: memberRole }); setUsername(''); reloadMembers(); }}>
            <label>Username <input value={username} onInput={field(setUsername)} required /></label>
            <label>Role <select value={memberRole} onChange={field(setMemberRole)}>{['member', 'admin', 'owner'].map((r) => <option value={r}>{r}</option>)}</select></label>
          </Form>
        )}
      </Section>

      {admin && (
        <Section title="Secrets">
          <p class="muted">Values are sealed on the server and never shown again; agents and git get them when they need them.</p>
          <State data={secrets} error={secretsError} empty={false}>
            {secrets?.items?.length ? (
              <ul class="list">{secrets.items.map((s: Json) => (
                <li><code>{s.name}</code> <span class="muted">set {when(s.updated_at)}</span>{' '}
                  <button class="quiet danger" onClick={async () => { await api('DELETE', `${o}/secrets/${enc(s.name)}`); reloadSecrets(); }}>Delete</button></li>
              ))}</ul>
            ) : <p class="muted">No secrets.</p>}
          </State>
          <Form label="Set" onSubmit={async () => { await api('PUT', `${o}/secrets/${enc(secretName)}`, { value: secretValue }); setSecretValue(''); setSecretName(''); reloadSecrets(); }}>
            <label>Name <input value={secretName} onInput={field(setSecretName)} placeholder="ANTHROPIC_API_KEY" required /></label>
            <label>Value <input type="password" value={secretValue} onInput={field(setSecretValue)} autocomplete="off" required /></label>
          </Form>
        </Section>
      )}

      <Section title="Your API tokens">
        {newToken && <p class="notice" role="status">Your new token (shown once, copy it now): <code>{newToken}</code></p>}
        <State data={tokens} error={tokensError} empty={false}>
          {tokens?.items?.length ? (
            <ul class="list">{tokens.items.map((t: Json) => (
              <li>{t.name} <span class="muted">created {when(t.created_at)}{t.last_used_at ? `, last used ${when(t.last_used_at)}` : ''}</span>{' '}
                <button class="quiet danger" onClick={async () => { await api('DELETE', `/v1/tokens/${enc(t.id)}`); reloadTokens(); }}>Revoke</button></li>
            ))}</ul>
          ) : <p class="muted">No tokens.</p>}
        </State>
        <Form label="Create" onSubmit={async () => { const t = await api('POST', '/v1/tokens', { name: tokenName }); setNewToken(t.token); setTokenName(''); reloadTokens(); }}>
          <label>Name <input value={tokenName} onInput={field(setTokenName)} placeholder="laptop CLI" required /></label>
        </Form>
      </Section>

      <Section title="Agents">
        <State data={agents} error={agentsError} empty={!agents?.items?.length}>
          <table><thead><tr><th>Agent</th><th>Installed</th><th>Credentials</th></tr></thead><tbody>
            {agents?.items?.map((a: Json) => (
              <tr><td>{a.title ?? a.name}</td><td>{a.installed_version ?? (a.installed ? 'yes' : 'no')}</td>
                <td>{a.name === 'mock' ? 'none needed' : a.credentials_configured ? 'set' : `missing (${(a.credentials ?? []).map((c: Json) => c.name).join(' or ')})`}</td></tr>
            ))}
          </tbody></table>
        </State>
      </Section>
    </main>
  );
}

// --- Audit log ------------------------------------------------------------------------

export function AuditPage({ org }: { org: string }) {
  const [user, setUser] = useState('');
  const [kind, setKind] = useState('');
  const [task, setTask] = useState('');
  const [query, setQuery] = useState('');
  const [log, error] = useLoad(`/v1/orgs/${enc(org)}/audit?limit=200${query}`);
  const [verify, verifyError, reverify] = useLoad(`/v1/orgs/${enc(org)}/audit/verify`);
  return (
    <main class="page">
      <h1>Audit log</h1>
      <p role="status" class={verify && !verify.ok ? 'error' : 'muted'}>
        {verifyError ? verifyError : !verify ? 'Verifying the chain…'
          : verify.ok ? `Chain intact: ${verify.entries} entries.` : `Tampered with at entry ${verify.first_bad.seq}: ${verify.first_bad.reason}`}
        {' '}<button class="quiet" onClick={reverify}>Verify again</button>
        {' '}<a href={`/v1/orgs/${enc(org)}/audit/export`} download="audit.ndjson">Export (NDJSON)</a>
      </p>
      <form class="inline-form" onSubmit={(e) => {
        e.preventDefault();
        const q = [['user', user], ['kind', kind], ['task', task]].filter(([, v]) => v).map(([k, v]) => `&${k}=${enc(v)}`).join('');
        setQuery(q);
      }}>
        <label>User <input value={user} onInput={field(setUser)} /></label>
        <label>Kind starts with <input value={kind} onInput={field(setKind)} placeholder="POST /tasks" /></label>
        <label>Task <input value={task} onInput={field(setTask)} /></label>
        <button type="submit">Filter</button>
      </form>
      <State data={log} error={error} empty={!log?.items?.length}>
        <table><thead><tr><th>#</th><th>When</th><th>Who</th><th>What</th><th>Outcome</th><th>Target</th></tr></thead><tbody>
          {log?.items?.map((e: Json) => (
            <tr><td>{e.seq}</td><td>{when(e.at)}</td><td>{e.username}</td><td><code>{e.kind}</code></td>
              <td class={e.outcome === 'ok' || e.outcome === 'accepted' || e.outcome === 'succeeded' ? '' : 'error'}>{e.outcome}</td>
              <td><code>{e.target}</code></td></tr>
          ))}
        </tbody></table>
      </State>
    </main>
  );
}

// --- Inspector (server admins) --------------------------------------------------------

// One paginated list: `path` answers {items, next_cursor}; "More" loads the next page.
function Paged({ path, render, empty }: { path: string; render: (items: Json[]) => ComponentChildren; empty: string }) {
  const [items, setItems] = useState<Json[] | null>(null);
  const [next, setNext] = useState<Json>(null);
  const [error, setError] = useState('');
  const load = (cursor: Json, append: boolean) =>
    api('GET', `${path}${path.includes('?') ? '&' : '?'}limit=50${cursor !== null && cursor !== undefined ? `&cursor=${enc(String(cursor))}` : ''}`)
      .then((r) => {
        setItems((old) => (append ? [...(old ?? []), ...r.items] : r.items));
        // Lists name their cursor next_cursor; the inspector's pages name what it is.
        setNext(r.next_cursor ?? r.next_before_id ?? r.next_after_rowid ?? null);
        setError('');
      })
      .catch((e) => setError(message(e)));
  useEffect(() => { setItems(null); void load(null, false); }, [path]);
  if (error) return <p class="error" role="alert">{error}</p>;
  if (!items) return <p class="muted">Loading…</p>;
  if (!items.length) return <p class="muted">{empty}</p>;
  return <>{render(items)}{next !== null && <button onClick={() => load(next, true)}>More</button>}</>;
}

export function InspectorPage({ actorId, go }: { actorId: string; go: (p: string) => void }) {
  const [type, setType] = useState('');
  const [state, setState] = useState('');
  if (actorId) return <ActorPage id={actorId} />;
  const query = [type && `type=${enc(type)}`, state && `state=${state}`].filter(Boolean).join('&');
  return (
    <main class="page">
      <h1>Inspector</h1>
      <div class="row left">
        <label class="narrow">Type
          <select value={type} onChange={field(setType)}>
            {['', 'organization', 'task', 'session', 'sandbox', 'user', 'audit', 'directory'].map((t) => <option value={t}>{t || 'all'}</option>)}
          </select>
        </label>
        <label class="narrow">State
          <select value={state} onChange={field(setState)}>
            {['', 'active', 'hibernated'].map((t) => <option value={t}>{t || 'any'}</option>)}
          </select>
        </label>
      </div>
      <Paged path={`/v1/inspector/actors${query ? '?' + query : ''}`} empty="No actors." render={(items) => (
        <table><thead><tr><th>Type</th><th>Key</th><th>State</th><th>Created</th></tr></thead><tbody>
          {items.map((a: Json) => (
            <tr><td>{a.type}</td>
              <td><a href={`/inspector/${enc(a.id)}`} onClick={(e) => { e.preventDefault(); go(`/inspector/${enc(a.id)}`); }}><code>{JSON.stringify(a.key)}</code></a></td>
              <td>{a.state}</td><td>{when(a.created_at)}</td></tr>
          ))}
        </tbody></table>
      )} />
    </main>
  );
}

function ActorPage({ id }: { id: string }) {
  const base = `/v1/inspector/actors/${enc(id)}`;
  const [summary, error] = useLoad(base);
  const [tables] = useLoad(`${base}/tables`);
  const [table, setTable] = useState('');
  const [queue, setQueue] = useState('failed');
  const [tick, setTick] = useState(0);
  const act = async (messageId: number, verb: string) => {
    try { await api('POST', `${base}/messages/${messageId}/${verb}`, {}); } catch (e) { alert(message(e)); }
    setTick((t) => t + 1);
  };
  return (
    <main class="page">
      <h1>Actor <code>{id}</code></h1>
      <State data={summary} error={error} empty={false}>
        <pre>{JSON.stringify(summary, null, 2)}</pre>
      </State>
      <h2>Queue</h2>
      <div class="row left">{['failed', 'pending', 'completed', 'discarded'].map((q) => (
        <button aria-pressed={queue === q} onClick={() => setQueue(q)}>{q}</button>
      ))}</div>
      <Paged key={`${queue}-${tick}`} path={`${base}/queue?status=${queue}`} empty={`No ${queue} messages.`} render={(items) => (
        <ul class="list">{items.map((m: Json) => (
          <li><code>{m.queue}</code> #{m.id}{m.error ? `: ${m.error?.message ?? JSON.stringify(m.error)}` : ''}{' '}
            {queue === 'failed' && <><button onClick={() => act(m.id, 'retry')}>Retry</button> <button class="danger" onClick={() => act(m.id, 'discard')}>Discard</button></>}</li>
        ))}</ul>
      )} />
      <h2>Workflow history</h2>
      <Paged path={`${base}/history`} empty="No steps yet." render={(items) => (
        <table><thead><tr><th>Step</th><th>Queue</th><th>Outcome</th><th>ms</th></tr></thead><tbody>
          {items.map((h: Json) => <tr><td>{h.step ?? h.id}</td><td><code>{h.queue}</code></td><td>{h.outcome ?? h.status}</td><td>{h.duration_ms}</td></tr>)}
        </tbody></table>
      )} />
      <h2>Tables</h2>
      <div class="row left">{tables?.items?.map((t: Json) => <button onClick={() => setTable(t.name)} aria-pressed={table === t.name}>{t.name} ({t.rows})</button>)}</div>
      {table && <Paged path={`${base}/tables/${enc(table)}`} empty="No rows." render={(items) => <pre>{JSON.stringify(items, null, 2)}</pre>} />}
    </main>
  );
}
