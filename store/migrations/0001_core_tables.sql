-- Core tables of the kapman-trader schema this pipeline writes into (DESIGN §2).
-- Idempotent: a database the trading system already populated keeps its tables and rows.

CREATE TABLE IF NOT EXISTS tickers (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    symbol      varchar(20) NOT NULL UNIQUE,
    name        text,
    is_active   boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS watchlists (
    watchlist_id    varchar(64) NOT NULL,
    symbol          varchar(20) NOT NULL,
    active          boolean NOT NULL DEFAULT true,
    source          text,
    effective_date  date NOT NULL DEFAULT current_date,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (watchlist_id, symbol)
);

CREATE TABLE IF NOT EXISTS options_chains (
    time                timestamptz NOT NULL,
    ticker_id           uuid NOT NULL REFERENCES tickers (id),
    expiration_date     date NOT NULL,
    strike_price        numeric(12, 4) NOT NULL,
    option_type         char(1) NOT NULL CHECK (option_type IN ('C', 'P')),
    bid                 numeric,
    ask                 numeric,
    last                numeric,
    volume              integer,
    open_interest       integer,
    implied_volatility  numeric,
    delta               numeric,
    gamma               numeric,
    theta               numeric,
    vega                numeric,
    PRIMARY KEY (time, ticker_id, expiration_date, strike_price, option_type)
);

CREATE TABLE IF NOT EXISTS chain_snapshots (
    time              timestamptz NOT NULL,
    ticker_id         uuid NOT NULL REFERENCES tickers (id),
    provider          text NOT NULL,
    contracts         integer NOT NULL,
    underlying_close  numeric,
    fetched_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (time, ticker_id)
);

CREATE TABLE IF NOT EXISTS ohlcv (
    ticker_id  uuid NOT NULL REFERENCES tickers (id),
    date       date NOT NULL,
    open       numeric,
    high       numeric,
    low        numeric,
    close      numeric,
    volume     bigint,
    PRIMARY KEY (ticker_id, date)
);

CREATE TABLE IF NOT EXISTS daily_snapshots (
    time                  timestamptz NOT NULL,
    ticker_id             uuid NOT NULL REFERENCES tickers (id),
    dealer_metrics_json   jsonb,
    model_version         text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (time, ticker_id)
);

-- Hypertable on `time` when TimescaleDB is installed; a plain table otherwise.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        PERFORM create_hypertable('options_chains', 'time', if_not_exists => true, migrate_data => true);
    END IF;
END
$$;
