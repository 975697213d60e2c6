"""Documented limits: what would take hours, gigabytes or a traceback is refused up front with one
line and exit 2, and nothing is written. Each case below once did one of those."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from scripts.ingest_options import main
from store.__main__ import main as store_main
from tests.dbutil import count, seed_watchlist

SINGLE_DAY = ["--provider", "synthetic", "--as-of", "2025-12-09"]


def run(argv: list[str], capsys) -> tuple[int, list[str]]:  # noqa: ANN001 - pytest's capsys
    try:
        code = main(argv)
    except SystemExit as refused:  # argparse refuses a flag before anything runs
        code = refused.code
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--provider", "synthetic", "--start-date", "1900-01-01", "--end-date", "2100-01-01"],
            "before listed options",
        ),
        (["--provider", "synthetic", "--start-date", "2099-01-02", "--end-date", "2099-01-09"], "not closed yet"),
        (["--provider", "synthetic", "--as-of", "2099-01-02"], "session starting 2099-01-02 has not closed yet"),
        ([*SINGLE_DAY, "--concurrency", "100000"], "concurrency must be at most 64"),
        ([*SINGLE_DAY, "--day-retries", "1000"], "day_retries must be at most 10"),
        (
            [
                "--provider",
                "synthetic",
                "--start-date",
                "2025-12-09",
                "--end-date",
                "2025-12-10",
                "--max-parallel-days",
                "500",
            ],
            "max_parallel_days must be at most 16",
        ),
        ([*SINGLE_DAY, "--snapshot-time", "9999-12-31T23:59:59-12:00"], "is out of range"),
        ([*SINGLE_DAY, "--snapshot-time", "2031-01-01T00:00:00Z"], "more than 7 days from the end of session"),
    ],
)
def test_a_run_past_a_limit_is_one_line_exit_2_and_writes_nothing(db, argv, message, capsys):
    seed_watchlist(db, ["SPY"])
    code, err = run(argv, capsys)
    assert code == 2
    assert message in err[-1] and sum(not line.startswith(("usage:", " ")) for line in err) == 1
    assert count(db, "chain_snapshots") == 0 and count(db, "options_chains") == 0


def test_a_range_of_more_sessions_than_a_run_takes_is_refused(db, capsys):
    seed_watchlist(db, ["SPY"])
    # (the weekdays calendar: the same limit, without computing 50 years of exchange holidays)
    argv = [
        "--provider",
        "synthetic",
        "--calendar",
        "weekdays",
        "--start-date",
        "1973-04-26",
        "--end-date",
        "2025-12-22",
    ]
    code, err = run(argv, capsys)
    assert code == 2 and err == [err[-1]]
    assert "13738 sessions from 1973-04-26 to 2025-12-22: at most 10000 per run" in err[-1]


def test_a_database_that_refuses_the_setup_is_one_line_naming_it_without_its_password(
    db, database_url, monkeypatch, capsys
):
    seed_watchlist(db, ["SPY"])
    # Every statement of the setup fails (as with statement_timeout=1ms, deterministically).
    options = quote("-c default_transaction_read_only=on")
    separator = "&" if "?" in database_url else "?"
    monkeypatch.setenv("DATABASE_URL", f"{database_url}{separator}options={options}")
    code, err = run(SINGLE_DAY, capsys)
    assert code == 2 and err == [err[-1]]
    assert "refused the run's setup" in err[-1] and "read-only transaction" in err[-1]
    assert count(db, "chain_snapshots") == 0


def test_a_watchlist_name_longer_than_the_column_is_refused_before_the_database(db, capsys):
    with pytest.raises(SystemExit) as refused:
        store_main(["watchlist", "add", "--watchlist", "w" * 65, "SPY"])
    assert refused.value.code == 2
    assert "invalid watchlist name" in capsys.readouterr().err
    assert count(db, "watchlists") == 0
