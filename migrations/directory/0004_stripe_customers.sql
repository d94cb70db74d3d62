-- Which Hearth organization each Stripe customer is: one to one. The edge routes a
-- Stripe event about a customer (invoices, customer.updated) with one read of this table.
CREATE TABLE stripe_customers (
  customer_id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL UNIQUE,
  linked_at INTEGER NOT NULL
);
