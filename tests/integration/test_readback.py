"""Reading the store back: `kapman` frames and `python -m store export` files, round-tripped against
the database that an ingest filled, on a real PostgreSQL.

The acceptance: ingest (the synthetic provider, through the day task's plain function) → export as
parquet and as csv → every file read back equals, row for row, what `kapman.read_chain` returns and
what the database holds, strikes exact to the last digit.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import kapman
from kapman.reading import to_frame
from markets.snapshot import snapshot_time_for
from providers.synthetic import SyntheticProvider
from store.__main__ import main as store_main
from store.export import write_file
from store.readback import CHAIN_READ_COLUMNS, LEDGER_READ_COLUMNS, UnknownSymbol
from tasks.dealer_metrics import run_dealer_metrics
from tests.days import day_request, run_day
from tests.dbutil import seed_watchlist

ROOT = Path(__file__).resolve().parents[2]
# Three sessions with a weekend inside (no partition for it), and a symbol the export leaves out.
SESSIONS = [date(2025, 12, 11), date(2025, 12, 12), date(2025, 12, 15)]
SYMBOLS = ["QQQ", "SPY", "IWM"]
AFTER_THE_FACT = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
CHAIN_NAMES = [column.name for column in CHAIN_READ_COLUMNS]


def ingest(database_url: str, sessions: list[date], symbols: list[str]) -> None:
    provider = SyntheticProvider(now=lambda: AFTER_THE_FACT)
    for session in sessions:
        report = run_day(session, day_request("synthetic", symbols=tuple(symbols)), provider, database_url)
        assert report.status == "succeeded", report


@pytest.fixture
def stored(db, database_url):
    seed_watchlist(db, SYMBOLS)
    ingest(database_url, SESSIONS, SYMBOLS)
    return database_url


def database_rows(db, symbol: str, session: date) -> list[tuple]:
    """The symbol-day as psycopg2 reads it: numerics as Decimal, straight from the tables."""
    with db, db.cursor() as cursor:
        cursor.execute(
            "SELECT t.symbol, c.time, c.expiration_date, c.strike_price, c.option_type, c.bid, c.ask, c.last, "
            "c.volume, c.open_interest, c.implied_volatility, c.delta, c.gamma, c.theta, c.vega, cs.provider, "
            "cs.simulated FROM options_chains c JOIN tickers t ON t.id = c.ticker_id "
            "JOIN chain_snapshots cs ON cs.time = c.time AND cs.ticker_id = c.ticker_id "
            "WHERE t.symbol = %s AND c.time = %s ORDER BY c.expiration_date, c.strike_price, c.option_type",
            (symbol, snapshot_time_for(session)),
        )
        return cursor.fetchall()


def plain(value: object) -> object:
    """A frame cell as a plain Python value: missing → None, numpy/pandas scalars → Python."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value


def frame_rows(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(plain(value) for value in row) for row in frame.itertuples(index=False, name=None)]


def as_stored(row: tuple) -> tuple:
    """A database row in read-back form: numerics that came from floats as floats, strikes kept."""
    symbol, time, expiration, strike, option_type, *numbers, provider, simulated = row
    values = [
        None if value is None else (int(value) if index in (3, 4) else float(value))
        for index, value in enumerate(numbers)
    ]
    return (symbol, time, expiration, strike, option_type, *values, provider, simulated)


def export(out: Path, file_format: str, *extra: str) -> int:
    return store_main(
        [
            "export",
            "--start-date",
            "2025-12-10",
            "--end-date",
            "2025-12-15",
            "--format",
            file_format,
            "--out",
            str(out),
            *extra,
        ]
    )


def test_read_chain_equals_the_database_with_exact_strikes(db, stored):
    frame = kapman.read_chain("spy", "2025-12-12")
    assert list(frame.columns) == CHAIN_NAMES
    assert frame["strike_price"].map(type).eq(Decimal).all()
    assert str(frame["time"].dtype) == "datetime64[us, UTC]"
    assert str(frame["volume"].dtype) == "Int64" and str(frame["simulated"].dtype) == "boolean"
    expected = [as_stored(row) for row in database_rows(db, "SPY", date(2025, 12, 12))]
    assert len(expected) > 500
    assert frame_rows(frame) == expected
    # Exact to the stored digits, not merely equal as numbers.
    assert [str(strike) for strike in frame["strike_price"]] == [str(row[3]) for row in expected]
    assert (frame["provider"] == "synthetic").all() and frame["simulated"].all()


