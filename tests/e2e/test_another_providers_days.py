"""Another real provider's symbol-days are kept and reported, unless the run is asked to replace
them (`--replace`), which rewrites each atomically; the dry run lists what is fetched and kept, and why."""

from __future__ import annotations

import logging

from scripts.ingest_options import main
from tests.dbutil import count, seed_watchlist
from tests.doubles import RealTinyProvider, RecordingProvider, registered

RANGE = ["--start-date", "2025-12-09", "--end-date", "2025-12-10"]
SYMBOLS = ["AAPL", "SPY"]


def ledger(db) -> dict[tuple[str, str], tuple[str, float]]:  # noqa: ANN001
    with db, db.cursor() as cursor:
        cursor.execute(
            "SELECT t.symbol, (cs.time AT TIME ZONE 'UTC')::date::text, cs.provider, cs.underlying_close::float8 "
            "FROM chain_snapshots cs JOIN tickers t ON t.id = cs.ticker_id"
        )
        return {(row[0], row[1]): (row[2], row[3]) for row in cursor.fetchall()}


def test_another_providers_days_are_kept_and_said_unless_replaced(db, caplog, capsys):
    caplog.set_level(logging.INFO, logger="kapman")
    seed_watchlist(db, SYMBOLS)
    first, second = (
        RecordingProvider(RealTinyProvider("alpha", close_offset=1.0), name="alpha"),
        RecordingProvider(RealTinyProvider("beta", close_offset=2.0), name="beta"),
    )
    with registered(first), registered(second):
        assert main([*RANGE, "--provider", "alpha"]) == 0
        before = ledger(db)
        assert {provider for provider, _ in before.values()} == {"alpha"}

        assert main([*RANGE, "--provider", "beta", "--dry-run"]) == 0
        listing = [record.getMessage() for record in caplog.records if " fetch=" in record.getMessage()]
        assert listing[-2:] == [
            f"PLAN session={day} fetch=- kept=AAPL(written by alpha),SPY(written by alpha)"
            for day in ("2025-12-09", "2025-12-10")
        ]

        assert main([*RANGE, "--provider", "beta"]) == 0
        assert second.calls == [] and ledger(db) == before  # kept, not overwritten
        assert "skipped=2" in capsys.readouterr().out
        said = [record.getMessage() for record in caplog.records if record.getMessage().startswith("SKIP ")]
        assert said[-1].endswith("kept from another provider: AAPL(alpha),SPY(alpha)")

        assert main([*RANGE, "--provider", "beta", "--replace"]) == 0
        after = ledger(db)
    assert len(second.calls) == 2 * len(SYMBOLS)
    assert {provider for provider, _ in after.values()} == {"beta"}
    assert all(after[key][1] == before[key][1] + 1.0 for key in before)  # the closes were replaced too
    assert count(db, "options_chains") == 2 * len(SYMBOLS) * 80  # no old row left beside the new ones
