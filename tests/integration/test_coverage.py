"""`python -m store coverage`: which symbol-days the store holds, from which provider, and which are missing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from store.__main__ import main as store_main
from tests.days import day_request, run_day
from tests.dbutil import seed_watchlist
from tests.doubles import TinyChainProvider


class Polygonish(TinyChainProvider):
    name = "polygon"
    simulated = False

    def fetch_chain(self, symbol, session, *, large=False):  # noqa: ANN001, ANN201
        return replace(super().fetch_chain(symbol, session, large=large), provider=self.name, simulated=False)


def test_the_grid_names_each_symbol_days_source_and_the_command_fills_exactly_the_gaps(db, database_url, capsys):
    seed_watchlist(db, ["AAPL", "SPY"])
    run_day(date(2025, 12, 9), day_request("tiny"), TinyChainProvider(), database_url)  # simulated, both
    run_day(date(2025, 12, 10), day_request("polygon", symbols=("SPY",)), Polygonish(), database_url)

    assert store_main(["coverage", "--start-date", "2025-12-09", "--end-date", "2025-12-12"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[:5] == [
        "           AAPL  SPY",
        "2025-12-09    s    s",
        "2025-12-10    ·    P",
        "2025-12-11    ·    ·",
        "2025-12-12    ·    ·",
    ]
    assert lines[5] == "symbol_days=8 complete=3 simulated=2 missing=5 by_polygon=1"
    assert lines[-1] == (
        "fill the gaps: python -m scripts.ingest_options --provider polygon --start-date 2025-12-10 "
        "--end-date 2025-12-12 --symbols AAPL,SPY"
    )


def test_a_complete_window_says_nothing_is_missing(db, database_url, capsys):
    seed_watchlist(db, ["SPY"])
    run_day(date(2025, 12, 9), day_request("polygon"), Polygonish(), database_url)
    assert store_main(["coverage", "--start-date", "2025-12-09", "--end-date", "2025-12-09", "--symbols", "SPY"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "nothing missing"
