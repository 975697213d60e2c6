-- Dealer rows move to the trading system's identity of a ticker-day in `daily_snapshots`: the end of
-- the session's day in New York (D 23:59:59.999999 America/New_York), where its other daily jobs
-- write. Earlier versions wrote them at the chain identity, D 23:59:59.999999 UTC: each such row
-- merges into the row already at the new identity (only its dealer JSON and model version), or
-- moves there. Only rows this project wrote (`model_version` dealer-v…) are touched.
CREATE TEMP TABLE dealer_identity_moves ON COMMIT DROP AS
SELECT time AS old_time,
       ticker_id,
       ((time AT TIME ZONE 'UTC')::date + time '23:59:59.999999') AT TIME ZONE 'America/New_York' AS new_time
FROM daily_snapshots
WHERE model_version LIKE 'dealer-v%'
  AND (time AT TIME ZONE 'UTC')::time = time '23:59:59.999999';

UPDATE daily_snapshots target
SET dealer_metrics_json = old.dealer_metrics_json, model_version = old.model_version
FROM dealer_identity_moves move
JOIN daily_snapshots old ON old.time = move.old_time AND old.ticker_id = move.ticker_id
WHERE target.time = move.new_time AND target.ticker_id = move.ticker_id;

DELETE FROM daily_snapshots old
USING dealer_identity_moves move, daily_snapshots target
WHERE old.time = move.old_time AND old.ticker_id = move.ticker_id
  AND target.time = move.new_time AND target.ticker_id = move.ticker_id;

UPDATE daily_snapshots old
SET time = move.new_time
FROM dealer_identity_moves move
WHERE old.time = move.old_time AND old.ticker_id = move.ticker_id;
