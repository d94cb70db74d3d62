-- Org secrets: values sealed with the server's master key (storage/secret_box.h), bound
-- to "org <org_id>/secret <name>". The plaintext never reaches this database.
CREATE TABLE secrets (
  name TEXT PRIMARY KEY,
  nonce TEXT NOT NULL,
  ciphertext TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
