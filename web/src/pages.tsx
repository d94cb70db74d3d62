// The pages beside the tasks: the feed and notifications, an organization's settings
// (repositories, members, secrets, the network allowlist, agents), your own settings (API tokens, sign-in
// sessions), the audit log, and the inspector (server admins). Each says in words when
// it loads, when there is nothing, and what went wrong.
import { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, enc } from './api';
import { useApp, useTitle } from './app';
import { StatusPill } from './org';
import { follow } from './live';
import { Ago, Json, Link, message, plural, State, useLoad, useRoute, when } from './ui';

// --- Feed -----------------------------------------------------------------------------------

const kReasons: Record<string, string> = {
  finished: 'the agent finished',
  failed: 'a turn failed',
  needs_permission: 'the agent asks permission',
  pull_request: 'its pull request changed',
};

export function FeedPage() {
  const { orgs, feed, tasks } = useApp();
  const [notes, notesError] = useLoad('/v1/me/notifications?limit=100', [feed.items]);
  const [permission, setPermission] = useState(typeof Notification === 'undefined' ? 'unsupported' : Notification.permission);
  const [error, setError] = useState('');
  useTitle('Feed');
  const slug = (orgId: string) => orgs.find((o) => o.org_id === orgId)?.slug ?? orgId;
  const items = [...feed.items.values()].sort((a, b) => (b.bumped_at ?? 0) - (a.bumped_at ?? 0));
  const readAll = async () => {
    try {
      await api('POST', '/v1/me/feed/read', {});
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <main class="page">
      <div class="page-head">
        <h1>Feed</h1>
        <span class="muted">{feed.unread ? `${plural(feed.unread, 'unread task')}` : 'All read'}</span>
        <span class="spacer" />
        <button onClick={readAll} disabled={!feed.unread}>Mark all read</button>
        {permission === 'default' && (
          <button onClick={async () => setPermission(await Notification.requestPermission())}>Notify me in this browser</button>
        )}
      </div>
      {permission === 'granted' && <p class="muted small">Browser notifications are on: you hear when an agent finishes or asks permission while Hearth is in the background.</p>}
      {error && <p class="error" role="alert">{error}</p>}
      <p class="muted small">Tasks you own or prompted, latest first: what happened last, and whether you have seen it.</p>
      {items.length ? (
        <ul class="feed">
          {items.map((i) => {
            const to = `/orgs/${enc(slug(i.org_id))}/tasks/${enc(i.task_id)}`;
            return (
              <li key={i.task_id} class={i.unread ? 'unread' : ''}>
                <span class="badge" aria-label={i.unread ? 'unread' : undefined}>{i.unread ? '●' : ''}</span>
                <StatusPill task={tasks?.find((t) => t.task_id === i.task_id) ?? i} />
                <span class="feed-main">
                  <Link to={to}>{i.title}</Link>
                  <span class="muted"> · {i.repo_id} · {kReasons[i.reason] ?? i.reason}</span>
                </span>
                <span class="when muted"><Ago at={i.bumped_at} /></span>
              </li>
            );
          })}
        </ul>
      ) : <p class="muted empty-state">Nothing yet: tasks you create or prompt show up here when something happens.</p>}
      <h2>Notifications</h2>
      <State data={notes} error={notesError} what="notifications" empty={!notes?.items?.length && 'No notifications.'}>
        <ul class="feed">
          {notes?.items?.map((n: Json) => (
            <li class={n.read ? '' : 'unread'}>
              <span class="badge">{n.read ? '' : '●'}</span>
              <span class="feed-main">{n.task_id
                ? <><Link to={`/orgs/${enc(slug(n.org_id))}/tasks/${enc(n.task_id)}`}>{feed.items.get(n.task_id)?.title ?? 'A task'}</Link>
                    <span class="muted">: {n.message}</span></>
                : n.message}</span>
              <span class="when muted"><Ago at={n.created_at} /></span>
            </li>
          ))}
        </ul>
      </State>
    </main>
  );
}

// --- Forms and sections ----------------------------------------------------------------------

function Section({ title, children, note }: { title: string; children: ComponentChildren; note?: ComponentChildren }) {
  return <section class="settings-section"><h2>{title}</h2>{note && <p class="muted small">{note}</p>}{children}</section>;
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
      <button type="submit" disabled={busy}>{busy ? `${label}…` : label}</button>
      {error && <p class="error" role="alert">{error}</p>}
    </form>
  );
}

