"""Throughput of the dealer-metrics task path: load from PostgreSQL, compute, upsert.

Run `python bench/dealer_metrics.py [--rounds 3] [--sessions 40] [--tickers-small 10] [--tickers-large 4]`;
prints one line per chain size (2,000 and 10,000 contracts per ticker-day).

A throw-away embedded PostgreSQL is filled with seeded, realistic chains (an IV smile, Black-Scholes
gammas, open interest peaking near the money, a few percent of greeks missing, 0 DTE included) plus
their ledger rows and closes. Then, in every round and for each size, interleaved:
- `path`: `run_dealer_metrics` per ticker over the requested sessions (the task's own function: one
  binary COPY of the ticker's chains, each snapshot computed once with its 5 prior sessions, one
  upsert), with the previous round's dealer rows deleted first so every round writes them;
- `read`: the same rows merely read out of PostgreSQL (a binary COPY of the stored columns the
  metrics use, into a sink that keeps nothing): the floor of this job;
- `compute`: the path's middle phase alone (`compute_ticker` on inputs loaded before the round:
  every snapshot, history, the JSON text), no database;
- `write`: the path's last phase alone (`upsert_dealer_metrics` of the rows `compute` made, the
  table cleared first).
`fraction_of_read` is read time / path time in the same round; `read`, `compute` and `write` are
also printed as rates, and `compute_write` as the rate of those two together: the ceiling of any
path that computes and stores this JSON, even one whose read cost nothing. Each figure is the
median and the spread (min..max) over the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import psycopg2  # noqa: E402
import psycopg2.extensions  # noqa: E402

from bench._common import embedded_server, figures, isolate_environment, quiesce, quiet_logs  # noqa: E402
from dealer.black_scholes import bs_gamma, year_fraction  # noqa: E402
from markets.calendar import get_calendar  # noqa: E402
from markets.snapshot import snapshot_time_for  # noqa: E402
from store.dealer_rows import DealerRow, copy_binary, upsert_dealer_metrics  # noqa: E402
from store.tickers import ensure_tickers, ticker_ids  # noqa: E402
from tasks.dealer_metrics import (  # noqa: E402
    TickerInputs,
    compute_ticker,
    load_ticker_inputs,
    run_dealer_metrics,
)

LOOKBACK_SESSIONS = 5
# Expirations (calendar days) per chain size; the last ones are beyond max_dte, 0 expires that day.
EXPIRATIONS = {
    2_000: (0, 2, 7, 14, 21, 30, 45, 60, 90, 120),
    10_000: (0, 1, 2, 3, 4, 7, 9, 14, 16, 21, 28, 30, 35, 45, 60, 75, 90, 120, 180, 270),
}
READ_QUERY = (
    "COPY (SELECT time, expiration_date, strike_price, option_type, gamma, open_interest, implied_volatility "
    "FROM options_chains WHERE ticker_id = %s AND time = ANY(%s::timestamptz[])) TO STDOUT (FORMAT binary)"
)


@dataclass(frozen=True)
class Universe:
    """The tickers of one chain size and the sessions each is asked for."""

    contracts: int
    symbols: tuple[str, ...]
    sessions: tuple[date, ...]


def realistic_chain(rng: np.random.Generator, spot: float, contracts: int) -> dict[str, np.ndarray]:
    """Calls and puts on strikes × expirations = `contracts`, strikes on the round increment a listed
    exchange would use near 0.6% of spot; gammas from a skewed smile, OI near the money, heavier
    out of the money and on round strikes; 2% of gammas and 1% of IVs missing."""
    dtes = np.array(EXPIRATIONS[contracts])
    per_expiry = contracts // (2 * dtes.size)
    increment = min((0.5, 1.0, 2.5, 5.0, 10.0), key=lambda step: abs(step - 0.006 * spot))
    first = max(increment, np.floor((spot - 0.5 * per_expiry * increment) / increment) * increment)
    ladder = first + increment * np.arange(per_expiry)
    strike, dte = (grid.ravel() for grid in np.meshgrid(ladder, dtes))
    strike, dte = np.concatenate([strike, strike]), np.concatenate([dte, dte])
    is_call = np.repeat([True, False], strike.size // 2)
    years = year_fraction(dte)
    standardised = np.log(strike / spot) / np.sqrt(years)
    volatility = np.clip(0.22 - 0.08 * standardised + 0.05 * standardised**2, 0.05, 2.0) * rng.uniform(0.9, 1.1)
    gamma = bs_gamma(spot, strike, years, volatility)
    out_of_the_money = np.where(is_call, strike > spot, strike < spot)
    open_interest = np.floor(
        rng.lognormal(6.5, 1.0, strike.size)
        * np.exp(-(np.log(strike / spot) ** 2) / 0.05)
        * np.where(out_of_the_money, 2.0, 1.0)
        * np.where(np.isclose(np.mod(strike, 5.0), 0.0), 2.0, 1.0)
    )
    gamma[rng.random(strike.size) < 0.02] = np.nan
    volatility[rng.random(strike.size) < 0.01] = np.nan
    return {"strike": strike, "dte": dte, "is_call": is_call, "gamma": gamma, "oi": open_interest, "iv": volatility}


def _cell(value: float) -> str:
    return "" if np.isnan(value) else repr(float(value))


def fill(url: str, universes: Sequence[Universe], stored: Sequence[date], seed: int) -> None:
    """Store every ticker's chain, ledger row and close on every session of `stored`."""
    connection = psycopg2.connect(url)
    try:
        ids = ensure_tickers(connection, [symbol for universe in universes for symbol in universe.symbols])
        rng = np.random.default_rng(seed)
        for universe in universes:
            for symbol in universe.symbols:
                spots = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, len(stored)))) * rng.uniform(0.5, 5.0)
                for session, spot in zip(stored, spots.tolist(), strict=True):
                    stamp = snapshot_time_for(session).isoformat()
                    chain = realistic_chain(rng, spot, universe.contracts)
                    prefix = f"{stamp},{ids[symbol]},"
                    lines = [
                        f"{prefix}{session + timedelta(days=int(dte))},{strike:.4f},{'C' if call else 'P'},"
                        f"{_cell(gamma)},{int(oi)},{_cell(iv)}\n"
                        for strike, dte, call, gamma, oi, iv in zip(
                            chain["strike"].tolist(), chain["dte"].tolist(), chain["is_call"].tolist(),
                            chain["gamma"].tolist(), chain["oi"].tolist(), chain["iv"].tolist(), strict=True,
                        )
                    ]  # fmt: skip
                    with connection, connection.cursor() as cursor:
                        cursor.copy_expert(
                            "COPY options_chains (time, ticker_id, expiration_date, strike_price, option_type, gamma, "
                            "open_interest, implied_volatility) FROM STDIN (FORMAT csv)",
                            _Lines(lines),
                        )
                        cursor.execute(
                            "INSERT INTO chain_snapshots (time, ticker_id, provider, contracts, underlying_close) "
                            "VALUES (%s, %s, 'bench', %s, %s); "
                            "INSERT INTO ohlcv (ticker_id, date, close) VALUES (%s, %s, %s)",
                            (stamp, ids[symbol], len(lines), round(spot, 2), ids[symbol], session, round(spot, 2)),
                        )
    finally:
        connection.close()


