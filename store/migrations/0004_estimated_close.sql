-- Whether a symbol-day's underlying close is an estimate (e.g. the forward implied by put-call
-- parity when the source's plan has no stock prices), recorded with the day so dealer metrics never
-- treat it as an exact spot.
ALTER TABLE chain_snapshots ADD COLUMN IF NOT EXISTS close_estimated boolean NOT NULL DEFAULT false;
