-- An organization's billing (actors/billing): its Stripe customer and subscription as
-- last applied, the invoices Stripe told of, the events received (deduplicated by id,
-- each with its outcome) and the agent turns started per month. `billing / [_server]`
-- keeps only events: those no organization claims, and a note of every other's outcome.

CREATE TABLE billing (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  org_id TEXT NOT NULL,
  customer_id TEXT,
  subscription_id TEXT,
  status TEXT NOT NULL DEFAULT 'none',   -- none, or Stripe's: active, trialing, past_due, unpaid, canceled, incomplete, ...
  plan TEXT NOT NULL DEFAULT 'free',
  price_id TEXT,
  seats INTEGER NOT NULL DEFAULT 1,
  cancel_at_period_end INTEGER NOT NULL DEFAULT 0,
  current_period_end INTEGER NOT NULL DEFAULT 0,  -- unix seconds
  trial_end INTEGER NOT NULL DEFAULT 0,
  past_due_since INTEGER NOT NULL DEFAULT 0,
  subscription_at INTEGER NOT NULL DEFAULT 0,     -- `created` of the newest event applied (unix seconds)
  payment_method_id TEXT,
  payment_method TEXT,                            -- "Visa ending in 4242"
  reads_started INTEGER NOT NULL DEFAULT 0,       -- reads of the subscription asked of Stripe (numbered)
  reads_applied INTEGER NOT NULL DEFAULT 0,       -- the newest one that answered
  updated_at INTEGER NOT NULL
);

CREATE TABLE invoices (
  invoice_id TEXT PRIMARY KEY,
  number TEXT,
  amount INTEGER NOT NULL,          -- in the currency's smallest unit
  currency TEXT NOT NULL,
  status TEXT NOT NULL,             -- draft, open, paid, void, uncollectible
  hosted_url TEXT,
  created INTEGER NOT NULL,         -- unix seconds
  event_at INTEGER NOT NULL         -- `created` of the event that last changed it
);
CREATE INDEX invoices_by_created ON invoices(created DESC);

CREATE TABLE events (
  event_id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  org_id TEXT,
  created INTEGER NOT NULL,         -- Stripe's, unix seconds
  outcome TEXT NOT NULL,            -- applied, stale, ignored, duplicate, no organization
  detail TEXT,
  received_at INTEGER NOT NULL
);
CREATE INDEX events_by_received ON events(received_at DESC);

CREATE TABLE turns (
  month TEXT PRIMARY KEY,           -- "2026-12" (UTC)
  count INTEGER NOT NULL
);