class _Lines:
    """A file-like source over text lines, for `copy_expert`."""

    def __init__(self, lines: list[str]) -> None:
        self._data = "".join(lines).encode()
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._offset + size
        chunk = self._data[self._offset : end]
        self._offset += len(chunk)
        return chunk

    readline = read


def run_path(connection: psycopg2.extensions.connection, universe: Universe) -> float:
    """Seconds for the whole task path over every ticker of `universe`."""
    started = time.perf_counter()
    for symbol in universe.symbols:
        results = run_dealer_metrics(connection, symbol, list(universe.sessions), lookback_sessions=LOOKBACK_SESSIONS)
        if any(result.status == "ERROR" for result in results):
            raise RuntimeError(f"bench ticker-day failed: {[r.error for r in results if r.error][:1]}")
    return time.perf_counter() - started


def run_read(connection: psycopg2.extensions.connection, universe: Universe, needed: Sequence[date]) -> float:
    """Seconds to merely read the same rows (every session the path loads, priors included)."""
    ids = ticker_ids(connection, list(universe.symbols))
    stamps = [snapshot_time_for(session) for session in needed]
    started = time.perf_counter()
    for symbol in universe.symbols:
        copy_binary(connection, READ_QUERY, (ids[symbol], stamps))
    return time.perf_counter() - started


def load_inputs(connection: psycopg2.extensions.connection, universe: Universe) -> list[TickerInputs]:
    """Every ticker's inputs, read once before the rounds (the `compute` phase times no I/O)."""
    inputs = [
        load_ticker_inputs(connection, symbol, list(universe.sessions), lookback_sessions=LOOKBACK_SESSIONS)
        for symbol in universe.symbols
    ]
    return [ticker for ticker in inputs if ticker is not None]


