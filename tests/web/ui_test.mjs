// The web frontend in real Chromium (Debian's, headless) driven by playwright-core,
// against a real `hearth serve` on a free port: sign in, create a task with the mock
// agent through the dialog, watch the transcript stream in, see the diff, push, and an
// agent's <script> and <img onerror> rendered as inert text. Screenshots go to
// build/web-screenshots.
//
// Usage: node ui_test.mjs HEARTH_BINARY OUT_DIR
// With HEARTH_WEB_DIR set, the server serves that built frontend (`--web-dir`); by
// default, the one beside the binary (build/web).
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// playwright-core is one of the web frontend's dev packages (web/node_modules).
const web = join(dirname(fileURLToPath(import.meta.url)), '../../web');
const { chromium } = createRequire(join(web, 'package.json'))('playwright-core');

const [hearth, outDir] = process.argv.slice(2);
mkdirSync(outDir, { recursive: true });
const scratch = mkdtempSync(join(tmpdir(), 'hearth-web-'));
const password = 'web-test-password-1';
let server;
let browser;
const failures = [];
// Anything thrown outside the steps is a failure with its stack, not a silent crash.
process.on('uncaughtException', (e) => { console.log(`FAIL uncaught: ${e?.stack ?? e}`); process.exit(1); });
process.on('unhandledRejection', (e) => { console.log(`FAIL unhandled: ${e?.stack ?? e}`); process.exit(1); });
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};

