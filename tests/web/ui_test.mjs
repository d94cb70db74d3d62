// The web frontend in real Chromium (Debian's, headless) driven by playwright-core,
// against a real `hearth serve` on a free port: sign in, create a task with the mock
// agent through the dialog and watch it stream to idle, tool calls as cards that update
// in place, push, an agent's <script> and <img onerror> rendered as inert text, "needs
// you" in the sidebar and the title, the 400 px layout with a permission card in view,
// the other pages, five tabs live at once on one shared stream, and the server going
// away and coming back. Screenshots go to OUT_DIR.
//
// Usage: node ui_test.mjs HEARTH_BINARY OUT_DIR
// With HEARTH_WEB_DIR set, the server serves that built frontend (`--web-dir`); by
// default, the one beside the binary (build/web).
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { browserTest, serveHearth, signInApi, stop } from './hearth_process.mjs';

// playwright-core is one of the web frontend's dev packages (web/node_modules).
const web = join(dirname(fileURLToPath(import.meta.url)), '../../web');
const { chromium } = createRequire(join(web, 'package.json'))('playwright-core');

const [hearth, outDir] = process.argv.slice(2);
mkdirSync(outDir, { recursive: true });
const scratch = mkdtempSync(join(tmpdir(), 'hearth-web-'));
const password = 'web-test-password-1';
let server;
let browser;
const { check, run } = browserTest();

// Polls `predicate` until it holds (true) or `ms` pass (false): for states the page
// cannot show, such as the server's count of open streams.
async function eventually(predicate, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await predicate()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Starts `hearth serve` (on `port`, 0: a free one); resolves with its base URL.
async function start(port = 0) {
  const args = ['--log-level', 'warn', 'serve', '--port', String(port), '--data-dir', join(scratch, 'data'),
                '--file-repo-root', scratch];
  if (process.env.HEARTH_WEB_DIR) args.push('--web-dir', process.env.HEARTH_WEB_DIR);
  const started = await serveHearth(hearth, args, { HEARTH_ADMIN_PASSWORD: password });
  server = started.child;
  return started.url;
}

// A shell script for the mock agent's `/run sh .git/hold.sh`: it waits (at most a minute)
// for the file .git/release, then exits 0; without it, it fails.
const holdScript = 'for i in $(seq 600); do [ -e .git/release ] && exit 0; sleep 0.1; done; exit 1';

// Makes the file `.git/<name>` in the work dir of the sandbox whose .git holds `marker`
// (the tasks' sandboxes are <data dir>/sandboxes/<id>/work).
function release(marker, name) {
  const root = join(scratch, 'data', 'sandboxes');
  const work = readdirSync(root).map((id) => join(root, id, 'work')).filter((w) => existsSync(join(w, '.git', marker)));
  if (work.length !== 1) throw new Error(`expected one sandbox with .git/${marker}, found ${work.length}`);
  writeFileSync(join(work[0], '.git', name), '');
}

// Whether the element `selector` has the focus (waiting a moment for it to get it).
function focused(page, selector) {
  return page.waitForFunction((s) => document.activeElement?.matches(s), selector, { timeout: 5000 }).then(() => true, () => false);
}

// Signs in on `page` (at the sign-in form) and waits for the org's task list.
async function signIn(page, username, pass) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(pass);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('nav.sidebar').waitFor();
}

// Errors in the page are failures; refused requests (401 before sign-in) are the
// browser's console noise, not the page's errors.
function watchErrors(page, into) {
  page.on('pageerror', (e) => into.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && into.push(m.text()));
}

