// The GitHub section of an organization's settings in real Chromium (Debian's, headless)
// against a real `hearth serve` whose GitHub App points at the fake GitHub process
// (hearth_test_fake_github): an admin installs the App from the page (Hearth's install
// URL with its sealed state → GitHub's install page → the callback with the installing
// GitHub user's code, checked against their installations → back on the page, linked), watches the sync's progress live while GitHub makes it wait (no reload,
// no polling: the github:ORG topic), sees it end and the installation's repositories
// become the org's, and sees a signed delivery arrive in "Recent deliveries". Then, in
// another browser, Sign in with GitHub: an outsider refused in words, a member of the
// installation's account landing on the org.
// Screenshots go to OUT_DIR.
//
// Usage: node github_ui_test.mjs HEARTH_BINARY FAKE_GITHUB_BINARY OUT_DIR
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { browserTest, serveHearth, signInApi, startFakeProcess, stop } from './hearth_process.mjs';

const web = join(dirname(fileURLToPath(import.meta.url)), '../../web');
const { chromium } = createRequire(join(web, 'package.json'))('playwright-core');

const [hearth, fakeBinary, outDir] = process.argv.slice(2);
mkdirSync(outDir, { recursive: true });
const scratch = mkdtempSync(join(tmpdir(), 'hearth-github-web-'));
const password = 'web-test-password-1';
const webhookSecret = 'webhook-secret-for-the-browser-test';
let server;
let fake;
let browser;
const { check, run } = browserTest();

// The fake GitHub: installation 42 of acme-corp, 12 repositories of 2 open pull requests
// each; after 1 + 1 + 5 requests (repositories, members, five repositories' pull
// requests) it says "wait" until told `lift`. Resolves with {url, app_id} and a function
// sending it a command (resolving once it has obeyed).
async function startFake(keyFile) {
  const started = await startFakeProcess(fakeBinary, [keyFile, '42', 'acme-corp', '12', '2', '7']);
  fake = started.child;
  return started;
}

async function startHearth(github, keyFile) {
  const args = ['--log-level', 'warn', 'serve', '--port', '0', '--data-dir', join(scratch, 'data'),
                '--github-app-id', github.app_id, '--github-private-key-file', keyFile,
                '--github-api-url', github.url, '--github-web-url', github.url, '--github-app-slug', 'hearth-test',
                '--github-client-id', github.client_id];
  if (process.env.HEARTH_WEB_DIR) args.push('--web-dir', process.env.HEARTH_WEB_DIR);
  const started = await serveHearth(hearth, args, { HEARTH_ADMIN_PASSWORD: password,
                                                     HEARTH_GITHUB_WEBHOOK_SECRET: webhookSecret,
                                                     HEARTH_GITHUB_CLIENT_SECRET: github.client_secret });
  server = started.child;
  return started.url;
}