function field(set: (v: string) => void) {
  return (e: Event) => set((e.target as HTMLInputElement).value);
}

// A button that runs a change and says what went wrong next to itself.
function Act({ label, run, danger, confirmText }: { label: string; run: () => Promise<unknown>; danger?: boolean; confirmText?: string }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <>
      <button class={danger ? 'quiet danger' : 'quiet'} disabled={busy} onClick={async () => {
        if (confirmText && !confirm(confirmText)) return;
        setBusy(true);
        setError('');
        try { await run(); } catch (e) { setError(message(e)); } finally { setBusy(false); }
      }}>{label}</button>
      {error && <span class="error" role="alert"> {error}</span>}
    </>
  );
}

// --- GitHub (docs/github.md) ------------------------------------------------------------------

// The org's GitHub App installation: its status, the sync's progress (polled while a sync
// runs), the repositories, and for admins linking, syncing and the recent deliveries.
function GithubSection({ org, slug, admin, onRepositories }:
  { org: string; slug: string; admin: boolean; onRepositories: () => void }) {
  // The section follows the github-data actor's topic: sync progress and every change
  // arrive live (github.sync.progress, github.data.changed), no polling.
  const [gh, setGh] = useState<Json | null>(null);
  const [ghError, setGhError] = useState('');
  const [tick, setTick] = useState(0);
  const [changes, setChanges] = useState(0);  // github.data.changed events seen: deliveries read again
  const reloadGh = () => setTick((t) => t + 1);
  useEffect(() => follow(`github:${slug}`, () => api('GET', `${org}/github`),
    (r) => { setGh(r); setGhError(''); },
    (e) => {
      if (e.name === 'github.sync.progress' && e.payload) setGh((g: Json | null) => g && { ...g, sync: e.payload });
      else if (e.name === 'github.data.changed' && e.payload) {
        setGh((g: Json | null) => ({ ...(g ?? {}), ...e.payload }));
        setChanges((c) => c + 1);
      }
    },
    (e) => setGhError(message(e))), [org, slug, tick]);
  const linked = !!gh?.installation;
  const [repos, , reloadRepos] = useLoad(linked ? `${org}/github/repositories` : null, [gh?.sync?.phase, gh?.repositories]);
  // The installation's repositories are the org's too: the page's list follows them.
  useEffect(() => { if (gh) onRepositories(); }, [gh?.sync?.phase, gh?.repositories, gh?.status]);
  const [deliveries, , reloadDeliveries] = useLoad(linked && admin ? `${org}/github/deliveries?limit=10` : null, [changes]);
  const [installation, setInstallation] = useState('');
  const syncing = gh?.sync?.phase && gh.sync.phase !== 'done' && gh.sync.phase !== 'failed';
  // Back from GitHub's install page (the setup callback): what happened.
  const { query } = useRoute();
  const callbackError = query.get('github_error');
  const callbackLinked = query.get('github') === 'linked';
  // Linking by id is for server admins (an id proves nothing about whose it is).
  const serverAdmin = !!useApp().user?.is_admin;
  const reloadAll = () => { reloadGh(); reloadRepos(); reloadDeliveries(); };
  return (
    <Section title="GitHub" note="A GitHub App installation keeps this organization's repositories and pull requests in step with GitHub.">
      <State data={gh} error={ghError} what="GitHub" empty={false}>
        {!gh?.configured ? <p class="muted">This server has no GitHub App configured (see docs/github.md).</p> : (
          <>
            {linked ? (
              <p data-testid="github-status">Installation <code>{gh.installation.installation_id}</code> ({gh.installation.account_login}): <strong>{gh.status}</strong>
                {' · '}{plural(gh.repositories, 'repository', 'repositories')}, {plural(gh.open_pull_requests, 'open pull request', 'open pull requests')}
                {' · '}sync: {gh.sync.phase ?? 'never'}{gh.sync.total != null && syncing ? ` ${gh.sync.processed}/${gh.sync.total}` : ''}
                {gh.sync.error && <span class="error"> — {gh.sync.error}</span>}
                {gh.sync.last_sync_at && <> (last <Ago at={gh.sync.last_sync_at} />)</>}
                {syncing && <progress max={gh.sync.total ?? undefined} value={gh.sync.processed} aria-label="GitHub sync progress" />}
              </p>
            ) : (
              <p class="muted">No installation linked.</p>
            )}
            {callbackError && <p class="error" role="alert" data-testid="github-callback-error">GitHub installation: {callbackError}</p>}
            {callbackLinked && linked && <p role="status">The installation is linked.</p>}
            {admin && !linked && gh.install_url && (
              <p><Act label="Install the App on GitHub" run={async () => {
                const r = await api('POST', `${org}/github/install`);
                location.assign(r.url);
              }} /> <span class="muted">GitHub brings you back here, linked.</span></p>
            )}
            {admin && !linked && serverAdmin && (
              <Form label="Link" onSubmit={async () => { await api('POST', `${org}/github/installation`, { installation_id: Number(installation) }); setInstallation(''); reloadAll(); }}>
                <label>Installation id <input value={installation} onInput={field(setInstallation)} inputMode="numeric" pattern="[0-9]+" required /></label>
              </Form>
            )}
            {admin && linked && (
              <p>
                <Act label="Sync now" run={async () => { await api('POST', `${org}/github/sync`); reloadGh(); }} />{' '}
                <Act label="Unlink" danger confirmText="Unlink the GitHub installation? What GitHub showed is forgotten until you link it again."
                     run={async () => { await api('DELETE', `${org}/github/installation`); reloadAll(); }} />
              </p>
            )}
            {linked && repos?.items?.length > 0 && (
              <table><thead><tr><th>Repository</th><th>Default branch</th><th>Visibility</th></tr></thead><tbody>
                {repos.items.map((r: Json) => (
                  <tr><td><a href={`${gh.web_url ?? 'https://github.com'}/${r.full_name}`} target="_blank" rel="noopener noreferrer">{r.full_name}</a>{r.archived && <span class="muted"> (archived)</span>}</td>
                    <td>{r.default_branch || <span class="muted">unknown</span>}</td><td>{r.private ? 'private' : 'public'}</td></tr>
                ))}
              </tbody></table>
            )}
            {admin && deliveries?.items?.length > 0 && (
              <>
                <h3>Recent deliveries</h3>
                <table><thead><tr><th>Event</th><th>Outcome</th><th>What</th><th>Received</th></tr></thead><tbody>
                  {deliveries.items.map((d: Json) => (
                    <tr><td><code>{d.event}{d.action ? '.' + d.action : ''}</code></td><td>{d.outcome}</td>
                      <td>{d.summary}{d.error && <span class="error"> — {d.error}</span>}</td><td><Ago at={d.received_at} /></td></tr>
                  ))}
                </tbody></table>
              </>
            )}
          </>
        )}
      </State>
    </Section>
  );
}

