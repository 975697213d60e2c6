-- The ledger records whether a symbol-day's data is simulated, as the provider that wrote it
-- declared, so readers (dealer metrics, coverage) never infer it from a provider's name.
ALTER TABLE chain_snapshots ADD COLUMN IF NOT EXISTS simulated boolean NOT NULL DEFAULT false;
-- Rows written before the flag existed: the only built-in simulated provider was `synthetic`.
UPDATE chain_snapshots SET simulated = true WHERE provider = 'synthetic' AND NOT simulated;
