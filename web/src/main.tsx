// Hearth in the browser: sign-in, then the shell: the top bar, the one "reconnecting"
// banner, the page for the route, the New task dialog (`c`), and the page title with how
// many tasks need you. The stores every page shares live here: the organization's tasks
// and the caller's feed, each read once and kept current by its live topic. See
// docs/web.md.
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { App, AppContext, Feed, mergeSummary, useApp, useTitle } from './app';
import { api, enc, setCsrf } from './api';
import { follow, resume, useLiveState } from './live';
import { NewTask, Sidebar, TaskList } from './org';
import { PullView, TaskView } from './task';
import { AccountPage, AuditPage, FeedPage, InspectorPage, SettingsPage } from './pages';
import { BillingBanner, BillingPage } from './billing';
import { go, Json, Link, message, plural, typing, useRoute } from './ui';

const active = (t: Json) => t.status !== 'archived' && t.status !== 'killed';

// The organization's live tasks: read with their position, then `org:{slug}`.
function useOrgTasks(org: string): Json[] | null {
  const [tasks, setTasks] = useState<Json[] | null>(null);
  useEffect(() => {
    setTasks(null);
    if (!org) return;
    return follow(`org:${org}`, () => api('GET', `/v1/orgs/${enc(org)}/tasks?limit=500`),
      (r) => setTasks(r.items.filter(active)),
      (e) => {
        if (e.name === 'organization.task.changed' && e.payload)
          setTasks((list) => mergeSummary(list ?? [], e.payload, active));
        if (e.name === 'organization.pull.removed' && e.payload)
          setTasks((list) => (list ?? []).filter((t) => t.task_id !== e.payload.task_id));
      },
      () => setTasks((list) => list ?? []));
  }, [org]);
  return tasks;
}

// The caller's feed: which tasks are unread, and the browser notifications.
function useFeed(viewing: string, markRead: (taskId: string) => void): Feed {
  const [items, setItems] = useState(new Map<string, Json>());
  const seen = useRef({ viewing, markRead });
  seen.current = { viewing, markRead };
  useEffect(() => follow('feed', () => api('GET', '/v1/me/feed?limit=500'),
    (r) => setItems(new Map(r.items.map((i: Json) => [i.task_id, i]))),
    (e) => {
      const p = e.payload ?? {};
      if (e.name === 'user.feed.bumped' && p.item) {
        const item = { ...p.item, unread: p.item.unread ?? true };
        // What the person is looking at is read already.
        if (item.task_id === seen.current.viewing) {
          item.unread = false;
          seen.current.markRead(item.task_id);
        }
        setItems((m) => new Map(m).set(item.task_id, item));
        const note = p.notification;
        if (note && 'Notification' in window && Notification.permission === 'granted' && document.visibilityState !== 'visible')
          new Notification(`Hearth: ${item.title}`, { body: note.message, tag: item.task_id });
      }
      if (e.name === 'user.feed.read') {
        setItems((m) => {
          const next = new Map(m);
          for (const [id, i] of next) {
            if (p.left && i.org_id === p.org_id) next.delete(id);
            else if (p.all || id === p.task_id) next.set(id, { ...i, unread: false });
          }
          return next;
        });
      }
    }, () => {}), []);
  return useMemo(() => ({ items, unread: [...items.values()].filter((i) => i.unread).length }), [items]);
}

// --- Sign-in ----------------------------------------------------------------------------

function SignIn({ onSignedIn }: { onSignedIn: (user: Json) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [providers, setProviders] = useState<Json | null>(null);
  // A refused "Sign in with GitHub" lands here as /sign-in?error=…: say it.
  const refused = new URLSearchParams(location.search).get('error') ?? '';
  useEffect(() => {
    document.title = 'Sign in · Hearth';
    api('GET', '/v1/auth/providers').then(setProviders, () => setProviders(null));
  }, []);
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
          <input name="username" autocomplete="username" value={username} required autofocus
                 onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" value={password} required
                 onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        </label>
        {(error || refused) && <p class="error" role="alert">{error || refused}</p>}
        <button type="submit" class="primary" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
        {providers?.github?.sign_in && (
          <a class="button github-sign-in" href={`/v1/auth/github?next=${encodeURIComponent(location.pathname === '/sign-in' ? '/' : location.pathname + location.search)}`}>
            Sign in with GitHub
          </a>
        )}
        <p class="hint">
          First run? The server admin is <code>admin</code>; its password is in <code>DATA_DIR/initial-admin-password</code>.
        </p>
      </form>
    </main>
  );
}

// --- The shell ----------------------------------------------------------------------------

