// An organization's billing (docs/billing.md): its plan and status, usage against the
// plan's limits, the payment method and invoices, and for owners the buttons that open
// Stripe Checkout and the customer portal, cancel and resume. Back from Checkout
// (?checkout=done) it says the plan changes once Stripe confirms, and looks again until
// it has. BillingBanner tells every member when the payment is past due.
import { useEffect, useState } from 'preact/hooks';
import { api, enc } from './api';
import { useApp, useTitle } from './app';
import { Json, Link, message, State, useLoad, useRoute } from './ui';

function day(seconds: number | null | undefined): string {
  if (!seconds) return '';
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}

function money(amount: number, currency: string): string {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency: currency.toUpperCase() }).format(amount / 100);
  } catch {
    return `${(amount / 100).toFixed(2)} ${currency}`;
  }
}

function Usage({ label, used, limit }: { label: string; used: number; limit: number }) {
  const unlimited = limit < 0;
  const full = !unlimited && used >= limit;
  return (
    <div class="usage" data-usage={label}>
      <span class="usage-label">{label}</span>
      <meter min={0} max={unlimited ? Math.max(used, 1) : Math.max(limit, 1)} value={used} />
      <span class={full ? 'error' : 'muted'}>{unlimited ? `${used} (no limit)` : `${used} of ${limit}`}</span>
    </div>
  );
}

export function BillingBanner({ org }: { org: string }) {
  const [b] = useLoad(org ? `/v1/orgs/${enc(org)}/billing` : null);
  if (!b?.enabled || !b.past_due_since) return null;
  const over = b.grace_ends_at && Date.now() / 1000 > b.grace_ends_at;
  return (
    <p class="banner" role="status" data-billing-banner>
      {over ? 'The payment is past due: new tasks and prompts are refused until it is paid.'
            : `The payment is past due: new work stops on ${day(b.grace_ends_at)} unless it is paid.`}
      {' '}<Link to={`/orgs/${enc(org)}/billing`}>Billing</Link>
    </p>
  );
}

