-- The trading system's baseline schema, written for these tests from the facts its operators gave
-- (not copied from anywhere): what the pipeline must run against unchanged.

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'uuid-ossp') THEN
        CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
    ELSE
        -- A server without the contrib module: the same function name, so the DDL below is theirs.
        CREATE FUNCTION uuid_generate_v4() RETURNS uuid LANGUAGE sql AS 'SELECT gen_random_uuid()';
    END IF;
END
$$;

CREATE TABLE tickers (
    id          uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    symbol      varchar(20) UNIQUE NOT NULL,
    name        varchar(255),
    sector      varchar(100),
    is_active   boolean NOT NULL DEFAULT true,
    created_at  timestamptz
);

CREATE TABLE watchlists (
    watchlist_id    varchar(255) NOT NULL,
    symbol          varchar(20) NOT NULL,
    active          boolean NOT NULL DEFAULT true,
    source          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    effective_date  date NOT NULL,
    UNIQUE (watchlist_id, symbol)
);

CREATE TABLE options_chains (
    time                timestamptz NOT NULL,
    ticker_id           uuid NOT NULL REFERENCES tickers (id),
    expiration_date     date NOT NULL,
    strike_price        numeric(12, 4) NOT NULL,
    option_type         char(1) NOT NULL,
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
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT options_chains_contract_key UNIQUE (time, ticker_id, expiration_date, strike_price, option_type),
    CONSTRAINT options_chains_option_type_check CHECK (option_type IN ('C', 'P'))
);
CREATE INDEX idx_options_chains_ticker_time ON options_chains (ticker_id, time DESC);
CREATE INDEX idx_options_chains_expiration ON options_chains (expiration_date);
CREATE INDEX idx_options_chains_time ON options_chains (time DESC);

CREATE TABLE ohlcv (
    ticker_id   uuid NOT NULL REFERENCES tickers (id),
    date        date NOT NULL,
    open        numeric,
    high        numeric,
    low         numeric,
    close       numeric,
    volume      bigint,
    created_at  timestamptz,
    PRIMARY KEY (ticker_id, date)
);

CREATE TABLE daily_snapshots (
    time                       timestamptz NOT NULL,
    ticker_id                  uuid NOT NULL REFERENCES tickers (id),
    wyckoff_regime             varchar(50),
    wyckoff_regime_confidence  numeric,
    wyckoff_phase              varchar(50),
    events_json                jsonb,
    technical_indicators_json  jsonb,
    dealer_metrics_json        jsonb,
    volatility_metrics_json    jsonb,
    price_metrics_json         jsonb,
    model_version              varchar(50),
    created_at                 timestamptz,
    PRIMARY KEY (time, ticker_id)
);

CREATE TABLE recommendations (
    id         uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    time       timestamptz NOT NULL,
    ticker_id  uuid NOT NULL,
    action     varchar(20),
    FOREIGN KEY (time, ticker_id) REFERENCES daily_snapshots (time, ticker_id)
);

-- TimescaleDB, where that system runs it: hypertables, compression after 120 days, 730-day retention.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        PERFORM create_hypertable('options_chains', 'time', migrate_data => true);
        EXECUTE 'ALTER TABLE options_chains SET (timescaledb.compress, timescaledb.compress_segmentby = ''ticker_id'')';
        PERFORM add_compression_policy('options_chains', INTERVAL '120 days');
        PERFORM add_retention_policy('options_chains', INTERVAL '730 days');
        PERFORM create_hypertable('ohlcv', 'date', migrate_data => true);
        PERFORM add_retention_policy('ohlcv', INTERVAL '730 days');
    END IF;
END
$$;
