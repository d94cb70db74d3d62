// A task: its header (title, status, "needs you", the actions that can work now with the
// next one standing out, and each outcome in a sentence), its sessions as tabs with the
// transcript, and its diff. Live through `task:{org}/{task}` from the read's position.
import { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, enc } from './api';
import { useApp, useTitle } from './app';
import { follow, older } from './live';
import { StatusPill } from './org';
import { Transcript } from './transcript';
import { Ago, go, Json, Link, message, plural, useLoad } from './ui';

interface Outcome {
  ok: boolean;
  busy?: boolean;
  text: ComponentChildren;
}

// A web page for the branch, when the origin is a forge we know the shape of.
function branchUrl(repoUrl: string | undefined, branch: string): string | null {
  const m = repoUrl?.match(/^https:\/\/(github\.com|gitlab\.com|codeberg\.org)\/(.+?)(\.git)?\/?$/);
  if (!m) return null;
  return `https://${m[1]}/${m[2]}/${m[1] === 'gitlab.com' ? '-/tree' : m[1] === 'codeberg.org' ? 'src/branch' : 'tree'}/${branch}`;
}

const kKindWords: Record<string, string> = {
  push: 'Push', sync: 'Sync', merge: 'Merge', revert: 'Revert', commit: 'Commit', pr: 'Opening the pull request',
  'pr/merge': 'Merging the pull request', 'pr/address-reviews': 'Reading the review feedback',
};

