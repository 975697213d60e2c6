-- The pricing inputs a source reported for a symbol-day (annualised, continuously compounded, as
-- fractions: 0.043 = 4.3%), stored with the day so dealer metrics re-price the gamma profile with the
-- rate and dividend yield the source priced its greeks with. NULL: the source reported none (dealer
-- metrics then use their configured defaults). Only our own ledger table is altered.
ALTER TABLE chain_snapshots ADD COLUMN IF NOT EXISTS risk_free_rate double precision;
ALTER TABLE chain_snapshots ADD COLUMN IF NOT EXISTS dividend_yield double precision;