// What a path names. Unknown paths are a 404 page, not a blank one.
type Route =
  | { page: 'home' }
  | { page: 'tasks'; org: string }
  | { page: 'task'; org: string; task: string }
  | { page: 'org-settings'; org: string }
  | { page: 'audit'; org: string }
  | { page: 'billing'; org: string }
  | { page: 'feed' }
  | { page: 'account' }
  | { page: 'inspector'; actor: string }
  | { page: 'missing' };

function parse(path: string): Route {
  const p = path.split('/').filter(Boolean).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return '\u0000';
    }
  });
  if (!p.length) return { page: 'home' };
  if (p[0] === 'orgs' && p[1]) {
    if (p.length === 2) return { page: 'tasks', org: p[1] };
    if (p.length === 4 && p[2] === 'tasks') return { page: 'task', org: p[1], task: p[3] };
    if (p.length === 3 && p[2] === 'settings') return { page: 'org-settings', org: p[1] };
    if (p.length === 3 && p[2] === 'audit') return { page: 'audit', org: p[1] };
    if (p.length === 3 && p[2] === 'billing') return { page: 'billing', org: p[1] };
  }
  if (p.length === 1 && p[0] === 'feed') return { page: 'feed' };
  if (p.length === 1 && p[0] === 'settings') return { page: 'account' };
  if (p[0] === 'inspector' && p.length <= 2) return { page: 'inspector', actor: p[1] ?? '' };
  return { page: 'missing' };
}