def test_export_parquet_and_csv_read_back_row_for_row(db, stored, tmp_path):
    assert export(tmp_path / "pq", "parquet", "--symbols", "SPY,QQQ") == 0
    assert export(tmp_path / "csv", "csv", "--symbols", "SPY,QQQ") == 0
    for out, suffix in ((tmp_path / "pq", "parquet"), (tmp_path / "csv", "csv")):
        # One partition per stored session (12-10 and the weekend hold nothing), two files each.
        assert sorted(path.relative_to(out).as_posix() for path in out.rglob("*")) == sorted(
            [f"session={day}" for day in SESSIONS]
            + [f"session={day}/{table}.{suffix}" for day in SESSIONS for table in ("options_chains", "chain_snapshots")]
        )

    for session in SESSIONS:
        partition = f"session={session}"
        parquet = pq.read_table(tmp_path / "pq" / partition / "options_chains.parquet")
        assert parquet.schema.field("strike_price").type == pa.decimal128(12, 4)
        from_parquet = to_frame(parquet)
        from_api = pd.concat([kapman.read_chain(symbol, session) for symbol in ("QQQ", "SPY")], ignore_index=True)
        pd.testing.assert_frame_equal(from_parquet, from_api)
        stored_rows = [as_stored(row) for symbol in ("QQQ", "SPY") for row in database_rows(db, symbol, session)]
        assert frame_rows(from_parquet) == stored_rows

        with (tmp_path / "csv" / partition / "options_chains.csv").open(newline="") as handle:
            records = list(csv.reader(handle))
        assert records[0] == CHAIN_NAMES
        assert [
            tuple(csv_value(name, text) for name, text in zip(CHAIN_NAMES, record, strict=True))
            for record in records[1:]
        ] == stored_rows
        # The strike's text in the file is the database's numeric(12,4) text, digit for digit.
        assert [record[3] for record in records[1:]] == [str(row[3]) for row in stored_rows]


def csv_value(name: str, text: str) -> object:
    if text == "":
        return None
    kind = {column.name: column.kind for column in CHAIN_READ_COLUMNS}[name]
    return {
        "timestamp": lambda: datetime.fromisoformat(text),
        "date": lambda: date.fromisoformat(text),
        "strike": lambda: Decimal(text),
        "float": lambda: float(text),
        "integer": lambda: int(text),
        "boolean": lambda: {"true": True, "false": False}[text],
        "text": lambda: text,
    }[str(kind)]()


def test_read_chains_is_the_concatenation_of_the_exported_files(stored, tmp_path):
    assert export(tmp_path, "parquet") == 0
    files = [tmp_path / f"session={day}" / "options_chains.parquet" for day in SESSIONS]
    exported = to_frame(pa.concat_tables([pq.read_table(path) for path in files]))
    everything = kapman.read_chains(None, "2025-12-10", date(2025, 12, 15))
    pd.testing.assert_frame_equal(everything, exported)
    assert set(everything["symbol"]) == set(SYMBOLS)


def test_the_ledger_file_holds_each_symbol_days_provenance(db, stored, tmp_path):
    assert export(tmp_path, "parquet", "--symbols", "SPY") == 0
    ledger = pq.read_table(tmp_path / "session=2025-12-15" / "chain_snapshots.parquet")
    assert ledger.schema.names == [column.name for column in LEDGER_READ_COLUMNS]
    [row] = ledger.to_pylist()
    with db, db.cursor() as cursor:
        cursor.execute(
            "SELECT cs.contracts, cs.underlying_close, cs.fetched_at, cs.risk_free_rate, cs.dividend_yield "
            "FROM chain_snapshots cs "
            "JOIN tickers t ON t.id = cs.ticker_id WHERE t.symbol = 'SPY' AND cs.time = %s",
            (snapshot_time_for(date(2025, 12, 15)),),
        )
        contracts, close, fetched_at, rate, dividend_yield = cursor.fetchone()
    assert row["symbol"] == "SPY" and row["provider"] == "synthetic" and row["simulated"] is True
    assert (row["contracts"], row["underlying_close"], row["fetched_at"]) == (contracts, float(close), fetched_at)
    assert row["time"] == snapshot_time_for(date(2025, 12, 15))
    # The pricing inputs the simulated market reported for that day (r = 4%, SPY's dividend yield).
    assert (row["risk_free_rate"], row["dividend_yield"]) == (float(rate), float(dividend_yield))
    assert row["risk_free_rate"] == pytest.approx(0.04) and 0 < row["dividend_yield"] < 0.05