export function BillingPage({ org }: { org: string }) {
  const app = useApp();
  const owner = app.role === 'owner';
  const o = `/v1/orgs/${enc(org)}`;
  const { query } = useRoute();
  const returned = query.get('checkout');
  const [b, error, reload] = useLoad(`${o}/billing`);
  const [invoices, invoicesError, reloadInvoices] = useLoad(owner && b?.enabled ? `${o}/billing/invoices` : null, [b?.plan?.name]);
  const [busy, setBusy] = useState('');
  const [actError, setActError] = useState('');
  const [seats, setSeats] = useState('');
  useTitle(`Billing · ${app.org?.name ?? org}`);

  // Back from Checkout: the plan changes when Stripe's events arrive; look again until then.
  const waiting = returned === 'done' && b?.enabled && b.status !== 'active' && b.status !== 'trialing';
  useEffect(() => {
    if (!waiting) return;
    let tries = 0;
    const t = setInterval(() => {
      if (++tries > 30) clearInterval(t);
      reload();
      reloadInvoices();
    }, 1000);
    return () => clearInterval(t);
  }, [waiting]);

  const act = async (what: string, run: () => Promise<void>) => {
    setBusy(what);
    setActError('');
    try {
      await run();
    } catch (e) {
      setActError(message(e));
    } finally {
      setBusy('');
    }
  };
  const open = (path: string, body: Json) => act(path, async () => {
    const r = await api('POST', `${o}/billing/${path}`, body);
    location.assign(r.url);
  });
  const change = (path: string) => act(path, async () => {
    await api('POST', `${o}/billing/${path}`, {});
    reload();
  });

  return (
    <main class="page billing">
      <h1>{app.org?.name ?? org}: billing</h1>
      <State data={b} error={error} what="billing" empty={false}>
        {b && !b.enabled && <p class="muted empty-state">Billing is off on this server: every organization may do everything.</p>}
        {b?.enabled && (
          <>
            {returned === 'done' && <p role="status" class="notice">{waiting ? 'Thank you. The plan changes as soon as Stripe confirms the payment…' : 'Payment confirmed.'}</p>}
            {returned === 'cancelled' && <p role="status" class="muted">Checkout was cancelled; nothing changed.</p>}
            <section class="settings-section">
              <h2>Plan</h2>
              <p class="plan-line"><strong data-plan={b.plan?.name}>{b.plan?.title}</strong>
                {' '}<span class="muted" data-status={b.status}>{b.status === 'none' ? '' : b.status.replace('_', ' ')}</span>
                {b.cancel_at_period_end && <span class="error"> — ends {day(b.current_period_end)}</span>}
                {!b.cancel_at_period_end && b.current_period_end && b.status !== 'canceled' && <span class="muted"> — renews {day(b.current_period_end)}</span>}
              </p>
              {b.status === 'trialing' && b.trial_end && <p>The trial ends {day(b.trial_end)}.</p>}
              {b.past_due_since && <p class="error" role="alert">The payment is past due since {day(b.past_due_since)}; new work is refused after {day(b.grace_ends_at)}.</p>}
              {b.payment_method && <p>Paid with <span data-payment-method>{b.payment_method}</span></p>}
              {owner && (
                <div class="actions">
                  {b.plans?.filter((p: Json) => p.purchasable && p.name !== b.plan?.name).map((p: Json) => (
                    <span>
                      {p.seats_bought && (
                        // Empty: as many seats as members (the server's default).
                        <label>
                          Seats
                          <input type="number" min={1} max={10000} value={seats}
                                 placeholder={String(Math.max(b.usage.seats, 1))}
                                 onInput={(e) => setSeats((e.target as HTMLInputElement).value)} />
                        </label>
                      )}
                      <button disabled={!!busy} onClick={() => open('checkout', seats ? { plan: p.name, seats: Number(seats) } : { plan: p.name })}>
                        {busy === 'checkout' ? 'Opening Stripe…' : `Upgrade to ${p.title}`}
                      </button>
                    </span>
                  ))}
                  {b.customer_id && <button class="quiet" disabled={!!busy} onClick={() => open('portal', {})}>Manage payment and invoices</button>}
                  {b.subscription_id && b.plan?.name !== 'free' && !b.cancel_at_period_end &&
                    <button class="quiet danger" disabled={!!busy} onClick={() => confirm('End the subscription at the end of this period?') && change('cancel')}>Cancel plan</button>}
                  {b.cancel_at_period_end && <button class="quiet" disabled={!!busy} onClick={() => change('resume')}>Keep the plan</button>}
                </div>
              )}
              {!owner && <p class="muted small">Owners change the plan.</p>}
              {actError && <p class="error" role="alert">{actError}</p>}
            </section>
            <section class="settings-section">
              <h2>Usage</h2>
              <Usage label="Seats" used={b.usage.seats} limit={b.plan.limits.seats} />
              <Usage label="Running tasks" used={b.usage.running_tasks} limit={b.plan.limits.running_tasks} />
              <Usage label="Sandboxes" used={b.usage.sandboxes} limit={b.plan.limits.sandboxes} />
              <Usage label={`Agent turns in ${b.month}`} used={b.usage.turns_this_month} limit={b.plan.limits.monthly_turns} />
            </section>
            {owner && (
              <section class="settings-section">
                <h2>Invoices</h2>
                <State data={invoices} error={invoicesError} what="invoices" empty={!invoices?.items?.length && 'No invoices yet.'}>
                  <table class="invoices"><thead><tr><th>Number</th><th>Date</th><th>Amount</th><th>Status</th><th></th></tr></thead><tbody>
                    {invoices?.items?.map((i: Json) => (
                      <tr><td>{i.number}</td><td>{day(i.created)}</td><td>{money(i.amount, i.currency)}</td><td>{i.status}</td>
                        <td>{i.hosted_url && /^https?:\/\//.test(i.hosted_url) && <a href={i.hosted_url} target="_blank" rel="noopener noreferrer">View</a>}</td></tr>
                    ))}
                  </tbody></table>
                </State>
              </section>
            )}
          </>
        )}
      </State>
    </main>
  );
}