// Starts `hearth serve` (on `port`, 0: a free one); resolves with its base URL.
function start(port = 0) {
  const args = ['--log-level', 'warn', 'serve', '--port', String(port), '--data-dir', join(scratch, 'data'),
                '--file-repo-root', scratch];
  if (process.env.HEARTH_WEB_DIR) args.push('--web-dir', process.env.HEARTH_WEB_DIR);
  server = spawn(hearth, args, {
    env: { ...process.env, HEARTH_ADMIN_PASSWORD: password },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('hearth serve never said where it listens')), 20000);
    server.stdout.on('data', (d) => {
      text += d;
      const m = text.match(/hearth listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
}

async function main() {
  const base = await start();
  // Set up through the API: an org and a repository with a bare remote.
  const signIn = await fetch(`${base}/v1/auth/sign-in`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }) });
  const cookie = signIn.headers.getSetCookie().find((c) => c.startsWith('hearth_session='));
  const tok = cookie.slice('hearth_session='.length).split(';')[0];
  const call = (method, path, body) => fetch(`${base}${path}`, { method, headers: { 'Content-Type': 'application/json',
    Authorization: `Bearer ${tok}` }, body: body ? JSON.stringify(body) : undefined }).then(async (r) => ({ status: r.status, body: await r.json() }));
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
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  // Refused requests (401 before sign-in, a stream retried before its task exists) are
  // the browser's console noise, not the page's errors.
  page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && pageErrors.push(m.text()));

  await page.goto(base + '/');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  check((await page.getByRole('alert').textContent()).includes('wrong username or password'), 'a wrong password says so');
  await page.screenshot({ path: join(outDir, 'signin.png') });
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'New task' }).waitFor();
  check(page.url().endsWith('/orgs/acme'), 'signed in, on the org');

  await page.getByRole('button', { name: 'New task' }).click();
  await page.getByLabel('Prompt').fill('/write hello.txt Hello from the browser\n/say all **done**');
  await page.getByRole('button', { name: 'Create task' }).click();
  await page.locator('.event.k-agent_message', { hasText: 'all done' }).waitFor({ timeout: 30000 });
  check(await page.locator('.event.k-agent_message strong', { hasText: 'done' }).count() === 1, 'the transcript streams in, markdown rendered');
  check(await page.locator('nav a.task', { hasText: 'write hello.txt' }).count() === 1, 'the sidebar lists the task under its repository');
  await page.screenshot({ path: join(outDir, 'task.png') });

  await page.getByRole('tab', { name: /Diff/ }).click();
  await page.getByRole('button', { name: /hello\.txt/ }).click();
  await page.locator('.patch .add', { hasText: 'Hello from the browser' }).waitFor();
  check(true, 'the diff shows the new file with its patch');
  await page.screenshot({ path: join(outDir, 'diff.png') });
  await page.getByRole('button', { name: 'Push' }).click();
  await page.locator('.outcome', { hasText: 'pushed' }).waitFor({ timeout: 30000 });
  const branches = execFileSync('git', ['-C', `${repo}.git`, 'branch', '--list', 'hearth/*'], { encoding: 'utf8' });
  check(branches.includes('hearth/write-hello-txt'), 'push puts the branch in the remote');

  // Agent output is untrusted: HTML in it is text.
  await page.getByRole('button', { name: 'New task' }).click();
  await page.getByLabel('Prompt').fill('/say <script>window.__xss=1</script><img src=x onerror="window.__xss=2">');
  await page.getByRole('button', { name: 'Create task' }).click();
  await page.locator('.event.k-agent_message', { hasText: '<script>' }).waitFor({ timeout: 30000 });
  check(await page.evaluate(() => window.__xss === undefined), 'no script from the transcript ran');
  check(await page.locator('.transcript img').count() === 0, 'no element from the transcript was created');
  await page.screenshot({ path: join(outDir, 'xss.png') });

  // A permission request, answered inline.
  await page.getByRole('button', { name: 'New task' }).click();
  await page.getByLabel('Prompt').fill('/ask delete the build dir');
  await page.getByRole('button', { name: 'Create task' }).click();
  await page.getByRole('button', { name: 'Allow once' }).click({ timeout: 30000 });
  await page.locator('.event.k-agent_message', { hasText: 'was granted' }).waitFor({ timeout: 30000 });
  check(true, 'a permission request is answered inline');

  // The first task's diff: revert its file; then archive it.
  await page.locator('nav a.task', { hasText: 'write hello.txt' }).click();
  await page.getByRole('tab', { name: /Diff/ }).click();
  await page.getByRole('button', { name: 'Revert' }).click();
  await page.getByText('No changes against the base branch.').waitFor({ timeout: 30000 });
  check(true, 'revert empties the diff');
  await page.getByRole('button', { name: 'Archive' }).click();
  await page.locator('.task-head .status', { hasText: 'archived' }).waitFor({ timeout: 30000 });
  check(await page.getByRole('button', { name: 'Unarchive' }).count() === 1, 'archive, with unarchive offered');

  // The other pages.
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('cell', { name: 'widgets' }).waitFor();
  await page.getByLabel('Name', { exact: true }).last().fill('laptop');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('.notice code').waitFor();
  check((await page.locator('.notice code').textContent()).startsWith('hearth_'), 'an API token is shown once');
  await page.screenshot({ path: join(outDir, 'settings.png'), fullPage: true });
  // A task finishing while nobody looks at it: the feed link counts it.
  await call('POST', '/v1/orgs/acme/tasks', { repo: 'widgets', prompt: '/say nobody watches', agent: 'mock' });
  await page.getByRole('link', { name: /^Feed \(\d+\)$/ }).waitFor({ timeout: 30000 });
  check(true, 'the feed link counts unread tasks, live');
  await page.getByRole('link', { name: /^Feed/ }).click();
  await page.locator('.list li', { hasText: 'finished' }).first().waitFor();
  check(true, 'the feed lists what happened');
  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.getByText(/Chain intact: \d+ entries/).waitFor();
  await page.getByRole('cell', { name: 'POST /tasks', exact: true }).first().waitFor();
  check(true, 'the audit log shows the mutations, chain verified');
  await page.screenshot({ path: join(outDir, 'audit.png') });
  await page.getByRole('link', { name: 'Inspector' }).click();
  await page.locator('td', { hasText: 'organization' }).first().waitFor();
  await page.locator('a code').first().click();
  await page.getByRole('heading', { name: 'Workflow history' }).waitFor();
  check(true, 'the inspector lists actors and opens one');
  await page.screenshot({ path: join(outDir, 'inspector.png') });

  // A member in a second browser: no inspector; their sidebar updates live.
  check((await call('POST', '/v1/users', { username: 'bea', password: 'bea-password-12345' })).status === 201, 'a second user');
  check((await call('POST', '/v1/orgs/acme/members', { username: 'bea' })).status === 201, 'bea joins acme');
  const other = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await other.goto(base + '/');
  await other.getByLabel('Username').fill('bea');
  await other.getByLabel('Password').fill('bea-password-12345');
  await other.getByRole('button', { name: 'Sign in' }).click();
  await other.getByRole('button', { name: 'New task' }).waitFor();
  check(await other.getByRole('link', { name: 'Inspector' }).count() === 0, 'no inspector link for a member');
  await other.goto(base + '/inspector');
  await other.getByText('The inspector is for server administrators.').waitFor();
  check(true, 'the inspector page refuses a member');
  await other.goto(base + '/orgs/acme');
  await other.locator('nav a.task').first().waitFor();
  const made = await call('POST', '/v1/orgs/acme/tasks', { repo: 'widgets', prompt: '/say from the API', agent: 'mock' });
  await other.locator('nav a.task', { hasText: 'say from the API' }).waitFor({ timeout: 30000 });
  check(made.status === 201, "a task someone else made appears in the member's sidebar live");

  // The server goes away: the page says so, and comes back by itself.
  const port = new URL(base).port;
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  await other.getByText('Live updates lost; reconnecting…').first().waitFor({ timeout: 20000 });
  check(true, 'a lost stream is shown');
  await start(Number(port));
  await other.getByText('Live updates lost; reconnecting…').first().waitFor({ state: 'detached', timeout: 40000 });
  await call('POST', '/v1/orgs/acme/tasks', { repo: 'widgets', prompt: '/say after the restart', agent: 'mock' });
  await other.locator('nav a.task', { hasText: 'say after the restart' }).waitFor({ timeout: 30000 });
  check(true, 'after the server is back, live updates resume');

  await page.setViewportSize({ width: 480, height: 800 });
  await page.getByRole('link', { name: 'Tasks' }).click();
  await page.locator('nav a.task').first().click();
  await page.locator('.event').first().waitFor({ timeout: 30000 });
  await page.screenshot({ path: join(outDir, 'narrow.png') });
  check(pageErrors.length === 0, `no errors in the page${pageErrors.length ? ': ' + pageErrors.join('; ') : ''}`);
}

try {
  await main();
} catch (e) {
  failures.push(String(e?.stack ?? e));
  console.log(`FAIL ${e?.stack ?? e}`);
} finally {
  await browser?.close().catch(() => {});
  if (server && server.exitCode === null && server.signalCode === null) {
    const gone = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await gone;
  }
  rmSync(scratch, { recursive: true, force: true });
}
console.log(failures.length ? `${failures.length} failed` : 'all passed');
process.exit(failures.length ? 1 : 0);