def run_compute(inputs: Sequence[TickerInputs]) -> tuple[float, list[list[DealerRow]]]:
    """Seconds to compute every ticker's results and rows from loaded inputs, and the rows."""
    started = time.perf_counter()
    rows = [compute_ticker(ticker)[1] for ticker in inputs]
    return time.perf_counter() - started, rows


def run_write(connection: psycopg2.extensions.connection, url: str, rows: Sequence[list[DealerRow]]) -> float:
    """Seconds to upsert every ticker's rows into a cleared table, one statement per ticker."""
    clear_results(url)
    started = time.perf_counter()
    for ticker_rows in rows:
        upsert_dealer_metrics(connection, ticker_rows)
    return time.perf_counter() - started


def clear_results(url: str) -> None:
    connection = psycopg2.connect(url)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute("DELETE FROM daily_snapshots")
    finally:
        connection.close()
    quiesce(url, ("daily_snapshots",))


# Every round runs each phase once; odd rounds run the pairs the other way round (`write` stores what
# `compute` made, so it always follows it).
PHASES = ("path", "read", "compute", "write")


def spread(values: Sequence[float], digits: int) -> str:
    return f"{round(min(values), digits)}..{round(max(values), digits)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=40, help="sessions asked per ticker")
    parser.add_argument("--tickers-small", type=int, default=10, help="tickers with 2,000 contracts a day")
    parser.add_argument("--tickers-large", type=int, default=4, help="tickers with 10,000 contracts a day")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    isolate_environment()
    quiet_logs()

    calendar = get_calendar("XNYS")
    stored = calendar.sessions(date(2025, 1, 2), date(2025, 12, 31))[: args.sessions + LOOKBACK_SESSIONS]
    asked = tuple(stored[LOOKBACK_SESSIONS:])
    universes = [
        Universe(2_000, tuple(f"S{i:03d}" for i in range(args.tickers_small)), asked),
        Universe(10_000, tuple(f"L{i:03d}" for i in range(args.tickers_large)), asked),
    ]
    with embedded_server("kapman-bench-dealer-") as server:
        url = server.create_database("bench_dealer")
        fill(url, universes, stored, args.seed)
        quiesce(url, ("options_chains", "chain_snapshots", "ohlcv"))
        connection = psycopg2.connect(url)
        try:
            inputs = {universe.contracts: load_inputs(connection, universe) for universe in universes}
            seconds: dict[tuple[int, str], list[float]] = {}
            for round_number in range(max(3, args.rounds)):
                # Interleaved: each size's phases back to back, their order reversed every other round.
                for universe in universes if round_number % 2 == 0 else universes[::-1]:
                    clear_results(url)
                    phases = PHASES if round_number % 2 == 0 else ("compute", "write", "read", "path")
                    for phase in phases:
                        if phase == "path":
                            took = run_path(connection, universe)
                        elif phase == "read":
                            took = run_read(connection, universe, stored)
                        elif phase == "compute":
                            took, rows = run_compute(inputs[universe.contracts])
                        else:
                            took = run_write(connection, url, rows)
                        seconds.setdefault((universe.contracts, phase), []).append(took)
        finally:
            connection.close()

    for universe in universes:
        ticker_days = len(universe.symbols) * len(universe.sessions)

        def phase(name: str, size: int = universe.contracts) -> list[float]:
            return seconds[(size, name)]

        rates = {name: [ticker_days / took for took in phase(name)] for name in PHASES}
        rates["compute_write"] = [
            ticker_days / (compute + write) for compute, write in zip(phase("compute"), phase("write"), strict=True)
        ]
        fractions = [read / path for read, path in zip(phase("read"), phase("path"), strict=True)]
        print(
            figures(
                "dealer_metrics",
                contracts_per_day=universe.contracts,
                ticker_days=ticker_days,
                rounds=len(fractions),
                ticker_days_per_s_median=round(statistics.median(rates["path"]), 1),
                ticker_days_per_s_spread=spread(rates["path"], 1),
                fraction_of_read_median=round(statistics.median(fractions), 3),
                fraction_of_read_spread=spread(fractions, 3),
                **{
                    f"{name}_ticker_days_per_s_{figure}": value
                    for name in ("read", "compute", "write", "compute_write")
                    for figure, value in (
                        ("median", round(statistics.median(rates[name]), 1)),
                        ("spread", spread(rates[name], 1)),
                    )
                },
            )
        )


if __name__ == "__main__":
    main()
