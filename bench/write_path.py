"""Throughput of the chain write path against the seed system's upsert and against bare COPY.

Run `python bench/write_path.py [--rows N]` from the repository root; prints one line of figures.

One fresh embedded PostgreSQL, one fresh database per contender, the same rows for all three:
- `ours`: `store.chains.write_symbol_day` per symbol-day (lock, ledger check, streaming COPY, ledger
  row, underlying close, commit): the product's write path, formatting included.
- `seed`: what the system this project replaces did: psycopg2 `execute_values` in pages of 2,000,
  `INSERT ... ON CONFLICT (key) DO UPDATE SET ... WHERE (...) IS DISTINCT FROM (...)`, one
  transaction per symbol-day.
- `copy`: the physical limit: one COPY of all rows, already formatted, into an empty
  `options_chains` (same primary key and same foreign key to `tickers`); and `copy_pk_only`, the same
  into a table with the primary key but no foreign key, to show what the per-row FK check costs.
Before each timed phase the server is vacuumed, checkpointed and idle. Row generation is untimed.
At least 3 rounds run, each timing every contender (the order rotating per round); each figure is
the median over the rounds with its spread (min..max), ratios taken within a round.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg2  # noqa: E402
import psycopg2.extras  # noqa: E402

from bench._common import (  # noqa: E402
    MIN_ROUNDS,
    embedded_server,
    figures,
    isolate_environment,
    median_and_spread,
    quiesce,
    synthetic_chains,
)
from markets.snapshot import snapshot_time_for  # noqa: E402
from store.chains import CHAIN_COLUMNS, SymbolDayRows, _CopySource, write_symbol_day  # noqa: E402
from store.tickers import ensure_tickers  # noqa: E402

SESSION = date(2025, 12, 9)
SEED_PAGE_SIZE = 2_000
KEY = ("time", "ticker_id", "expiration_date", "strike_price", "option_type")
VALUES = tuple(column for column in CHAIN_COLUMNS if column not in KEY)
SEED_UPSERT = (
    f"INSERT INTO options_chains ({', '.join(CHAIN_COLUMNS)}) VALUES %s "
    f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET "
    + ", ".join(f"{column} = EXCLUDED.{column}" for column in VALUES)
    + f" WHERE ({', '.join(f'options_chains.{column}' for column in VALUES)})"
    f" IS DISTINCT FROM ({', '.join(f'EXCLUDED.{column}' for column in VALUES)})"
)
# Order-independent fingerprint of every stored row, by symbol (ticker uuids differ per database).
FINGERPRINT = (
    "SELECT count(*), sum(hashtextextended(concat_ws('|', t.symbol, c.time, c.expiration_date, c.strike_price, "
    "c.option_type, c.bid, c.ask, c.last, c.volume, c.open_interest, c.implied_volatility, c.delta, c.gamma, "
    "c.theta, c.vega), 0)::numeric) FROM options_chains c JOIN tickers t ON t.id = c.ticker_id"
)


def symbol_days(connection, chains) -> list[SymbolDayRows]:  # noqa: ANN001
    ids = ensure_tickers(connection, [symbol for symbol, _, _ in chains])
    stamp = snapshot_time_for(SESSION)
    return [SymbolDayRows(ids[symbol], SESSION, stamp, "synthetic", close, rows) for symbol, close, rows in chains]


def run_ours(url: str, chains) -> float:  # noqa: ANN001
    connection = psycopg2.connect(url)
    days = symbol_days(connection, chains)
    quiesce(url)
    started = time.perf_counter()
    for day in days:
        write_symbol_day(connection, day)
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


def run_seed(url: str, chains) -> float:  # noqa: ANN001
    connection = psycopg2.connect(url)
    days = symbol_days(connection, chains)
    quiesce(url)
    started = time.perf_counter()
    for day in days:
        key = (day.snapshot_time, day.ticker_id)
        with connection, connection.cursor() as cursor:
            psycopg2.extras.execute_values(
                cursor, SEED_UPSERT, [key + row for row in day.rows], page_size=SEED_PAGE_SIZE
            )
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


def run_copy(url: str, chains, table: str) -> float:  # noqa: ANN001
    connection = psycopg2.connect(url)
    days = symbol_days(connection, chains)
    payload = b"".join(_CopySource(day).text() for day in days)
    quiesce(url)
    started = time.perf_counter()
    with connection, connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} ({', '.join(CHAIN_COLUMNS)}) FROM STDIN", io.BytesIO(payload), size=1 << 18)
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


def fingerprint(url: str) -> tuple[int, object]:
    connection = psycopg2.connect(url)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(FINGERPRINT)
            return cursor.fetchone()
    finally:
        connection.close()


def warm_up(server, chains) -> None:  # noqa: ANN001
    """An untimed COPY of all rows into a scratch database, then dropped: a new cluster creates its
    WAL segment files as it goes, and whichever phase ran first would pay for that."""
    url = server.create_database("bench_warm_up")
    run_copy(url, chains, "options_chains")
    admin = server.admin()
    with admin.cursor() as cursor:
        cursor.execute("DROP DATABASE bench_warm_up")
    admin.close()
    quiesce(server.url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=MIN_ROUNDS, help=f"at least {MIN_ROUNDS}, interleaved")
    args = parser.parse_args()
    isolate_environment()

    chains = synthetic_chains(args.rows, SESSION)
    rows = sum(len(chain_rows) for _, _, chain_rows in chains)
    seconds: dict[str, list[float]] = {"copy": [], "copy_pk_only": [], "ours": [], "seed": []}
    identical: list[bool] = []
    with embedded_server() as server:
        warm_up(server, chains)
        for round_number in range(max(MIN_ROUNDS, args.rounds)):
            names = [f"bench_{name}_{round_number}" for name in ("copy", "ours", "seed")]
            copy_url, ours_url, seed_url = (server.create_database(name) for name in names)
            with psycopg2.connect(copy_url) as connection, connection.cursor() as cursor:
                cursor.execute("CREATE TABLE copy_pk_only (LIKE options_chains INCLUDING ALL)")
            connection.close()

            phases = [
                ("copy", run_copy, (copy_url, chains, "options_chains"), copy_url, "options_chains"),
                ("copy_pk_only", run_copy, (copy_url, chains, "copy_pk_only"), copy_url, "copy_pk_only"),
                ("ours", run_ours, (ours_url, chains), ours_url, "options_chains"),
                ("seed", run_seed, (seed_url, chains), seed_url, "options_chains"),
            ]
            shift = round_number % len(phases)
            for name, run, arguments, url, table in phases[shift:] + phases[:shift]:
                seconds[name].append(run(*arguments))
                quiesce(url, (table,))

            identical.append(fingerprint(ours_url) == fingerprint(seed_url) == fingerprint(copy_url))
            admin = server.admin()
            with admin.cursor() as cursor:
                for name in names:
                    cursor.execute(f"DROP DATABASE {name}")
            admin.close()

    rates = {name: [rows / value for value in values] for name, values in seconds.items()}

    def ratio(top: str, bottom: str) -> list[float]:
        return [a / b for a, b in zip(rates[top], rates[bottom], strict=True)]

    reported = {
        "ours_rows_per_s": (rates["ours"], 0),
        "seed_rows_per_s": (rates["seed"], 0),
        "copy_rows_per_s": (rates["copy"], 0),
        "copy_pk_only_rows_per_s": (rates["copy_pk_only"], 0),
        "ratio_vs_seed": (ratio("ours", "seed"), 2),
        "fraction_of_copy": (ratio("ours", "copy"), 3),
        "fraction_of_copy_pk_only": (ratio("ours", "copy_pk_only"), 3),
    }
    values: dict[str, object] = {"rows": rows, "symbol_days": len(chains), "rounds": len(rates["ours"])}
    for name, (series, digits) in reported.items():
        values[f"{name}_median"], values[f"{name}_spread"] = median_and_spread(series, digits)
    print(figures("write_path", **values, same_rows=all(identical)))


if __name__ == "__main__":
    main()
