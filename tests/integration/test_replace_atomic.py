"""`--replace` rewrites another real source's symbol-day atomically: a reader that looks while the
replacement is half done (old rows deleted, new rows in, new ledger row not yet) sees the old day,
whole; after the commit it sees the new day, whole; never a mix, an empty day or a missing ledger row."""

from __future__ import annotations

import threading
from datetime import date

import psycopg2
import pytest

from tests.days import day_request, run_day
from tests.dbutil import seed_watchlist
from tests.doubles import RealTinyProvider

SESSION = date(2025, 12, 10)
GATE = 424242  # the advisory lock key the test holds to stop the writer mid-transaction


def what_a_reader_sees(reader) -> tuple[str | None, int | None, int, float]:  # noqa: ANN001
    """One statement, so one snapshot: the ledger's provider and contracts, the rows, their bids."""
    with reader.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT provider FROM chain_snapshots), (SELECT contracts FROM chain_snapshots), "
            "count(*), coalesce(sum(bid), 0)::float8 FROM options_chains"
        )
        return cursor.fetchone()


@pytest.fixture
def gate(database_url: str):  # noqa: ANN201
    """A trigger that makes the writer wait on the test's advisory lock right after its new rows are in."""
    admin = psycopg2.connect(database_url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE FUNCTION test_gate() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_advisory_xact_lock_shared({GATE}); RETURN NULL; END $$;
            CREATE TRIGGER test_gate AFTER INSERT ON options_chains
            FOR EACH STATEMENT EXECUTE FUNCTION test_gate();
            """
        )
    yield admin
    admin.close()


def test_a_reader_sees_the_old_day_or_the_new_one_never_a_mix(db, database_url, gate):
    seed_watchlist(db, ["AAPL"])
    # The first write passes the gate (nobody holds it yet).
    assert run_day(SESSION, day_request("alpha"), RealTinyProvider("alpha"), database_url).status == "succeeded"
    reader = psycopg2.connect(database_url)
    reader.autocommit = True
    old = what_a_reader_sees(reader)
    assert old[0] == "alpha" and old[1] == old[2] > 0

    with gate.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", (GATE,))
    reports = []
    writer = threading.Thread(
        target=lambda: reports.append(
            run_day(SESSION, day_request("beta", replace=True), RealTinyProvider("beta", bid_offset=1.0), database_url)
        )
    )
    writer.start()
    try:
        # Wait for the writer to stand at the gate: inside its transaction, after its COPY.
        with gate.cursor() as cursor:
            for _ in range(600):
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND NOT granted",
                    (GATE,),
                )
                if cursor.fetchone()[0]:
                    break
                cursor.execute("SELECT pg_sleep(0.05)")  # poll the server, not a fixed wait
            else:
                pytest.fail("the replacing writer never reached the point after its new rows")
        during = [what_a_reader_sees(reader) for _ in range(3)]
    finally:
        with gate.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", (GATE,))
        writer.join(timeout=60)
    assert during == [old] * 3  # the old day, whole, while the new one is written

    [report] = reports
    assert report.status == "succeeded"
    new = what_a_reader_sees(reader)
    reader.close()
    assert new[0] == "beta" and new[1] == new[2] == old[2]
    assert new[3] == pytest.approx(old[3] + old[2] * 1.0)  # every row is the new source's