async function main() {
  let base = await start();
  // Set up through the API: an org and a repository with a bare remote.
  const { call } = await signInApi(base, 'admin', password);
  // The server's open event streams (its metrics answer loopback clients).
  const streams = async () => Number((await (await fetch(`${base}/metrics`)).text()).match(/^hearth_sse_clients (\d+)/m)?.[1] ?? NaN);
  check((await call('POST', '/v1/orgs', { name: 'Acme' })).status === 201, 'org created');
  const repo = join(scratch, 'repo');
  execFileSync('sh', ['-c', `set -e; git init -q -b main ${repo}; cd ${repo}; echo one > README.md; git add -A; ` +
    `git -c user.name=t -c user.email=t@t commit -qm init; git clone -q --bare ${repo} ${repo}.git`]);
  check((await call('POST', '/v1/orgs/acme/repos', { url: `file://${repo}.git`, name: 'widgets' })).status === 201, 'repo connected');

  const home = await fetch(`${base}/orgs/acme`, { headers: { Accept: 'text/html' } });
  const csp = home.headers.get('content-security-policy') ?? '';
  check(home.status === 200 && csp.includes("script-src 'self'") && csp.includes("frame-ancestors 'none'") &&
        !csp.includes('unsafe-inline') && home.headers.get('x-content-type-options') === 'nosniff' &&
        home.headers.get('referrer-policy') === 'same-origin', 'pages carry a strict CSP and the other security headers');
  check((await fetch(`${base}/nope`)).status === 404, 'a non-page path outside /v1 is still a 404 for API clients');

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const pageErrors = [];
  watchErrors(page, pageErrors);

  await page.goto(base + '/');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  check((await page.getByRole('alert').textContent()).includes('wrong username or password'), 'a wrong password says so');
  await page.screenshot({ path: join(outDir, 'signin.png') });
  await signIn(page, 'admin', password);
  check(page.url().endsWith('/orgs/acme'), 'signed in, on the org');
  await page.getByText('No tasks yet. Start one with New task (or press c).').waitFor();
  check(true, 'the empty task list says how to start');

  // A new task streams to idle; its tool calls are cards that update in place.
  await page.keyboard.press('c');
  await page.getByRole('dialog', { name: 'New task' }).waitFor();
  check(await focused(page, 'textarea[name="prompt"]'), '`c` opens New task, focus in its prompt');
  await page.locator('select[name="repo"]:not([disabled])').waitFor();
  // `sh .git/hold.sh` runs until the test releases it (a file in the sandbox's work dir,
  // made only once the card shows the call in progress), so the test, not a clock,
  // decides how long the call runs. The script and the file sit in .git: not in the diff.
  await page.getByLabel('Prompt').fill(`/write hello.txt Hello from the browser\n/write .git/hold.sh ${holdScript}\n` +
    '/run sh .git/hold.sh\n/run echo hello-terminal\n/plan look;write;run\n/think about **it**\n/say all **done**');
  await page.keyboard.press('Control+Enter');
  const held = page.locator('.tool-card', { hasText: 'Run sh .git/hold.sh' });
  await held.and(page.locator('[data-status="in_progress"]')).waitFor({ timeout: 30000 });
  const card = await held.elementHandle();
  release('hold.sh', 'release');
  await page.waitForFunction((el) => el.dataset.status === 'completed', card, { timeout: 30000 });
  check(await card.evaluate((el) => el.isConnected) && await held.count() === 1,
        'a tool call is one card whose status goes from running to done in place');
  await page.locator('.task-head .status', { hasText: 'idle' }).waitFor({ timeout: 30000 });
  await page.locator('.event.k-agent_message', { hasText: 'all done' }).waitFor();
  check(await page.locator('.event.k-agent_message strong', { hasText: 'done' }).count() === 1, 'the new task streams to idle, markdown rendered');
  check(await page.locator('.tool-card', { hasText: 'Write hello.txt' }).locator('.patch .add', { hasText: 'Hello from the browser' }).count() === 1,
        "an edit's card shows its diff");
  check(await page.locator('.tool-card', { hasText: 'Run echo hello-terminal' }).locator('pre.terminal', { hasText: 'hello-terminal' }).count() === 1,
        "a command's card shows its output");
  check(await page.locator('.plan li').count() === 3 && (await page.locator('.plan-title').textContent()).includes('0 of 3 done'), 'the plan is a checklist');
  check(await page.locator('details.thought:not([open])').count() === 1, 'thoughts are collapsed');
  const shown = await page.locator('.transcript').innerText();
  check(!/toolCallId|sessionUpdate|session_created|agent_started|turn_ended/.test(shown), 'no raw ACP JSON or event names in the transcript');
  await page.locator('nav.sidebar a.task', { hasText: 'write hello.txt' }).locator('.s-idle').waitFor({ timeout: 30000 });
  check(true, 'the sidebar lists the task under its repository, idle');
  await page.getByRole('tab', { name: /Diff 1 file/ }).waitFor({ timeout: 30000 });  // refreshed after the turn
  await page.screenshot({ path: join(outDir, 'task.png') });

  await page.getByRole('tab', { name: /Diff/ }).click();
  await page.getByRole('button', { name: /hello\.txt/ }).click();
  await page.locator('.patch .add', { hasText: 'Hello from the browser' }).waitFor();
  check(true, 'the diff shows the new file with its patch');
  await page.screenshot({ path: join(outDir, 'diff.png') });
  check(await page.getByRole('button', { name: 'Push' }).evaluate((b) => b.classList.contains('primary')), 'with changes unpushed, Push is the primary action');
  await page.getByRole('button', { name: 'Push' }).click();
  await page.locator('.outcome', { hasText: /^Pushed hearth\/write-hello-txt.* to origin\.$/ }).waitFor({ timeout: 30000 });
  const branches = execFileSync('git', ['-C', `${repo}.git`, 'branch', '--list', 'hearth/*'], { encoding: 'utf8' });
  check(branches.includes('hearth/write-hello-txt'), 'push puts the branch in the remote, and says so in a sentence');

  // Agent output is untrusted: HTML in it is text.
  await page.getByRole('button', { name: 'New task' }).first().click();
  await page.getByLabel('Prompt').fill('/say <script>window.__xss=1</script><img src=x onerror="window.__xss=2">');
  await page.getByRole('button', { name: 'Create task' }).click();
  await page.locator('.event.k-agent_message', { hasText: '<script>' }).waitFor({ timeout: 30000 });
  check(await page.evaluate(() => window.__xss === undefined), 'no script from the transcript ran');
  check(await page.locator('.transcript img').count() === 0, 'no element from the transcript was created');
  await page.screenshot({ path: join(outDir, 'xss.png') });

  // A permission request: "needs you" in the sidebar and the title, the card in view at
  // 400 px, answered inline.
  const asked = await call('POST', '/v1/orgs/acme/tasks', { repo: 'widgets', agent: 'mock',
    prompt: '/ask delete the build dir\n/tool Bash execute rm -rf build' });
  const askRow = page.locator('nav.sidebar a.task', { hasText: 'ask delete the build dir' });
  await askRow.locator('.s-needs').waitFor({ timeout: 30000 });
  await page.waitForFunction(() => /^\(1 needs you\)/.test(document.title), null, { timeout: 10000 });
  check(asked.status === 201, '"needs you" shows in the sidebar and the page title');
  await page.getByRole('link', { name: 'Tasks', exact: true }).click();
  await page.locator('table.tasks tr.needs', { hasText: 'ask delete the build dir' }).waitFor();
  check(true, 'and in the task list');
  await page.screenshot({ path: join(outDir, 'tasks.png') });
  await askRow.click();
  await page.locator('.needs-you').waitFor();
  await page.setViewportSize({ width: 400, height: 800 });
  const allow = page.getByRole('button', { name: 'Allow once' });
  await allow.waitFor({ timeout: 30000 });
  // In the window and on top at its centre (nothing covers it), once the layout settled.
  const inView = await page.waitForFunction((b) => {
    const r = b.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return r.top >= 0 && r.bottom <= innerHeight && (hit === b || b.contains(hit));
  }, await allow.elementHandle(), { timeout: 10000 }).then(() => true, () => false);
  check(inView && await page.locator('nav.sidebar').isHidden() && await page.getByRole('link', { name: '← Tasks' }).isVisible() &&
        await page.locator('.composer').isVisible(), 'at 400 px: one pane, a back link, the permission card in view and not covered');
  await page.screenshot({ path: join(outDir, 'narrow.png') });
  await page.setViewportSize({ width: 1280, height: 800 });
  // A request of kind "other" can only be allowed once; one of a known kind offers its rule.
  check(await page.getByRole('button', { name: /Always allow/ }).count() === 0, 'a call of unknown kind offers no Always allow');
  await allow.click();
  await page.locator('.event.k-agent_message', { hasText: 'delete the build dir was granted' }).waitFor({ timeout: 30000 });
  await page.getByRole('button', { name: 'Always allow: every Bash (execute)' }).click({ timeout: 30000 });
  await page.locator('.event.k-agent_message', { hasText: 'rm -rf build was granted' }).waitFor({ timeout: 30000 });
  await askRow.locator('.s-needs').waitFor({ state: 'detached', timeout: 30000 });
  check(true, 'permission requests are answered inline (Always allow names its rule), and the task no longer needs you');
  const rule = page.locator('.always-allowed li', { hasText: 'every Bash (execute)' });
  await rule.waitFor({ timeout: 10000 });
  check((await rule.textContent()).includes('by admin'), 'the session lists what is allowed without asking, and who allowed it');
  // Send is enabled once the session's own status says its turn ended (the click waits for it).
  await page.getByPlaceholder(/Message the agent/).fill('/tool Bash execute ls build');
  await page.getByRole('button', { name: 'Send', exact: true }).click({ timeout: 30000 });
  await page.locator('.tool-card', { hasText: 'ls build' }).locator('.tool-permission', { hasText: 'Allowed without asking: every Bash (execute).' })
    .waitFor({ timeout: 30000 });
  check(true, 'a call the rule covers is allowed without asking, and its card says so');
  await rule.getByRole('button', { name: 'Revoke' }).click();
  await page.locator('.always-allowed').waitFor({ state: 'detached', timeout: 10000 });
  check(true, 'an allow-always rule is revoked from the task view');
  // Between turns the agent can be restarted (changed secrets reach it then).
  await page.getByRole('button', { name: 'Restart agent' }).click({ timeout: 30000 });
  await page.locator('.transcript', { hasText: 'admin restarted the agent: the next message starts it afresh' }).waitFor({ timeout: 30000 });
  check(true, 'the agent is restarted from the task view between turns, and the transcript says who did it');

  // The first task's diff: revert its file; then archive it.
  await page.locator('nav.sidebar a.task', { hasText: 'write hello.txt' }).click();
  await page.getByRole('tab', { name: /Diff/ }).click();
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Revert' }).click();
  await page.getByText('No changes against the base branch.').waitFor({ timeout: 30000 });
  check(true, 'revert empties the diff');
  const firstTask = page.url().split('/').pop();
  const again = await call('POST', `/v1/orgs/acme/tasks/${firstTask}/revert`, { path: 'README.md' });
  await page.locator('.outcome', { hasText: /^No change to README\.md: nothing to revert\.$/ }).waitFor({ timeout: 30000 });
  check(again.status < 300, 'a revert of an unchanged file says there was no change');
  check(await page.getByRole('button', { name: 'Push' }).isDisabled(), 'without changes, Push is disabled');
  await page.getByRole('button', { name: 'Archive' }).click();
  await page.locator('.task-head .status', { hasText: 'archived' }).waitFor({ timeout: 30000 });
  check(await page.getByRole('button', { name: 'Unarchive' }).count() === 1, 'archive, with unarchive offered');

  // The other pages.
  await page.getByRole('link', { name: 'Settings', exact: true }).click();
  await page.getByRole('cell', { name: 'widgets' }).waitFor();
  await page.getByText('hearth agents install claude').waitFor();
  check(true, 'settings say how to install an agent');
  const titles = page.getByLabel(/Start task titles with a Conventional Commits type/);
  const setting = async () => (await call('GET', '/v1/orgs/acme')).body.settings?.conventional_titles;
  await titles.check();
  check(await eventually(async () => (await setting()) === true), 'the org setting conventional_titles is turned on in settings');
  await titles.uncheck();
  check(await eventually(async () => (await setting()) === false) && !(await titles.isChecked()), 'and off again');
  // The egress allowlist: a host allowed, a URL refused with the reason, the host removed.
  const network = page.locator('section', { has: page.getByRole('heading', { name: 'Network', exact: true }) });
  await network.getByText('No hosts allowed beyond the model APIs').waitFor();
  await network.getByLabel('Host').fill('Registry.NPMjs.org');
  await network.getByRole('button', { name: 'Allow' }).click();
  await network.getByRole('cell', { name: 'registry.npmjs.org' }).waitFor();
  check((await call('GET', '/v1/orgs/acme/network')).body.allow?.includes('registry.npmjs.org'), 'a host is allowed from the settings page');
  await network.getByLabel('Host').fill('https://evil.example/x');
  await network.getByRole('button', { name: 'Allow' }).click();
  await network.getByRole('alert').filter({ hasText: 'is not a host pattern' }).waitFor();
  check(true, 'a URL is refused with the reason');
  await page.screenshot({ path: join(outDir, 'settings.png'), fullPage: true });
  page.once('dialog', (d) => d.accept());
  await network.getByRole('button', { name: 'Remove' }).click();
  await network.getByText('No hosts allowed beyond the model APIs').waitFor();
  check((await call('GET', '/v1/orgs/acme/network')).body.allow?.length === 0, 'and removed again');
  await page.getByRole('link', { name: 'admin', exact: true }).click();
  await page.getByRole('heading', { name: 'Your settings' }).waitFor();
  await page.getByLabel('Name', { exact: true }).fill('laptop');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('.notice code').waitFor();
  check((await page.locator('.notice code').textContent()).startsWith('hearth_'), 'an API token is shown once');
  page.once('dialog', (d) => d.accept());
  await page.getByRole('row', { name: /laptop/ }).getByRole('button', { name: 'Revoke' }).click();
  await page.getByRole('row', { name: /laptop/ }).getByText('revoked').waitFor();
  await page.getByRole('cell', { name: /this browser/ }).waitFor();
  check(true, 'your settings: a revoked token is marked, your sessions listed');
  await page.screenshot({ path: join(outDir, 'account.png') });
  // A task finishing while nobody looks at it: the feed link counts it.
  await call('POST', '/v1/orgs/acme/tasks', { repo: 'widgets', prompt: '/say nobody watches', agent: 'mock' });
  await page.getByRole('link', { name: /^Feed \(\d+\)$/ }).waitFor({ timeout: 30000 });
  check(true, 'the feed link counts unread tasks, live');
  await page.getByRole('link', { name: /^Feed/ }).click();
  await page.locator('.feed li', { hasText: 'the agent finished' }).first().waitFor();
  check(/^\d+ unread tasks?$/.test(await page.locator('.page-head .muted').textContent()), 'the feed lists what happened, counted in words');
  await page.screenshot({ path: join(outDir, 'feed.png') });
  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.getByText(/Chain intact: \d+ entries/).waitFor();
  await page.getByRole('cell', { name: 'POST /tasks', exact: true }).first().waitFor();
  check(true, 'the audit log shows the mutations, chain verified');
  await page.screenshot({ path: join(outDir, 'audit.png') });
  await page.getByRole('link', { name: 'Inspector' }).click();
  await page.locator('td', { hasText: 'organization' }).first().waitFor();
  await page.locator('a code').first().click();
  await page.getByRole('heading', { name: 'Workflow history' }).waitFor();
  await page.getByRole('button', { name: 'rejected', exact: true }).click();
  await page.getByText('No rejected messages.').or(page.locator('ul.list li').first()).waitFor();
  check(true, 'the inspector lists actors and opens one, with a tab for rejected messages');
  await page.screenshot({ path: join(outDir, 'inspector.png') });
  await page.goto(base + '/no/such/page');
  await page.getByRole('heading', { name: 'Not found' }).waitFor();
  check(true, 'an unknown route is a 404 page');

  // A member in a second browser: no inspector; their sidebar updates live.
  check((await call('POST', '/v1/users', { username: 'bea', password: 'bea-password-12345' })).status === 201, 'a second user');
  check((await call('POST', '/v1/orgs/acme/members', { username: 'bea' })).status === 201, 'bea joins acme');
  const beas = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const other = await beas.newPage();
  watchErrors(other, pageErrors);
  await other.goto(base + '/');
  await signIn(other, 'bea', 'bea-password-12345');
  check(await other.getByRole('link', { name: 'Inspector' }).count() === 0, 'no inspector link for a member');
  await other.goto(base + '/inspector');
  await other.getByText('The inspector is for server administrators.').waitFor();
  check(true, 'the inspector page refuses a member');
  await other.goto(base + '/orgs/acme');
  await other.locator('nav.sidebar a.task').first().waitFor();
  const made = await call('POST', '/v1/orgs/acme/tasks', { repo: 'widgets', prompt: '/say from the API', agent: 'mock' });
  await other.locator('nav.sidebar a.task', { hasText: 'say from the API' }).waitFor({ timeout: 30000 });
  check(made.status === 201, "a task someone else made appears in the member's sidebar live");

  // Five tabs of one browser at once: all live, on one stream (the tabs share it).
  const before = await streams();
  const tabs = await Promise.all([1, 2, 3, 4, 5].map(() => beas.newPage()));
  for (const t of tabs) watchErrors(t, pageErrors);
  await Promise.all(tabs.map((t) => t.goto(base + '/orgs/acme')));
  await Promise.all(tabs.map((t) => t.locator('nav.sidebar a.task').first().waitFor()));
  const five = await call('POST', '/v1/orgs/acme/tasks', { repo: 'widgets', prompt: '/say to five tabs', agent: 'mock' });
  await Promise.all(tabs.map((t) => t.locator('nav.sidebar a.task', { hasText: 'say to five tabs' }).waitFor({ timeout: 30000 })));
  check(five.status === 201, 'five tabs open at once all show a new task, live');
  const modes = await Promise.all(tabs.map((t) => t.evaluate(() => document.documentElement.dataset.live)));
  check(modes.every((m) => m === 'shared'), `the five tabs share one stream through a SharedWorker (${modes.join(', ')})`);
  const shared = await eventually(async () => (await streams()) <= before);
  check(shared, `the five tabs hold no stream of their own (open streams: ${before} before, ${await streams()} with them)`);
  await Promise.all(tabs.map((t) => t.close()));
  // Where SharedWorker is missing, a tab follows on a stream of its own.
  const plain = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  watchErrors(plain, pageErrors);
  await plain.addInitScript(() => { delete window.SharedWorker; });
  await plain.goto(base + '/');
  await signIn(plain, 'bea', 'bea-password-12345');
  await plain.locator('nav.sidebar a.task').first().waitFor();
  await call('POST', '/v1/orgs/acme/tasks', { repo: 'widgets', prompt: '/say without a shared worker', agent: 'mock' });
  await plain.locator('nav.sidebar a.task', { hasText: 'say without a shared worker' }).waitFor({ timeout: 30000 });
  check(await plain.evaluate(() => document.documentElement.dataset.live) === 'page', 'without SharedWorker, a tab keeps its own stream, live');
  await plain.context().close();

  // The server goes away: the page says so, and comes back by itself.
  const port = new URL(base).port;
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  await other.getByText('Live updates lost; reconnecting…').waitFor({ timeout: 20000 });
  check(await other.locator('.banner').count() === 1, 'a lost stream is shown, once');
  base = await start(Number(port));
  await other.getByText('Live updates lost; reconnecting…').waitFor({ state: 'detached', timeout: 40000 });
  await call('POST', '/v1/orgs/acme/tasks', { repo: 'widgets', prompt: '/say after the restart', agent: 'mock' });
  await other.locator('nav.sidebar a.task', { hasText: 'say after the restart' }).waitFor({ timeout: 30000 });
  check(true, 'after the server is back, live updates resume');

  check(pageErrors.length === 0, `no errors in the page${pageErrors.length ? ': ' + pageErrors.join('; ') : ''}`);
}

await run(main, async () => {
  await browser?.close().catch(() => {});
  await stop(server);
  rmSync(scratch, { recursive: true, force: true });
});
