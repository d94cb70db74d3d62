// The Billing page in real Chromium (Debian's, headless) against a real `hearth serve`
// whose Stripe is the fake Stripe process (hearth_test_fake_stripe): the owner sees the
// free plan and its usage, upgrades through Stripe's hosted Checkout page and comes back
// to the team plan with its card and invoice, opens the customer portal and returns,
// and when a renewal fails every page shows the past-due banner.
// Screenshots go to OUT_DIR.
//
// Usage: node billing_ui_test.mjs HEARTH_BINARY FAKE_STRIPE_BINARY OUT_DIR
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
const scratch = mkdtempSync(join(tmpdir(), 'hearth-billing-web-'));
const password = 'web-test-password-1';
const key = 'sk_test_browser';
const webhookSecret = 'whsec_browser_test';
const price = 'price_team_browser';
let server;
let fake;
let browser;
const { check, run } = browserTest();

async function main() {
  const stripe = await startFakeProcess(fakeBinary, [key, webhookSecret, price]);
  fake = stripe.child;
  const args = ['--log-level', 'warn', 'serve', '--port', '0', '--data-dir', join(scratch, 'data'),
                '--stripe-api-url', stripe.url, '--stripe-team-price', price];
  if (process.env.HEARTH_WEB_DIR) args.push('--web-dir', process.env.HEARTH_WEB_DIR);
  const started = await serveHearth(hearth, args, { HEARTH_ADMIN_PASSWORD: password, HEARTH_STRIPE_SECRET_KEY: key,
                                                    HEARTH_STRIPE_WEBHOOK_SECRET: webhookSecret });
  server = started.child;
  const base = started.url;
  await stripe.command(`webhook ${base}/v1/webhooks/stripe`);
  const { call } = await signInApi(base, 'admin', password);
  check((await call('POST', '/v1/orgs', { name: 'Acme' })).status === 201, 'org created');

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && pageErrors.push(m.text()));

  await page.goto(`${base}/orgs/acme/billing`);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-plan="free"]').waitFor();
  check(true, 'the owner sees the free plan');
  check((await page.locator('[data-usage="Seats"]').textContent()).includes('1 of 1'), 'seats: 1 of 1');
  check(await page.getByRole('link', { name: 'Billing' }).count() === 1, 'the owner has a Billing link');
  await page.screenshot({ path: join(outDir, 'billing-free.png'), fullPage: true });

  // Upgrade: Stripe's hosted Checkout page, Subscribe, and back.
  await page.getByRole('button', { name: 'Upgrade to Team' }).click();
  await page.waitForURL((u) => u.href.startsWith(`${stripe.url}/c/pay/`), { timeout: 20000 });
  check(true, 'Upgrade opens Stripe Checkout');
  await page.locator('#pay').click();
  await page.waitForURL(/\/orgs\/acme\/billing\?checkout=done/, { timeout: 20000 });
  check(true, 'Stripe sends the owner back to the Billing page');
  await page.locator('[data-plan="team"]').waitFor({ timeout: 20000 });
  await page.locator('[data-payment-method]').waitFor({ timeout: 20000 });
  check((await page.locator('[data-payment-method]').textContent()) === 'Visa ending in 4242', 'the card is shown');
  await page.getByRole('cell', { name: 'paid' }).waitFor({ timeout: 20000 });
  check((await page.locator('table.invoices tbody tr').count()) === 1, 'one paid invoice is listed');
  await page.getByText('Payment confirmed.').waitFor({ timeout: 20000 });
  await page.screenshot({ path: join(outDir, 'billing-team.png'), fullPage: true });

  // The customer portal, and back.
  await page.getByRole('button', { name: 'Manage payment and invoices' }).click();
  await page.waitForURL((u) => u.href.startsWith(`${stripe.url}/p/session/`), { timeout: 20000 });
  check(true, 'the portal opens');
  await page.locator('#return').click();
  await page.waitForURL(/\/orgs\/acme\/billing$/, { timeout: 20000 });
  await page.locator('[data-plan="team"]').waitFor();
  check(true, 'the portal returns to the Billing page');

  // A failed renewal: past due, and a banner on every page.
  await stripe.command('past_due');
  const deadline = Date.now() + 20000;
  while ((await call('GET', '/v1/orgs/acme/billing')).body.status !== 'past_due' && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  await page.goto(`${base}/orgs/acme`);
  const banner = page.locator('[data-billing-banner]');
  await banner.waitFor({ timeout: 20000 });
  check((await banner.textContent()).includes('The payment is past due: new work stops on'), 'the past-due banner shows');
  await page.screenshot({ path: join(outDir, 'billing-past-due.png'), fullPage: true });

  check(pageErrors.length === 0, `no errors in the page${pageErrors.length ? ': ' + pageErrors.join('; ') : ''}`);
}

await run(main, async () => {
  await browser?.close().catch(() => {});
  await stop(server);
  fake?.stdin.end();
  await stop(fake);
  rmSync(scratch, { recursive: true, force: true });
});
