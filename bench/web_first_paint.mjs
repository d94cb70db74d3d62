// web_first_paint: time from navigation to a task's view showing its first transcript
// event, in headless Chromium (Debian's, via playwright-core), against a real `hearth
// serve`; cold (a new browser context: nothing cached) and warm (the same context, the
// next task), with the browser's floor in the same run (a navigation to /healthz,
// a tiny JSON answer). Also the bundle's size in bytes (raw and gzip, the live stream's
// SharedWorker included). Last line: JSON.
// Usage: node web_first_paint.mjs HEARTH_BINARY WEB_DIR
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { serveHearth, signInApi } from '../tests/web/hearth_process.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { chromium } = createRequire(join(here, '../web/package.json'))('playwright-core');
const [hearth, webDir] = process.argv.slice(2);
const scratch = mkdtempSync(join(tmpdir(), 'hearth-paint-'));
const password = 'paint-password-1';
const rounds = 15;

const { child: server, url: base } = await serveHearth(hearth, ['--log-level', 'error', 'serve', '--port', '0', '--data-dir',
                                                           join(scratch, 'data'), '--file-repo-root', scratch],
                                                  { HEARTH_ADMIN_PASSWORD: password });
let browser;
try {
  const { token: session, call } = await signInApi(base, 'admin', password);
  await call('POST', '/v1/orgs', { name: 'Paint' });
  const repo = join(scratch, 'repo');
  execFileSync('sh', ['-c', `set -e; git init -q -b main ${repo}; cd ${repo}; echo x > a; git add -A; ` +
    `git -c user.name=t -c user.email=t@t commit -qm init; git clone -q --bare ${repo} ${repo}.git`]);
  await call('POST', '/v1/orgs/paint/repos', { url: `file://${repo}.git`, name: 'repo' });
  const tasks = [];
  for (let i = 0; i < rounds * 2; i++) tasks.push((await call('POST', '/v1/orgs/paint/tasks', { repo: 'repo', prompt: `/say hello ${i}`, agent: 'mock' })).body.task_id);
  for (let i = 0; i < 600; i++) {
    const idle = (await call('GET', '/v1/orgs/paint/tasks?status=idle&limit=500')).body;
    if (idle.items.length === tasks.length) break;
    await new Promise((r) => setTimeout(r, 200));
  }

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  const cookie = [{ name: 'hearth_session', value: session, url: base }];
  const paint = async (page, task) => {
    const t = performance.now();
    await page.goto(`${base}/orgs/paint/tasks/${task}`);
    await page.locator('.event.k-agent_message').first().waitFor({ timeout: 30000 });
    return performance.now() - t;
  };
  const cold = [], warm = [], floor = [];
  for (let i = 0; i < rounds; i++) {
    const ctx = await browser.newContext();
    await ctx.addCookies(cookie);
    const page = await ctx.newPage();
    cold.push(await paint(page, tasks[2 * i]));
    warm.push(await paint(page, tasks[2 * i + 1]));
    // The browser's own floor, same context: navigating to a tiny JSON answer.
    const t = performance.now();
    await page.goto(`${base}/healthz`);
    floor.push(performance.now() - t);
    await ctx.close();
  }
  const pct = (v, p) => { const s = [...v].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.round((p / 100) * (s.length - 1)))]; };
  const file = (f) => readFileSync(join(webDir, f));
  const bundle = ['index.html', 'assets/app.js', 'assets/app.css', 'assets/live-worker.js'].map(file);
  console.log(JSON.stringify({
    bench: 'web_first_paint', rounds,
    cold_ms: { p50: pct(cold, 50), p90: pct(cold, 90), max: pct(cold, 100) },
    warm_ms: { p50: pct(warm, 50), p90: pct(warm, 90), max: pct(warm, 100) },
    baseline_navigation_ms: { p50: pct(floor, 50), p90: pct(floor, 90) },
    bundle_bytes: bundle.reduce((n, b) => n + b.length, 0),
    bundle_gzip_bytes: bundle.reduce((n, b) => n + gzipSync(b).length, 0),
    js_bytes: bundle[1].length, css_bytes: bundle[2].length, worker_bytes: bundle[3].length,
  }));
} finally {
  await browser?.close().catch(() => {});
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(scratch, { recursive: true, force: true });
}