def test_read_dealer_metrics_flattens_the_stored_json(db, stored):
    run_dealer_metrics(db, "SPY", SESSIONS, lookback_sessions=1)
    frame = kapman.read_dealer_metrics(["SPY"], "2025-12-11", "2025-12-15")
    assert list(frame["session"]) == SESSIONS and set(frame["symbol"]) == {"SPY"}
    assert list(frame.columns[:3]) == ["symbol", "session", "model_version"]
    with db, db.cursor() as cursor:
        cursor.execute(
            "SELECT d.dealer_metrics_json FROM daily_snapshots d JOIN tickers t ON t.id = d.ticker_id "
            "WHERE t.symbol = 'SPY' ORDER BY d.time"
        )
        stored_json = [row[0] for row in cursor.fetchall()]
    last = frame.iloc[-1]
    assert last["model_version"] == stored_json[-1]["model_version"]
    assert last["gex_net"] == stored_json[-1]["gex_net"]
    assert last["history.gex_net_change_1d"] == stored_json[-1]["history"]["gex_net_change_1d"]
    assert last["call_walls"] == stored_json[-1]["call_walls"]
    assert "history" not in frame.columns and "excluded" not in frame.columns
    # Another symbol's metrics, and a range without any, are not mixed in.
    assert kapman.read_dealer_metrics("QQQ", "2025-12-11", "2025-12-15").empty