async function main() {
  const keyFile = join(scratch, 'app.pem');
  const github = await startFake(keyFile);
  const base = await startHearth(github, keyFile);
  await github.command(`setup ${base}/v1/github/setup`);
  const { call } = await signInApi(base, 'admin', password);
  check((await call('POST', '/v1/orgs', { name: 'Acme' })).status === 201, 'org created');

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && pageErrors.push(m.text()));

  await page.goto(`${base}/orgs/acme/settings`);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const section = page.locator('section', { has: page.getByRole('heading', { name: 'GitHub' }) });
  await section.getByText('No installation linked.').waitFor();
  check(true, 'the section says no installation is linked');

  // Installing from the page: to GitHub's install page and back through the setup callback.
  await section.getByRole('button', { name: 'Install the App on GitHub' }).click();
  await page.waitForURL(/\/orgs\/acme\/settings\?github=linked$/, { timeout: 20000 });
  check(true, 'GitHub sends the admin back to the settings page through the setup callback');
  const status = section.getByTestId('github-status');
  await status.waitFor();
  check((await status.textContent()).includes('acme-corp'), 'the installation is shown linked');

  // GitHub makes the sync wait midway: the page shows where it stands, without reloading.
  try {
    await section.getByText(/sync: pull_requests 5\/12/).waitFor({ timeout: 30000 });
  } catch (e) {
    console.log('status: ' + await status.textContent());
    console.log(JSON.stringify((await call('GET', '/v1/orgs/acme/github')).body));
    throw e;
  }
  check(await section.locator('progress').count() === 1, 'a progress bar while the sync runs');
  await page.screenshot({ path: join(outDir, 'github-syncing.png'), fullPage: true });
  const loads = [];
  page.on('request', (r) => r.url().endsWith('/v1/orgs/acme/github') && loads.push(r.url()));
  await github.command('lift');
  await section.getByText(/sync: done/).waitFor({ timeout: 30000 });
  check(loads.length === 0, `the sync's end arrived live, with no read of the section again (${loads.length} reads)`);
  check((await status.textContent()).includes('12 repositories, 24 open pull requests'), 'the counts after the sync');
  await section.getByRole('link', { name: 'acme-corp/repo-11' }).waitFor();
  check(await section.getByRole('link', { name: 'acme-corp/repo-11' }).getAttribute('href') === `${github.url}/acme-corp/repo-11`,
    "repositories link to the configured GitHub's pages");
  // The installation's repositories are the org's: the Repositories section lists them.
  const repos = page.locator('section', { has: page.getByRole('heading', { name: 'Repositories' }) });
  await repos.getByRole('link', { name: 'acme-corp/repo-00' }).waitFor({ timeout: 20000 });
  check((await repos.locator('tbody tr').count()) === 12, 'the org lists the 12 repositories');
  check(await repos.getByRole('button', { name: 'Remove' }).count() === 0, 'GitHub repositories are the installation\'s to remove');

  // A delivery, signed as GitHub signs it: in "Recent deliveries" without a reload.
  const delivery = JSON.stringify({ action: 'opened', number: 99, installation: { id: 42 },
    repository: { id: 4200001, full_name: 'acme-corp/repo-00', private: true },
    pull_request: { number: 99, title: 'From the browser test', state: 'open', draft: false, merged: false,
      html_url: `${github.url}/acme-corp/repo-00/pull/99`, updated_at: '2026-12-01T10:00:00Z',
      head: { ref: 'fix', sha: 'abc' }, base: { ref: 'main' }, user: { login: 'ana' } } });
  const signature = 'sha256=' + createHmac('sha256', webhookSecret).update(delivery).digest('hex');
  const sent = await fetch(`${base}/v1/webhooks/github`, { method: 'POST', body: delivery, headers: {
    'Content-Type': 'application/json', 'X-GitHub-Event': 'pull_request', 'X-GitHub-Delivery': 'browser-1',
    'X-Hub-Signature-256': signature } });
  check(sent.status === 202, 'the signed delivery is accepted');
  await section.getByText('pull_request.opened').waitFor({ timeout: 20000 });
  await section.getByText(/25 open pull requests/).waitFor({ timeout: 20000 });
  check(true, 'the delivery and its effect show live');
  await page.screenshot({ path: join(outDir, 'github.png'), fullPage: true });

  // Sign in with GitHub, in another browser: someone outside the installation's account
  // is refused on the sign-in page, in words; a member of it lands on the org.
  const other = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const visitor = await other.newPage();
  visitor.on('pageerror', (e) => pageErrors.push(String(e)));
  visitor.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && pageErrors.push(m.text()));
  await github.command('authorize stranger');
  await visitor.goto(`${base}/`);
  await visitor.getByRole('link', { name: 'Sign in with GitHub' }).click();
  await visitor.waitForURL(/\/sign-in\?error=/, { timeout: 20000 });
  const refusal = visitor.getByRole('alert');
  await refusal.waitFor();
  check((await refusal.textContent()).includes('GitHub user stranger is not a member of any GitHub organization linked'),
    'a GitHub user outside the installation is refused on the sign-in page');
  await visitor.screenshot({ path: join(outDir, 'github-sign-in-refused.png') });
  await github.command('authorize octo-dev');
  await visitor.getByRole('link', { name: 'Sign in with GitHub' }).click();
  await visitor.waitForURL(/\/orgs\/acme$/, { timeout: 20000 });
  await visitor.getByRole('link', { name: 'octo-dev' }).waitFor();
  check(true, 'a member of the installation\'s account signs in with GitHub and lands on the org');
  const members = (await call('GET', '/v1/orgs/acme/members')).body;
  check(members.items?.some((m) => m.username === 'octo-dev' && m.role === 'member'), 'they are a member of the org');
  await visitor.screenshot({ path: join(outDir, 'github-signed-in.png') });

  check(pageErrors.length === 0, `no errors in the page${pageErrors.length ? ': ' + pageErrors.join('; ') : ''}`);
}

await run(main, async () => {
  await browser?.close().catch(() => {});
  await stop(server);
  fake?.stdin.end();
  await stop(fake);
  rmSync(scratch, { recursive: true, force: true });
});