// What a finished git flow did, in a sentence.
function opOutcome(op: Json, task: Json): Outcome {
  const branch = <code>{task.branch}</code>;
  const base = <code>{task.base_branch}</code>;
  const files: string[] | undefined = op.result?.conflict_files;
  if (op.kind === 'sync' && files?.length)
    return { ok: false, text: <>Sync stopped on conflicts in {plural(files.length, 'file')}: {files.join(', ')}. The branch is as it was; ask the agent to resolve them, then sync again.</> };
  if (op.status !== 'succeeded') return { ok: false, text: <>{kKindWords[op.kind] ?? op.kind} failed: {op.error ?? 'no reason given'}</> };
  const url = branchUrl(task.repo_url, task.branch);
  switch (op.kind) {
    case 'push':
      return { ok: true, text: <>Pushed {url ? <a href={url} target="_blank" rel="noopener noreferrer">{branch}</a> : branch} to origin.</> };
    case 'merge':
      return { ok: true, text: <>Merged {branch} into {base} on origin (fast-forward).</> };
    case 'sync':
      if (op.result?.took_theirs) return { ok: true, text: <>Took the commits pushed to {branch} on GitHub; the agent's work is on top.</> };
      return { ok: true, text: <>Rebased {branch} onto the latest {base}.</> };
    case 'revert':
      // An unchanged file (result.reverted false): the flow's own words, "no change to PATH".
      if (op.result?.reverted === false) return { ok: true, text: <>No change to <code>{op.args?.path ?? 'the file'}</code>: nothing to revert.</> };
      return { ok: true, text: <>Reverted <code>{op.args?.path ?? 'the file'}</code> to {base}.</> };
    case 'commit':
      return { ok: true, text: <>Committed the changes on {branch}.</> };
    case 'pr': {
      const pull = op.result?.pull ?? {};
      return { ok: true, text: <>{pull.linked ? 'Linked the open' : 'Opened'} pull request <a href={pull.url} target="_blank" rel="noopener noreferrer">#{pull.number}</a> of {branch} into {base}.</> };
    }
    default:
      return { ok: true, text: <>{op.kind} done.</> };
  }
}

const kActionWords: Record<string, string> = {
  archive: 'Archived: the sandbox is stopped and the transcript kept. Unarchive brings it back.',
  unarchive: 'Unarchived: the sandbox starts again.',
  kill: 'Killed: the sandbox and its sessions are gone; the record stays.',
  retry: 'Setting up the sandbox again…',
  stop: 'Asked the agent to stop.',
  'pr/merge': 'Merged the pull request on GitHub.',
  'pr/address-reviews': 'The review feedback went to the agent: its turn is in the transcript.',
};

export function TaskView({ org, taskId }: { org: string; taskId: string }) {
  const app = useApp();
  const base = `/v1/orgs/${enc(org)}/tasks/${enc(taskId)}`;
  const [task, setTask] = useState<Json | null>(null);
  const [ops, setOps] = useState<Json[]>([]);
  const [error, setError] = useState<{ status: number; text: string } | null>(null);
  const [session, setSession] = useState('');
  const [tab, setTab] = useState<'transcript' | 'diff'>('transcript');
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  // The repository (an org read: no task actor woken), for its GitHub page.
  const [repo] = useLoad(task?.repo_id ? `/v1/orgs/${enc(org)}/repos/${enc(task.repo_id)}` : null);
  const latest = useRef<Json>(null);
  latest.current = task;
  useTitle(task?.title ?? 'Task');

  useEffect(() => {
    app.markRead(taskId);
    // The newer of what we have and what came (a read and an event may cross).
    const newer = (t: Json) => setTask((old: Json) => (old && (old.version ?? 0) > (t.version ?? 0) ? old : t));
    const upsert = (op: Json) => setOps((list) => [op, ...list.filter((o) => o.op_id !== op.op_id)]);
    return follow(`task:${org}/${taskId}`,
      async () => {
        const [t, o] = await Promise.all([api('GET', base), api('GET', `${base}/ops?limit=20`).catch(() => ({ items: [] }))]);
        return { ...t, ops: o.items, position: older(t.position, o.position) };
      },
      (t) => {
        const { ops: list, ...rest } = t as Json;
        newer(rest);
        setOps(list);
        setError(null);
      },
      (e) => {
        if (e.name === 'task.changed' && e.payload) newer(e.payload);
        if (e.name === 'task.op.started' && e.payload) upsert({ ...e.payload, status: 'running' });
        if (e.name === 'task.op.finished' && e.payload) {
          upsert(e.payload);
          if (e.payload.kind !== 'diff' && latest.current) setOutcome(opOutcome(e.payload, latest.current));
        }
      },
      (e) => setError({ status: e instanceof ApiError ? e.status : 0, text: message(e) }));
  }, [taskId]);

  useEffect(() => {
    const list = task?.sessions ?? [];
    if (list.length && !list.some((s: Json) => s.session_id === session)) setSession(list[list.length - 1].session_id);
  }, [task]);

  const act = async (kind: string, body: Json = {}) => {
    setOutcome({ ok: true, busy: true, text: `${kKindWords[kind] ?? kind[0].toUpperCase() + kind.slice(1)}…` });
    try {
      const r = await api('POST', `${base}/${kind}`, body);
      if (r?.op_id) return;  // its outcome comes with task.op.finished
      if (r?.task_id && r.version !== undefined) setTask((old: Json) => (old && (old.version ?? 0) > r.version ? old : { ...old, ...r }));
      setOutcome({ ok: true, text: kActionWords[kind] ?? 'Done.' });
    } catch (e) {
      setOutcome({ ok: false, text: message(e) });
    }
  };

  const back = <p class="back"><Link to={`/orgs/${enc(org)}`}>← Tasks</Link></p>;
  if (error && !task)
    return <article class="task-view">{back}<div class="page">{error.status === 404
      ? <><h1>Not found</h1><p>There is no task <code>{taskId}</code> in this organization.</p></>
      : <p class="error" role="alert">{error.text}</p>}</div></article>;
  if (!task) return <article class="task-view">{back}<p class="muted loading">Loading the task…</p></article>;

  const live = task.status !== 'archived' && task.status !== 'killed';
  const running = task.running_op;
  const changes = task.diff?.files ?? 0;
  const blocked = !live ? `The task is ${task.status}.`
    : task.status === 'provisioning' ? 'The sandbox is still being set up.'
    : task.status === 'error' ? 'Setting up the sandbox failed: retry first.'
    : task.sandbox_state && task.sandbox_state !== 'ready' ? `The sandbox is ${task.sandbox_state}.`
    : running ? `${kKindWords[running.kind] ?? running.kind} is running.` : '';
  // Pushed already, unless a turn ended since the last push.
  const lastPush = ops.find((o) => o.kind === 'push' && o.status === 'succeeded');
  const lastTurn = Math.max(0, ...(task.sessions ?? []).map((s: Json) => s.updated_at ?? 0));
  const unpushed = changes > 0 && (!lastPush || lastTurn > (lastPush.ended_at ?? 0));
  const primary = task.status === 'error' ? 'retry' : task.status === 'conflict' || task.pull?.pushed_elsewhere ? 'sync' : task.status === 'archived' ? 'unarchive'
    : task.status === 'running' ? '' : unpushed ? 'push' : changes ? 'merge' : '';
  const button = (kind: string, label: string, why: string, extra: Partial<{ danger: boolean; run: () => void }> = {}) => (
    <button class={[kind === primary ? 'primary' : '', extra.danger ? 'danger' : ''].join(' ').trim() || undefined}
            disabled={!!why || !!outcome?.busy} title={why || undefined}
            onClick={extra.run ?? (() => act(kind))}>{label}</button>
  );
  const needs = task.needs_you;
  const pull = task.pull;
  const pullOpen = pull && (pull.state === 'open' || pull.state === 'draft');
  const onGitHub = !!repo?.github;

  return (
    <article class="task-view" aria-labelledby="task-title">
      <header class="task-head">
        {back}
        <Title base={base} task={task} />
        <p class="meta">
          <StatusPill task={task} long />{' '}
          <code>{task.branch}</code> from <code>{task.base_branch}</code> · {repo?.github?.html_url
            ? <a href={repo.github.html_url} target="_blank" rel="noopener noreferrer" title="On GitHub">{repo.github.full_name}</a>
            : task.repo_id} · owner {task.owner?.username ?? task.owner_name} · {task.agent} · updated <Ago at={task.updated_at} />
        </p>
        {needs && (
          <p class="needs-you" role="status"><strong>Needs you:</strong> {needs.message}
            {needs.reason === 'permission' && <> <button class="link" onClick={() => { setTab('transcript'); document.querySelector('.permission')?.scrollIntoView({ block: 'nearest' }); }}>Answer it</button></>}
          </p>
        )}
        {task.status === 'provisioning' && <p class="progress" role="status">Setting up the sandbox: {task.phase ?? 'starting'}…</p>}
        {task.status === 'error' && <p class="error" role="alert">Setting up the sandbox failed while {task.error_step ?? 'provisioning'}: {task.error}</p>}
        {task.conflict_files?.length > 0 && <p class="error" role="alert">The last sync stopped on conflicts in: {task.conflict_files.join(', ')}</p>}
        {task.archive_reason && <p class="notice" role="status">Archived: {task.archive_reason}.</p>}
        {pull && (
          <p class="pull-request" data-pull={pull.number}>
            Pull request <a href={pull.url} target="_blank" rel="noopener noreferrer">#{pull.number}</a>{' '}
            <span class={`status pr-${pull.state}`}>{pull.state}</span>
            {pull.review_state && <> · review: <span class={`review-${pull.review_state}`}>{pull.review_state.replace('_', ' ')}</span></>}
            {pull.last_review && <span class="muted"> by {pull.last_review.author}</span>}
            {pull.checks && <> · <span class={`checks-${pull.checks.state}`} title={`${pull.checks.passed} passed, ${pull.checks.failed} failed, ${pull.checks.pending} running`}>
              checks {pull.checks.state === 'success' ? 'passed' : pull.checks.state === 'failure' ? 'failing' : 'running'}</span></>}
            {pull.mergeable === false && <> · <strong>not mergeable</strong> (conflicts with {task.base_branch})</>}
            {pull.pushed_elsewhere && <> · <strong>someone pushed to it on GitHub</strong>: sync to take their commits</>}
            {pull.reviews_waiting > 0 && <> · <strong>{plural(pull.reviews_waiting, 'review comment')} waiting</strong></>}
          </p>
        )}
        <div class="actions" role="toolbar" aria-label="Task actions">
          {task.status === 'error' && button('retry', 'Retry setup', '')}
          {task.status === 'running' && button('stop', 'Stop the agent', '')}
          {live && button('push', 'Push', blocked || (changes ? '' : 'No changes to push.'))}
          {live && button('sync', pull?.pushed_elsewhere ? 'Sync: take their commits' : 'Sync', blocked)}
          {live && button('merge', 'Merge', blocked || (changes ? '' : 'No changes to merge.'))}
          {live && onGitHub && !pullOpen && button('pr', 'Open pull request', blocked || (changes ? '' : 'No changes to open a pull request for.'))}
          {live && pullOpen && pull.reviews_waiting > 0 && button('pr/address-reviews', 'Address review comments',
            task.status === 'running' ? 'The agent is working: wait for its turn to end.' : blocked)}
          {live && pull?.state === 'open' && button('pr/merge', 'Merge pull request', pull.mergeable === false ? 'GitHub cannot merge it: it conflicts.' : '', {
            run: () => confirm(`Merge pull request #${pull.number} on GitHub?`) && act('pr/merge'),
          })}
          {live ? button('archive', 'Archive', '') : task.status === 'archived' && button('unarchive', 'Unarchive', '')}
          {task.status !== 'killed' && button('kill', 'Kill', '', {
            danger: true, run: () => confirm('Kill this task? Its sandbox and sessions end; the record stays.') && act('kill'),
          })}
        </div>
        {outcome && <p class={outcome.ok ? 'outcome' : 'outcome error'} role="status">{outcome.text}</p>}
      </header>
      <div class="tabs" role="tablist">
        {(task.sessions ?? []).map((s: Json) => (
          <button role="tab" aria-selected={tab === 'transcript' && s.session_id === session}
                  onClick={() => { setSession(s.session_id); setTab('transcript'); }}>
            {s.title} {s.pending_permissions > 0 ? <small class="needs-dot">needs you</small> : s.status === 'running' ? <small>running</small> : null}
          </button>
        ))}
        <button role="tab" aria-selected={tab === 'diff'} onClick={() => setTab('diff')}>
          Diff {task.diff && <small>{changes ? `${plural(changes, 'file')} +${task.diff.added} −${task.diff.removed}` : 'no changes'}</small>}
        </button>
      </div>
      {tab === 'diff' ? <Diff base={base} refreshedAt={task.diff?.refreshed_at} live={live} onRevert={(path) => act('revert', { path })} />
        : session ? <Transcript key={session} org={org} taskId={taskId} session={session} live={live} taskStatus={task.status} />
        : <p class="muted body-note">{task.status === 'provisioning' ? 'The first session starts once the sandbox is ready.'
                                      : 'No session yet.'}</p>}
    </article>
  );
}

function Title({ base, task }: { base: string; task: Json }) {
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(task.title);
  const [error, setError] = useState('');
  if (!editing)
    return <h1 id="task-title" class="title" title="Click to rename" onClick={() => { setValue(task.title); setEditing(true); }}>{task.title}</h1>;
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
             onKeyDown={(e) => e.key === 'Escape' && setEditing(false)} onBlur={() => !error && setEditing(false)} />
      {error && <span class="error">{error}</span>}
    </form>
  );
}

// --- The diff -------------------------------------------------------------------------------

function Diff({ base, refreshedAt, live, onRevert }:
  { base: string; refreshedAt: number | null; live: boolean; onRevert: (path: string) => void }) {
  const [files, setFiles] = useState<Json[] | null>(null);
  const [open, setOpen] = useState<Record<string, string>>({});
  const [error, setError] = useState('');
  useEffect(() => {
    api('GET', `${base}/diff?limit=1000`).then((r) => { setFiles(r.items); setError(''); }).catch((e) => setError(message(e)));
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
  if (error && !files) return <p class="error body-note" role="alert">{error}</p>;
  if (!files) return <p class="muted loading body-note">Loading the diff…</p>;
  if (!files.length) return <p class="muted body-note">No changes against the base branch.</p>;
  return (
    <div class="task-body">
      {error && <p class="error" role="alert">{error}</p>}
      <ul class="diff">
        {files.map((f) => (
          <li key={f.path}>
            <div class="file">
              <button class="link" onClick={() => show(f.path)} aria-expanded={open[f.path] !== undefined}>
                <span class={`fstatus f-${f.status}`} title={{ A: 'added', M: 'modified', D: 'deleted' }[f.status as string]}>{f.status}</span> {f.path}
              </button>
              <span class="counts">{f.binary ? 'binary' : `+${f.added} −${f.removed}`}</span>
              {live && <button class="quiet" title={`Put ${f.path} back as it is on the base branch`}
                               onClick={() => confirm(`Revert ${f.path}? The agent's changes to it are lost.`) && onRevert(f.path)}>Revert</button>}
            </div>
            {open[f.path] !== undefined && <pre class="patch">{open[f.path].split('\n').map((l) =>
              <span class={l.startsWith('+') ? 'add' : l.startsWith('-') ? 'del' : l.startsWith('@@') ? 'hunk' : ''}>{l + '\n'}</span>)}</pre>}
          </li>
        ))}
      </ul>
    </div>
  );
}

// An open pull request no task works on yet (a row of the task list with no actor behind
// it): what it is, and "Work on this pull request", which makes its task on its branch.
export function PullView({ org, pullId }: { org: string; pullId: string }) {
  const [row, error] = useLoad(`/v1/orgs/${enc(org)}/tasks/${enc(pullId)}`);
  const [agents] = useLoad(`/v1/orgs/${enc(org)}/agents`);
  const [agent, setAgent] = useState('mock');
  const [prompt, setPrompt] = useState('');
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState('');
  useTitle(row?.title ?? 'Pull request');
  const usable = (agents?.items ?? []).filter((a: Json) => a.installed);
  useEffect(() => {
    if (usable.length && !usable.some((a: Json) => a.name === agent)) setAgent(usable[0].name);
  }, [agents]);
  const back = <p class="back"><Link to={`/orgs/${enc(org)}`}>← Tasks</Link></p>;
  if (error) return <article class="task-view">{back}<div class="page"><p class="error" role="alert">{error}</p></div></article>;
  if (!row) return <article class="task-view">{back}<p class="muted loading">Loading the pull request…</p></article>;
  if (row.kind !== 'pull_request') {
    go(`/orgs/${enc(org)}/tasks/${enc(row.task_id)}`);
    return null;
  }
  const work = async () => {
    setBusy(true);
    setFailed('');
    try {
      const body: Json = { pull: pullId, agent };
      if (prompt.trim()) body.prompt = prompt;
      const t = await api('POST', `/v1/orgs/${enc(org)}/tasks`, body);
      go(`/orgs/${enc(org)}/tasks/${enc(t.task_id)}`);
    } catch (e) {
      setFailed(message(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <article class="task-view pull-view" aria-labelledby="pull-title">
      <header class="task-head">
        {back}
        <h1 id="pull-title">{row.title}</h1>
        <p class="meta">
          <span class="status s-pull_request">open PR</span>{' '}
          <a href={row.pull?.url} target="_blank" rel="noopener noreferrer">#{row.pull?.number}</a> by {row.owner_name} ·{' '}
          <code>{row.branch}</code> into <code>{row.base_branch}</code> · {row.repo_id} · updated <Ago at={row.updated_at} />
        </p>
        <p class="muted">No task works on this pull request yet. One gets a sandbox with its branch checked out.</p>
        <form class="work-on-pull" onSubmit={(e) => { e.preventDefault(); void work(); }}>
          <label>Agent
            <select name="agent" value={agent} onChange={(e) => setAgent((e.target as HTMLSelectElement).value)}>
              {(agents?.items ?? [{ name: 'mock', installed: true }]).map((a: Json) => (
                <option value={a.name} disabled={!a.installed}>{a.title ?? a.name}{a.installed ? '' : ' (not installed)'}</option>
              ))}
            </select>
          </label>
          <label>First prompt (optional)
            <textarea name="prompt" rows={3} value={prompt} placeholder="What should the agent do on this branch?"
                      onInput={(e) => setPrompt((e.target as HTMLTextAreaElement).value)} />
          </label>
          {failed && <p class="error" role="alert">{failed}</p>}
          <button type="submit" class="primary" disabled={busy}>{busy ? 'Creating…' : 'Work on this pull request'}</button>
        </form>
      </header>
    </article>
  );
}