def test_a_day_not_stored_is_an_empty_frame_and_an_unknown_symbol_an_error(stored):
    empty = kapman.read_chain("SPY", "2025-12-13")
    assert empty.empty and list(empty.columns) == CHAIN_NAMES
    with pytest.raises(UnknownSymbol, match="NOPE"):
        kapman.read_chain("NOPE", "2025-12-12")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--start-date", "2025-13-01", "--end-date", "2025-12-15"], "--start-date: '2025-13-01' is not a date"),
        (["--start-date", "2025-12-15", "--end-date", "2025-12-10"], "is before start date"),
        (["--start-date", "2025-12-10", "--end-date", "2025-12-15", "--symbols", "SPY,NOPE"], "no such symbol"),
        (["--start-date", "2025-12-10", "--end-date", "2025-12-15", "--format", "xlsx"], "not one of parquet, csv"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(stored, tmp_path, capsys, arguments, message):
    out = tmp_path / "out"
    assert store_main(["export", *arguments, "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and error.count("\n") == 1
    assert not out.exists()


def test_an_unwritable_directory_or_unreachable_database_is_one_line_exit_2(stored, tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    arguments = ["export", "--start-date", "2025-12-10", "--end-date", "2025-12-15"]
    assert store_main([*arguments, "--out", str(blocker / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: cannot write the export to {blocker / 'out'}") and error.count("\n") == 1

    monkeypatch.setenv("DATABASE_URL", "postgresql://kapman:secret@127.0.0.1:9/nowhere")
    out = tmp_path / "out"
    assert store_main([*arguments, "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: cannot connect to") and "secret" not in error and error.count("\n") == 1
    assert not out.exists()


def test_a_file_that_fails_half_way_leaves_nothing_behind(tmp_path):
    partition = tmp_path / "session=2025-12-12"

    def failing_copy(sink, header):
        sink.write(
            b"SPY,2025-12-12T23:59:59.999999Z,2026-01-16,600.0000,C,1.5,1.6,,10,100,0.2,0.5,0.01,-0.1,0.3,x,true\n"
        )
        raise RuntimeError("connection lost")

    for suffix in ("csv", "parquet"):
        with pytest.raises(RuntimeError, match="connection lost"):
            write_file(partition / f"options_chains.{suffix}", CHAIN_READ_COLUMNS, failing_copy)
    assert list(tmp_path.iterdir()) == []


def test_importing_kapman_loads_no_heavy_module():
    probe = (
        "import sys, kapman; print(sorted(m for m in ('pandas', 'pyarrow', 'psycopg2', 'numpy') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# A child process that runs one export and prints its own peak resident set (VmHWM, KiB).
PEAK_RSS_CHILD = """
import contextlib, io, sys
from store.__main__ import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["export", *sys.argv[1:]])
status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
print(code, status)
"""


def fill_sessions(database_url: str, sessions: list[date], rows_per_session: int) -> None:
    """`rows_per_session` validated synthetic rows per session, written by the store's write path."""
    from providers.synthetic import ChainShape
    from store.chains import SymbolDayRows, write_symbol_day
    from store.connection import DatabaseTarget, connect
    from store.tickers import ensure_tickers
    from tasks.chain_rows import validate_chain

    shape = ChainShape(contracts=5_000)
    provider = SyntheticProvider(now=lambda: AFTER_THE_FACT, shape=shape)
    chains, total = [], 0
    while total < rows_per_session:
        symbol = f"M{len(chains):03d}"
        snapshot = provider.fetch_chain(symbol, sessions[0])
        rows = validate_chain(snapshot).rows[: rows_per_session - total]
        chains.append((symbol, snapshot.underlying_close, rows))
        total += len(rows)
    connection = connect(DatabaseTarget(url=database_url, embedded=False))
    ids = ensure_tickers(connection, [symbol for symbol, _, _ in chains])
    for session in sessions:
        for symbol, close, rows in chains:
            write_symbol_day(
                connection, SymbolDayRows(ids[symbol], session, snapshot_time_for(session), "synthetic", close, rows)
            )
    connection.close()


def test_peak_memory_of_an_export_does_not_grow_with_the_number_of_sessions(database_url, tmp_path):
    from markets.calendar import get_calendar

    sessions = get_calendar("XNYS").sessions(date(2025, 12, 4), date(2025, 12, 19))
    assert len(sessions) == 12
    fill_sessions(database_url, sessions, 20_000)  # 240,000 rows: ~35 MB of CSV text, were it held
    for file_format in ("parquet", "csv"):
        peaks = []
        for first in (sessions[-2], sessions[0]):
            out = tmp_path / f"{file_format}-{first}"
            window = ["--start-date", str(first), "--end-date", str(sessions[-1])]
            result = subprocess.run(
                [sys.executable, "-c", PEAK_RSS_CHILD, *window, "--format", file_format, "--out", str(out)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            code, peak_kib = result.stdout.split()
            assert code == "0", result.stderr
            assert len(list(out.iterdir())) == (2 if first == sessions[-2] else 12)
            peaks.append(int(peak_kib))
        short, long = peaks
        assert long <= short * 1.15, (file_format, short, long)


def test_a_database_nothing_was_ingested_into_is_one_clear_error(pg_server):
    import psycopg2

    from kapman.reading import StoreNotReady
    from tests.conftest import drop_databases

    admin = psycopg2.connect(pg_server.url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("CREATE DATABASE readback_bare")
    try:
        with pytest.raises(StoreNotReady, match="has no kapman tables .*ingest into it first"):
            kapman.read_chain("SPY", "2025-12-12", database_url=pg_server.url_for("readback_bare"))
    finally:
        drop_databases(admin, ["readback_bare"])
        admin.close()


def test_a_sessions_files_agree_while_an_ingest_writes_that_session(db, database_url, tmp_path, monkeypatch):
    import store.export

    seed_watchlist(db, SYMBOLS)
    ingest(database_url, [date(2025, 12, 12)], ["SPY"])
    written = store.export.write_file

    def write_then_ingest(path, columns, copy):
        rows = written(path, columns, copy)
        if path.name.startswith("options_chains"):  # between the session's two files, QQQ's day lands
            ingest(database_url, [date(2025, 12, 12)], ["QQQ"])
        return rows

    monkeypatch.setattr(store.export, "write_file", write_then_ingest)
    assert export(tmp_path, "csv") == 0
    partition = tmp_path / "session=2025-12-12"
    for table in ("options_chains", "chain_snapshots"):
        with (partition / f"{table}.csv").open(newline="") as handle:
            assert {row["symbol"] for row in csv.DictReader(handle)} == {"SPY"}, table
    assert set(kapman.read_chain("QQQ", "2025-12-12")["symbol"]) == {"QQQ"}  # it did land