// --- Organization settings ---------------------------------------------------------------------

// One of the org's on/off settings (PATCH /v1/orgs/{org} {settings: {name: bool}}):
// admins change it, members see it. After the page's read, the box shows what was last
// saved (no read again: a late answer could undo a later click).
function OrgSetting({ org, name, value, admin, label, note }:
  { org: string; name: string; value: boolean; admin: boolean; label: string; note: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [shown, setShown] = useState(value);  // the box follows the click at once; a refusal puts it back
  useEffect(() => setShown(value), [value]);
  return (
    <div class="setting">
      <label class="check">
        <input type="checkbox" checked={shown} disabled={!admin || busy} onChange={async (e) => {
          const on = (e.target as HTMLInputElement).checked;
          setShown(on);
          setBusy(true);
          setError('');
          try {
            const saved = await api('PATCH', org, { settings: { [name]: on } });
            if (typeof saved?.settings?.[name] === 'boolean') setShown(saved.settings[name]);
          } catch (err) {
            setShown(!on);
            setError(message(err));
          } finally {
            setBusy(false);
          }
        }} /> {label}
      </label>
      <p class="muted small">{note}{!admin && ' Admins change it.'}</p>
      {error && <p class="error" role="alert">{error}</p>}
    </div>
  );
}

export function SettingsPage({ org }: { org: string }) {
  const app = useApp();
  const admin = app.role === 'admin' || app.role === 'owner';
  const o = `/v1/orgs/${enc(org)}`;
  const [repos, reposError, reloadRepos] = useLoad(`${o}/repos`);
  const [members, membersError, reloadMembers] = useLoad(`${o}/members`);
  const [secrets, secretsError, reloadSecrets] = useLoad(admin ? `${o}/secrets` : null);
  const [network, networkError, reloadNetwork] = useLoad(admin ? `${o}/network` : null);
  const [allowHost, setAllowHost] = useState('');
  const [agents, agentsError] = useLoad(`${o}/agents`);
  const [orgInfo, orgError] = useLoad(o);
  const [url, setUrl] = useState('');
  const [credential, setCredential] = useState('');
  const [username, setUsername] = useState('');
  const [memberRole, setMemberRole] = useState('member');
  const [secretName, setSecretName] = useState('');
  const [secretValue, setSecretValue] = useState('');
  useTitle(`Settings · ${app.org?.name ?? org}`);

  return (
    <main class="page">
      <div class="page-head">
        <h1>{app.org?.name ?? org}: settings</h1>
        <span class="muted">You are {app.role === 'admin' ? 'an admin' : `${/^[aeiou]/.test(app.role) ? 'an' : 'a'} ${app.role}`} here.</span>
      </div>
      <p class="muted small">Your own API tokens and sign-in sessions are in <Link to="/settings">your settings</Link>.</p>

      <Section title="Tasks">
        <State data={orgInfo} error={orgError} what="the settings" empty={false}>
          <OrgSetting org={o} name="conventional_titles" value={!!orgInfo?.settings?.conventional_titles} admin={admin}
                      label="Start task titles with a Conventional Commits type (feat:, fix:, …)"
                      note="When off, a task's title keeps its prompt's words. For new tasks; any title can be renamed." />
          <OrgSetting org={o} name="auto_archive_prs" value={orgInfo?.settings?.auto_archive_prs !== false} admin={admin}
                      label="Archive a task when its GitHub pull request is merged or closed"
                      note="The task shows the reason (PR merged); a reopened pull request brings it back." />
        </State>
      </Section>

      <Section title="Repositories">
        <State data={repos} error={reposError} what="repositories"
               empty={!repos?.items?.length && (admin ? 'No repositories yet: connect one below.' : 'No repositories yet: an admin connects them.')}>
          <table><thead><tr><th>Name</th><th>URL</th><th>Default branch</th><th>Credential</th><th /></tr></thead><tbody>
            {repos?.items?.map((r: Json) => (
              <tr><td>{r.github?.html_url ? <a href={r.github.html_url} target="_blank" rel="noopener noreferrer">{r.github.full_name}</a> : (r.name ?? r.repo_id)}
                    {r.github?.archived && <span class="muted"> (archived)</span>}
                    {r.github?.removed_at && <span class="error"> (removed from the GitHub installation: live tasks still use it)</span>}</td>
                <td><code>{r.url}</code></td><td>{r.default_branch}</td>
                <td>{r.github ? <span title="An installation token minted for each git operation">GitHub App</span>
                  : r.credential ? <code>{r.credential}</code> : <span class="muted">none</span>}</td>
                <td>{admin && (!r.github || r.github.removed_at) && <Act label="Remove" danger confirmText={`Disconnect ${r.name ?? r.repo_id}?`}
                                   run={async () => { await api('DELETE', `${o}/repos/${enc(r.repo_id)}`); reloadRepos(); }} />}</td></tr>
            ))}
          </tbody></table>
        </State>
        {admin && (
          <Form label="Connect" onSubmit={async () => {
            await api('POST', `${o}/repos`, credential ? { url, credential } : { url });
            setUrl('');
            setCredential('');
            reloadRepos();
          }}>
            <label>Git URL <input value={url} onInput={field(setUrl)} placeholder="https://github.com/acme/web.git or file:///srv/git/web.git" required /></label>
            <label>Credential (an org secret, for https) <input value={credential} onInput={field(setCredential)} placeholder="GITHUB_TOKEN" /></label>
          </Form>
        )}
      </Section>

      <GithubSection org={o} slug={org} admin={admin} onRepositories={reloadRepos} />

      <Section title="Members">
        <State data={members} error={membersError} what="members" empty={!members?.items?.length && 'No members.'}>
          <table><thead><tr><th>User</th><th>Role</th><th>Since</th><th /></tr></thead><tbody>
            {members?.items?.map((m: Json) => (
              <tr><td>{m.username}{m.username === app.user.username && <span class="muted"> (you)</span>}</td>
                <td>{admin ? (
                  <select aria-label={`Role of ${m.username}`} value={m.role} onChange={async (e) => {
                    try { await api('PATCH', `${o}/members/${enc(m.username)}`, { role: (e.target as HTMLSelectElement).value }); } catch (err) { alert(message(err)); }
                    reloadMembers();
                  }}>{['member', 'admin', 'owner'].map((r) => <option value={r}>{r}</option>)}</select>
                ) : m.role}</td>
                <td><Ago at={m.added_at} /></td>
                <td>{admin && <Act label="Remove" danger confirmText={`Remove ${m.username} from this organization?`}
                                   run={async () => { await api('DELETE', `${o}/members/${enc(m.username)}`); reloadMembers(); }} />}</td></tr>
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
        <Section title="Secrets" note="Values are sealed on the server and never shown again; agents and git get them when they need them.">
          <State data={secrets} error={secretsError} what="secrets" empty={!secrets?.items?.length && 'No secrets yet.'}>
            <table><thead><tr><th>Name</th><th>Set</th><th /></tr></thead><tbody>
              {secrets?.items?.map((s: Json) => (
                <tr><td><code>{s.name}</code></td><td><Ago at={s.updated_at} /></td>
                  <td><Act label="Delete" danger confirmText={`Delete the secret ${s.name}?`}
                           run={async () => { await api('DELETE', `${o}/secrets/${enc(s.name)}`); reloadSecrets(); }} /></td></tr>
              ))}
            </tbody></table>
          </State>
          <Form label="Set" onSubmit={async () => { await api('PUT', `${o}/secrets/${enc(secretName)}`, { value: secretValue }); setSecretValue(''); setSecretName(''); reloadSecrets(); }}>
            <label>Name <input value={secretName} onInput={field(setSecretName)} placeholder="ANTHROPIC_API_KEY" required /></label>
            <label>Value <input type="password" value={secretValue} onInput={field(setSecretValue)} autocomplete="off" required /></label>
          </Form>
        </Section>
      )}

      {admin && (
        <Section title="Network" note={<>Sandboxes with network <code>proxy</code> (every task whose agent calls a model API) reach only these hosts and the model APIs, through Hearth's egress proxy; the model keys stay outside the sandbox (docs/sandboxes.md).</>}>
          <State data={network} error={networkError} what="the allowlist"
                 empty={!network?.items?.length && 'No hosts allowed beyond the model APIs: npm, pip and git over https are refused until you add them.'}>
            <table><thead><tr><th>Host</th><th>Added</th><th /></tr></thead><tbody>
              {network?.items?.map((h: Json) => (
                <tr><td><code>{h.pattern}</code></td><td>by {h.added_by} <Ago at={h.added_at} /></td>
                  <td><Act label="Remove" danger confirmText={`Stop allowing ${h.pattern}?`}
                           run={async () => { await api('POST', `${o}/network/deny`, { hosts: [h.pattern] }); reloadNetwork(); }} /></td></tr>
              ))}
            </tbody></table>
          </State>
          {network && (
            <p class="muted small">
              Model APIs, reached through the proxy with the org's keys put in: {network.defaults?.map((d: string, i: number) => <>{i ? ', ' : ''}<code>{d}</code></>)}. A host without a port is allowed on ports 80 and 443; add <code>:PORT</code> for another.
              {' '}Since the server started: {network.counts?.allowed ?? 0} connections allowed, {network.counts?.refused ?? 0} refused (refusals are in the audit log and the transcript of the task whose agent asked, once a minute per host).
            </p>
          )}
          <Form label="Allow" onSubmit={async () => { await api('POST', `${o}/network/allow`, { hosts: [allowHost] }); setAllowHost(''); reloadNetwork(); }}>
            <label>Host <input value={allowHost} onInput={field(setAllowHost)} placeholder="registry.npmjs.org or *.githubusercontent.com" required /></label>
          </Form>
        </Section>
      )}

      <Section title="Agents" note={<>Agents are installed on the server by its admin, with <code>hearth agents install NAME</code> where the data dir is (docs/agents.md); their keys are org secrets.</>}>
        <State data={agents} error={agentsError} what="agents" empty={!agents?.items?.length && 'No agents are known to this server.'}>
          <table><thead><tr><th>Agent</th><th>Installed</th><th>Credentials</th><th>Network</th></tr></thead><tbody>
            {agents?.items?.map((a: Json) => {
              const missing = (a.credentials ?? []).map((c: Json) => c.name);
              return (
                <tr class={a.installed ? '' : 'muted-row'}>
                  <td>{a.title ?? a.name} <small class="muted"><code>{a.name}</code></small></td>
                  <td>{a.installed ? (a.installed_version ?? 'yes')
                    : <>not installed: <code class="copy">hearth agents install {a.name}</code></>}</td>
                  <td>{!missing.length ? 'none needed' : a.credentials_configured ? 'set'
                    : <>missing: set {missing.map((n: string, i: number) => <>{i ? ' or ' : ''}<code>{n}</code></>)} as an org secret</>}</td>
                  <td>{a.needs_network ? 'its model API, through the egress proxy' : 'none'}</td>
                </tr>
              );
            })}
          </tbody></table>
        </State>
      </Section>
    </main>
  );
}

// --- Your own settings -----------------------------------------------------------------------

// "Chrome 156 on Linux" for a browser's User-Agent; other clients as they name themselves.
function client(ua: string | undefined): string {
  if (!ua) return 'unknown';
  const browser = ua.match(/(Firefox|Edg|Chrome|Version)\/(\d+)/);
  if (!browser || !ua.startsWith('Mozilla/')) return ua;
  const name = { Edg: 'Edge', Version: 'Safari' }[browser[1]] ?? browser[1].replace('HeadlessChrome', 'Chrome');
  const os = /Windows/.test(ua) ? 'Windows' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : '';
  return `${name} ${browser[2]}${os ? ' on ' + os : ''}`;
}

// Your GitHub account: linked, you can sign in with it. Only when the server has a GitHub App.
function GitHubAccount() {
  const { query } = useRoute();
  const [providers] = useLoad('/v1/auth/providers');
  const [linked, linkedError, reload] = useLoad('/v1/auth/github/identity');
  if (!providers?.github?.sign_in) return null;
  const refused = query.get('github_error');
  const gh = linked?.github;
  return (
    <Section title="GitHub" note="Link your GitHub account to sign in with it. Hearth keeps who you are on GitHub, never a GitHub token of yours.">
      {query.get('github') === 'linked' && <p class="notice" role="status">Your GitHub account is linked.</p>}
      {refused && <p class="error" role="alert">{refused}</p>}
      <State data={linked} error={linkedError} what="your GitHub account" empty={false}>
        {gh ? (
          <p class="github-identity">Linked to <strong>{gh.login}</strong> on GitHub. {' '}
            <Act label="Unlink" danger confirmText={`Unlink ${gh.login}? You will sign in with your password only.`}
                 run={async () => { await api('DELETE', '/v1/auth/github'); reload(); }} /></p>
        ) : (
          <p>Not linked. <a class="button" href="/v1/auth/github?link=1">Link your GitHub account</a></p>
        )}
      </State>
    </Section>
  );
}

export function AccountPage() {
  const { user } = useApp();
  const [tokens, tokensError, reloadTokens] = useLoad('/v1/tokens');
  const [sessions, sessionsError, reloadSessions] = useLoad('/v1/auth/sessions');
  const [tokenName, setTokenName] = useState('');
  const [newToken, setNewToken] = useState<Json | null>(null);
  useTitle('Your settings');
  const now = Date.now();
  return (
    <main class="page">
      <div class="page-head"><h1>Your settings</h1><span class="muted">Signed in as {user.username}{user.is_admin ? ', a server admin' : ''}.</span></div>

      <Section title="API tokens" note={<>For the CLI and scripts: <code>hearth login --with-token …</code>, or <code>Authorization: Bearer …</code>. A token is shown once, when it is created.</>}>
        {newToken && <p class="notice" role="status">Your new token “{newToken.name}” (shown once, copy it now): <code>{newToken.token}</code></p>}
        <State data={tokens} error={tokensError} what="tokens" empty={!tokens?.items?.length && 'No tokens yet.'}>
          <table><thead><tr><th>Name</th><th>Created</th><th>Last used</th><th>State</th><th /></tr></thead><tbody>
            {tokens?.items?.map((t: Json) => {
              const expired = t.expires_at && t.expires_at < now;
              return (
                <tr class={t.revoked_at || expired ? 'revoked' : ''}>
                  <td>{t.name}</td><td><Ago at={t.created_at} /></td><td>{t.last_used_at ? <Ago at={t.last_used_at} /> : <span class="muted">never</span>}</td>
                  <td>{t.revoked_at ? <span class="tag bad" title={when(t.revoked_at)}>revoked</span>
                    : expired ? <span class="tag bad">expired</span>
                    : t.expires_at ? <>active, expires <Ago at={t.expires_at} /></> : 'active'}</td>
                  <td>{!t.revoked_at && !expired && <Act label="Revoke" danger confirmText={`Revoke the token "${t.name}"? Whatever uses it stops working.`}
                                                          run={async () => {
                                                            await api('DELETE', `/v1/tokens/${enc(t.id)}`);
                                                            if (newToken?.id === t.id) setNewToken(null);
                                                            reloadTokens();
                                                          }} />}</td>
                </tr>
              );
            })}
          </tbody></table>
        </State>
        <Form label="Create" onSubmit={async () => { setNewToken(await api('POST', '/v1/tokens', { name: tokenName })); setTokenName(''); reloadTokens(); }}>
          <label>Name <input value={tokenName} onInput={field(setTokenName)} placeholder="laptop CLI" required /></label>
        </Form>
      </Section>

      <GitHubAccount />

      <Section title="Sign-in sessions" note="Browsers and devices signed in as you. Revoking one signs it out at once.">
        <State data={sessions} error={sessionsError} what="sessions" empty={!sessions?.items?.length && 'No sessions.'}>
          <table><thead><tr><th>Client</th><th>Signed in</th><th>Expires</th><th /></tr></thead><tbody>
            {sessions?.items?.map((s: Json) => (
              <tr><td title={s.client}>{client(s.client)}{s.current && <> <span class="tag">this browser</span></>}</td>
                <td><Ago at={s.created_at} /></td><td>{when(s.expires_at)}</td>
                <td>{!s.current && <Act label="Revoke" danger run={async () => { await api('DELETE', `/v1/auth/sessions/${enc(s.id)}`); reloadSessions(); }} />}</td></tr>
            ))}
          </tbody></table>
        </State>
      </Section>
    </main>
  );
}

// --- Audit log ------------------------------------------------------------------------------

export function AuditPage({ org }: { org: string }) {
  const [user, setUser] = useState('');
  const [kind, setKind] = useState('');
  const [task, setTask] = useState('');
  const [query, setQuery] = useState('');
  const [log, error] = useLoad(`/v1/orgs/${enc(org)}/audit?limit=200${query}`);
  const [verify, verifyError, reverify] = useLoad(`/v1/orgs/${enc(org)}/audit/verify`);
  useTitle('Audit log');
  return (
    <main class="page">
      <h1>Audit log</h1>
      <p role="status" class={verify && !verify.ok ? 'error' : 'muted'}>
        {verifyError ? verifyError : !verify ? 'Verifying the chain…'
          : verify.ok ? `Chain intact: ${plural(verify.entries, 'entry', 'entries')}.` : `Tampered with at entry ${verify.first_bad.seq}: ${verify.first_bad.reason}`}
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
      <State data={log} error={error} what="the log" empty={!log?.items?.length && (query ? 'No entries match these filters.' : 'No entries yet.')}>
        <table><thead><tr><th>#</th><th>When</th><th>Who</th><th>What</th><th>Outcome</th><th>Target</th></tr></thead><tbody>
          {log?.items?.map((e: Json) => (
            <tr><td>{e.seq}</td><td><Ago at={e.at} /></td><td>{e.username}</td><td><code>{e.kind}</code></td>
              <td class={e.outcome === 'ok' || e.outcome === 'accepted' || e.outcome === 'succeeded' ? '' : 'error'}>{e.outcome}</td>
              <td><code>{e.target}</code></td></tr>
          ))}
        </tbody></table>
      </State>
    </main>
  );
}

// --- Inspector (server admins) ---------------------------------------------------------------

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
  useEffect(() => {
    setItems(null);
    void load(null, false);
  }, [path]);
  return <State data={items} error={error} empty={!items?.length && empty}>{items && render(items)}{next !== null && <button onClick={() => load(next, true)}>More</button>}</State>;
}

export function InspectorPage({ actorId }: { actorId: string }) {
  const [type, setType] = useState('');
  const [state, setState] = useState('');
  useTitle('Inspector');
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
              <td><Link to={`/inspector/${enc(a.id)}`}><code>{JSON.stringify(a.key)}</code></Link></td>
              <td>{a.state}</td><td><Ago at={a.created_at} /></td></tr>
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
      <p><Link to="/inspector">← All actors</Link></p>
      <h1>Actor <code>{id}</code></h1>
      <State data={summary} error={error} empty={false} what="the actor">
        <pre>{JSON.stringify(summary, null, 2)}</pre>
      </State>
      <h2>Queue</h2>
      <p class="muted small">Rejected messages are input a handler refused (a typo, a duplicate): not failures, nothing to retry.</p>
      <div class="row left">{['failed', 'rejected', 'pending', 'completed', 'discarded'].map((q) => (
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

