"""Backfill, then dealer metrics across the window: the reason backfill exists."""

import base64
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.settings import PREFECT_API_URL

from dealer import ChainArrays
from dealer.black_scholes import bs_gamma, year_fraction
from flows.backfill import backfill_options
from flows.dealer_metrics import dealer_metrics
from markets.snapshot import snapshot_time_for
from tests.dbutil import seed_watchlist

SYMBOLS = ["AAPL", "QQQ", "SPY"]
ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def metrics_json(db) -> dict:
    with db, db.cursor() as cursor:
        cursor.execute(
            "SELECT t.symbol, (d.time AT TIME ZONE 'America/New_York')::date, d.dealer_metrics_json "
            "FROM daily_snapshots d "
            "JOIN tickers t ON t.id = d.ticker_id"
        )
        return {(symbol, session): payload for symbol, session, payload in cursor.fetchall()}


@pytest.fixture
def backfilled(db):
    seed_watchlist(db, SYMBOLS)
    summary = backfill_options(start_date=date(2025, 12, 9), end_date=date(2025, 12, 22), provider="synthetic")
    assert summary.days_succeeded == 10
    return db


def test_metrics_across_the_backfilled_window_have_complete_history(backfilled):
    summary = dealer_metrics(start_date=date(2025, 12, 16), end_date=date(2025, 12, 22), lookback_sessions=5)
    assert summary.ticker_days == 5 * len(SYMBOLS)
    assert summary.missing_history == 0 and summary.errors == 0 and summary.invalid == 0
    stored = metrics_json(backfilled)
    assert len(stored) == 5 * len(SYMBOLS)
    for payload in stored.values():
        assert payload["status"] in ("FULL", "LIMITED")
        assert payload["history_status"] == "COMPLETE"
        assert payload["history"]["gex_net_change_1d"] is not None
        assert payload["simulated"] is True and payload["provider"] == "synthetic"


def test_first_day_of_the_window_names_its_missing_prior_sessions(backfilled):
    summary = dealer_metrics(as_of=date(2025, 12, 9), lookback_sessions=5)
    assert summary.missing_history == len(SYMBOLS)
    expected = ["2025-12-02", "2025-12-03", "2025-12-04", "2025-12-05", "2025-12-08"]
    stored = metrics_json(backfilled)
    assert len(stored) == len(SYMBOLS)
    for payload in stored.values():
        assert payload["history_status"] == "MISSING_HISTORY"
        assert payload["missing_sessions"] == expected
        assert payload["gex_net"] is not None


def test_rerunning_metrics_writes_the_same_json(backfilled):
    dealer_metrics(start_date=date(2025, 12, 16), end_date=date(2025, 12, 22))
    first = metrics_json(backfilled)
    assert len(first) == 5 * len(SYMBOLS)
    dealer_metrics(start_date=date(2025, 12, 16), end_date=date(2025, 12, 22))
    assert metrics_json(backfilled) == first


def test_a_dealer_run_is_named_by_the_sessions_it_computes(backfilled):
    state = dealer_metrics(start_date=date(2025, 12, 16), end_date=date(2025, 12, 22), return_state=True)
    single = dealer_metrics(as_of=date(2025, 12, 22), return_state=True)
    with get_client(sync_client=True) as client:
        names = [client.read_flow_run(run.state_details.flow_run_id).name for run in (state, single)]
    assert names == ["dealer-2025-12-16-2025-12-22", "dealer-2025-12-22"]


def stored_chain(db, symbol: str, session: date) -> tuple[ChainArrays, float, float | None, float | None]:
    """The stored contracts of a ticker-day as the dealer math sees them, its close and its pricing inputs."""
    with db, db.cursor() as cursor:
        cursor.execute(
            "SELECT oc.strike_price::float8, oc.option_type = 'C', oc.expiration_date - %s, oc.gamma::float8, "
            "oc.open_interest::float8, oc.implied_volatility::float8 FROM options_chains oc "
            "JOIN tickers t ON t.id = oc.ticker_id WHERE t.symbol = %s AND oc.time = %s",
            (session, symbol, snapshot_time_for(session)),
        )
        chain = ChainArrays.from_lists(*zip(*cursor.fetchall(), strict=True))
        cursor.execute(
            "SELECT cs.underlying_close::float8, cs.risk_free_rate, cs.dividend_yield FROM chain_snapshots cs "
            "JOIN tickers t ON t.id = cs.ticker_id WHERE t.symbol = %s AND cs.time = %s",
            (symbol, snapshot_time_for(session)),
        )
        close, rate, dividend = cursor.fetchone()
    return chain, close, rate, dividend