function NotFound({ what }: { what?: string }) {
  const { orgs } = useApp();
  useTitle('Not found');
  return (
    <main class="page not-found">
      <h1>Not found</h1>
      <p>{what ?? <>There is no page at <code>{location.pathname}</code>.</>}</p>
      <p>{orgs[0] ? <Link to={`/orgs/${enc(orgs[0].slug)}`}>Go to {orgs[0].name}'s tasks</Link> : <Link to="/">Go home</Link>}</p>
    </main>
  );
}

function Banner() {
  const live = useLiveState();
  if (live !== 'offline') return null;
  return <p class="banner" role="status">Live updates lost; reconnecting…</p>;
}

function Shell({ user, onSignedOut }: { user: Json; onSignedOut: () => void }) {
  const { path } = useRoute();
  const route = parse(path);
  const [orgs, setOrgs] = useState<Json[] | null>(null);
  const [error, setError] = useState('');
  const [lastOrg, setLastOrg] = useState('');
  const [creating, setCreating] = useState(false);
  const routeOrg = 'org' in route ? route.org : '';
  const known = orgs?.find((o) => o.slug === routeOrg);
  // While the orgs load, the route's org is taken at its word (its reads start at once);
  // one the caller is not in gets the 404 page once they are known.
  const slug = known || (!orgs && routeOrg) ? routeOrg : lastOrg || orgs?.[0]?.slug || '';
  const org = orgs?.find((o) => o.slug === slug) ?? null;
  useEffect(() => {
    if (known) setLastOrg(routeOrg);
  }, [routeOrg, !!known]);
  const tasks = useOrgTasks(slug);
  const viewing = route.page === 'task' ? route.task : '';
  const markRead = (taskId: string) => {
    if (slug) void api('POST', `/v1/orgs/${enc(slug)}/tasks/${enc(taskId)}/read`, {}).catch(() => {});
  };
  const feed = useFeed(viewing, markRead);
  const live = useLiveState();

  useEffect(() => {
    api('GET', '/v1/orgs')
      .then((r) => {
        setOrgs(r.items);
        if (location.pathname === '/' && r.items.length) go(`/orgs/${enc(r.items[0].slug)}`, true);
      })
      .catch((e) => setError(message(e)));
  }, []);

  // The stream said the credential is gone: check, and sign out here too when it is;
  // when another tab signed in again meanwhile, follow with the new one.
  useEffect(() => {
    if (live !== 'signed_out') return;
    api('GET', '/v1/auth/session')
      .then((s) => {
        setCsrf(s.csrf_token);
        resume();
      })
      .catch((e) => e.status === 401 && onSignedOut());
  }, [live]);

  // `c` opens New task (not while typing in a field, nor with a modifier).
  useEffect(() => {
    const key = (e: KeyboardEvent) => {
      if (e.key !== 'c' || e.metaKey || e.ctrlKey || e.altKey || typing(e) || !slug) return;
      if (document.querySelector('[role="dialog"]')) return;
      e.preventDefault();
      setCreating(true);
    };
    addEventListener('keydown', key);
    return () => removeEventListener('keydown', key);
  }, [slug]);

  const signOut = async () => {
    try {
      await api('POST', '/v1/auth/sign-out', {});
    } finally {
      onSignedOut();
    }
  };

  const app: App = {
    user, orgs: orgs ?? [], org, role: org?.role ?? '', tasks, feed,
    newTask: () => setCreating(true), markRead,
  };
  const admin = app.role === 'admin' || app.role === 'owner';
  const orgBase = org ? `/orgs/${enc(org.slug)}` : '';
  const page = route.page;

  let body;
  if (!orgs && page !== 'tasks' && page !== 'task')
    body = error ? <main class="page"><p class="error" role="alert">{error}</p></main> : <main class="page"><p class="muted loading">Loading…</p></main>;
  else if (orgs && routeOrg && !known) body = <NotFound what={<>There is no organization <code>{routeOrg}</code>, or you are not one of its members.</>} />;
  else if (page === 'home')
    body = <main class="page empty-state"><p>You are not in an organization yet. A server admin creates one with <code>hearth org create NAME</code> and adds you.</p></main>;
  else if (page === 'tasks' || page === 'task')
    body = (
      <div class={page === 'task' ? 'org has-task' : 'org'}>
        <Sidebar org={slug} current={viewing} />
        <main class="content">
          {page === 'task' && route.task.startsWith('pr_') ? <PullView key={`${slug}/${route.task}`} org={slug} pullId={route.task} />
           : page === 'task' ? <TaskView key={`${slug}/${route.task}`} org={slug} taskId={route.task} />
                           : <TaskList key={slug} org={slug} />}
        </main>
      </div>
    );
  else if (page === 'org-settings') body = <SettingsPage key={slug} org={slug} />;
  else if (page === 'audit') body = admin ? <AuditPage key={slug} org={slug} /> : <NotFound what="The audit log is for the organization's admins and owners." />;
  else if (page === 'billing') body = <BillingPage key={slug} org={slug} />;
  else if (page === 'feed') body = <FeedPage />;
  else if (page === 'account') body = <AccountPage />;
  else if (page === 'inspector') body = user.is_admin ? <InspectorPage actorId={route.actor} /> : <NotFound what="The inspector is for server administrators." />;
  else body = <NotFound />;

  return (
    <AppContext.Provider value={app}>
      <div class="shell">
        <header class="top">
          <Link to={orgBase || '/'} class="brand">Hearth</Link>
          {orgs && orgs.length > 1 && (
            <label class="org-switch">
              <span class="visually-hidden">Organization</span>
              <select value={slug} onChange={(e) => {
                const to = `/orgs/${enc((e.target as HTMLSelectElement).value)}`;
                go(page === 'org-settings' ? to + '/settings' : page === 'audit' ? to + '/audit' : page === 'billing' ? to + '/billing' : to);
              }}>
                {orgs.map((o) => <option value={o.slug}>{o.name}</option>)}
              </select>
            </label>
          )}
          {orgs?.length === 1 && <span class="org-name">{orgs[0].name}</span>}
          <nav class="main-nav" aria-label="Main">
            {org && <Link to={orgBase} class="nav" current={page === 'tasks' || page === 'task'}>Tasks</Link>}
            <Link to="/feed" class="nav" current={page === 'feed'}
                  title={feed.unread ? `${plural(feed.unread, 'unread task')}` : undefined}>{feed.unread ? `Feed (${feed.unread})` : 'Feed'}</Link>
            {org && <Link to={`${orgBase}/settings`} class="nav" current={page === 'org-settings'}>Settings</Link>}
            {org && admin && <Link to={`${orgBase}/audit`} class="nav" current={page === 'audit'}>Audit log</Link>}
            {org && app.role === 'owner' && <Link to={`${orgBase}/billing`} class="nav" current={page === 'billing'}>Billing</Link>}
            {user.is_admin && <Link to="/inspector" class="nav" current={page === 'inspector'}>Inspector</Link>}
          </nav>
          <span class="spacer" />
          <Link to="/settings" class="nav who" current={page === 'account'} title="Your settings: API tokens and sign-in sessions">{user.username}</Link>
          <button class="quiet" onClick={signOut}>Sign out</button>
        </header>
        <Banner />
        {org && <BillingBanner key={org.slug} org={org.slug} />}
        {body}
        {creating && org && <NewTask org={org.slug} onClose={() => setCreating(false)}
                                     onCreated={(id) => { setCreating(false); go(`${orgBase}/tasks/${enc(id)}`); }} />}
      </div>
    </AppContext.Provider>
  );
}

// --- Start ------------------------------------------------------------------------------

function Root() {
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
  // Signed in (here, in another tab, or back from GitHub): the sign-in page leads home.
  if (location.pathname === '/sign-in') history.replaceState(null, '', '/');
  return <Shell user={user} onSignedOut={() => { setCsrf(''); setUser(null); go('/', true); }} />;
}

render(<Root />, document.getElementById('app')!);