def test_on_every_simulated_ticker_day_the_profile_at_spot_equals_gex_net(backfilled):
    """Issue 15's property: the data's gammas and the re-priced profile use one set of pricing inputs
    (the ones stored with the day), so at spot they agree within 0.1% of gex_gross."""
    summary = dealer_metrics(start_date=date(2025, 12, 9), end_date=date(2025, 12, 22), lookback_sessions=0)
    assert summary.ticker_days == 10 * len(SYMBOLS) and summary.errors == 0
    for (symbol, session), payload in metrics_json(backfilled).items():
        chain, close, rate, dividend = stored_chain(backfilled, symbol, session)
        pricing = payload["pricing"]
        assert (pricing["risk_free_rate"], pricing["dividend_yield"]) == (rate or 0.0, dividend or 0.0)
        # Eligible (dealer-v2 defaults) with an IV to re-price, from the stored rows themselves.
        used = (
            (chain.dte >= 1) & (chain.dte <= 90) & (chain.gamma >= 0.0) & (chain.open_interest >= 100.0)
            & (chain.implied_volatility > 0.0)
        )  # fmt: skip
        signed = np.where(chain.is_call, 1.0, -1.0)[used] * chain.open_interest[used]
        dollars = 100.0 * close * close * 0.01
        data_side = float(signed @ chain.gamma[used]) * dollars
        repriced = bs_gamma(
            close, chain.strike[used], year_fraction(chain.dte[used]), chain.implied_volatility[used],
            pricing["risk_free_rate"], pricing["dividend_yield"],
        )  # fmt: skip
        profile_at_spot = float(signed @ repriced) * dollars
        assert abs(profile_at_spot - data_side) <= 0.001 * payload["gex_gross"], (symbol, session)
        if payload["profile_missing_iv"] == 0:  # every eligible contract re-priced: the stored figures agree too
            assert data_side == pytest.approx(payload["gex_net"], abs=0.02)
            assert abs(payload["profile_gap"]) <= 0.001


def test_contracts_expiring_on_a_friday_session_are_left_out_unless_asked_for(backfilled):
    friday = date(2025, 12, 19)
    dealer_metrics(as_of=friday, lookback_sessions=0)
    default = metrics_json(backfilled)
    dealer_metrics(as_of=friday, lookback_sessions=0, include_expiring=True)
    kept = metrics_json(backfilled)
    for symbol in SYMBOLS:
        before, after = default[(symbol, friday)], kept[(symbol, friday)]
        assert before["include_expiring"] is False and before["excluded"]["expiring"] > 0
        assert after["include_expiring"] is True and after["excluded"]["expiring"] == 0
        assert after["contracts_eligible"] > before["contracts_eligible"]


def latest_artifact(key: str):  # noqa: ANN201 - a Prefect artifact
    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort="CREATED_DESC", limit=1
        )
    return artifact


def test_with_a_chart_dir_every_ticker_day_is_drawn_and_the_last_session_published(backfilled, tmp_path):
    sessions = ["2025-12-18", "2025-12-19", "2025-12-22"]
    directory = tmp_path / "dealer"
    summary = dealer_metrics(
        start_date=date(2025, 12, 18), end_date=date(2025, 12, 22), lookback_sessions=0, chart_dir=str(directory)
    )
    expected = [directory / f"{symbol}-{day}.png" for day in sessions for symbol in SYMBOLS]
    assert list(summary.charts) == expected
    assert sorted(directory.iterdir()) == sorted(expected)
    assert all(path.read_bytes().startswith(PNG) and path.stat().st_size > 20_000 for path in expected)
    # One inline artifact per ticker, of the last session only: the picture is the file's bytes.
    for symbol in SYMBOLS:
        artifact = latest_artifact(f"dealer-chart-{symbol.lower()}")
        path = directory / f"{symbol}-2025-12-22.png"
        assert str(path) in artifact.description
        inline = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", artifact.data)
        assert inline and base64.b64decode(inline.group(1)) == path.read_bytes()
    # The index names every file of the run, pictures not included.
    index = latest_artifact("dealer-charts")
    assert all(f"`{path}`" in index.data for path in expected)
    assert "base64" not in index.data and len(index.data) < 5_000


def test_the_cli_chart_flag_writes_one_file_per_ticker_day_and_prints_the_table(backfilled, database_url, tmp_path):
    directory = tmp_path / "charts"
    argv = ["--start-date", "2025-12-19", "--end-date", "2025-12-22", "--lookback-sessions", "0", "--chart"]
    env = {**os.environ, "DATABASE_URL": database_url, "PREFECT_API_URL": PREFECT_API_URL.value()}
    done = subprocess.run(
        [sys.executable, "-m", "flows.dealer_metrics", *argv, str(directory)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = sorted(path.name for path in directory.iterdir())
    assert names == sorted(f"{symbol}-{day}.png" for symbol in SYMBOLS for day in ("2025-12-19", "2025-12-22"))
    lines = done.stdout.splitlines()
    start = lines.index("Dealer metrics for 2025-12-22 (SIMULATED data, model dealer-v2)")
    table = lines[start + 2 : start + 2 + len(SYMBOLS)]
    assert [line.split()[0] for line in table] == SYMBOLS
    for line in table:
        spot, gex_net = line.split()[3:5]
        assert re.fullmatch(r"-?\d{1,3}(,\d{3})*\.\d\d", spot), line
        assert re.fullmatch(r"-?\d{1,3}(,\d{3})+", gex_net), line  # billions of dollars: separators
    assert f"Dealer charts: 6 files in {directory}" in done.stdout
