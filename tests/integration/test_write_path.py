"""The fast chain write path stores exactly what it is given, or nothing at all.

Both ways of building the COPY text are pinned: the orjson path (chunks of plain values) and the
general `str()` path (the fallback for anything else, and the whole path when orjson is missing).
"""

from __future__ import annotations

import math
import random
import struct
from datetime import date
from decimal import Decimal

import psycopg2
import pytest

import store.chains
from markets.snapshot import snapshot_time_for
from store.chains import COPY_CHUNK_ROWS, SymbolDayRows, write_symbol_day
from store.tickers import ensure_tickers
from tests.dbutil import count

SESSION = date(2025, 12, 9)
EXPIRY = date(2025, 12, 19)
FLOAT_COLUMNS = ("bid", "ask", "last", "implied_volatility", "delta", "gamma", "theta", "vega")
AWKWARD_FLOATS = (
    0.1 + 0.2,  # 0.30000000000000004
    0.1,
    1e-05,  # repr "1e-05", orjson "0.00001"
    1.5e-07,
    5e-324,  # smallest subnormal
    2.2250738585072014e-308,
    1.7976931348623157e308,
    1e16,
    1.2345678901234568e17,
    123456789.12345679,
    -0.0,
    -2.5,
    100.0,
    0.9969214910668381,
    -0.020257445511498672,
)


@pytest.fixture(params=["orjson", "general"])
def copy_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once per way of building COPY text."""
    if request.param == "general":
        monkeypatch.setattr(store.chains, "_orjson", None)
    elif store.chains._orjson is None:
        pytest.skip("orjson is not installed")
    return request.param


def row(strike: str, option_type: str = "C", **values: object) -> tuple:
    """A ChainRow with every value set (override by column name)."""
    base = {
        "bid": 1.0,
        "ask": 1.25,
        "last": 1.1,
        "volume": 12,
        "open_interest": 500,
        "implied_volatility": 0.21,
        "delta": 0.55,
        "gamma": 0.031,
        "theta": -0.04,
        "vega": 0.12,
    }
    base.update(values)
    return (
        values.get("expiration_date", EXPIRY),
        Decimal(strike),
        option_type,
        base["bid"],
        base["ask"],
        base["last"],
        base["volume"],
        base["open_interest"],
        base["implied_volatility"],
        base["delta"],
        base["gamma"],
        base["theta"],
        base["vega"],
    )


def write(db, symbol: str, rows, close: float | None = 101.25):  # noqa: ANN001, ANN201
    ticker_id = ensure_tickers(db, [symbol])[symbol]
    return write_symbol_day(db, SymbolDayRows(ticker_id, SESSION, snapshot_time_for(SESSION), "test", close, rows))


def stored(db, columns: str, symbol: str = "SPY") -> list[tuple]:  # noqa: ANN001
    with db, db.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM options_chains c JOIN tickers t ON t.id = c.ticker_id "
            "WHERE t.symbol = %s ORDER BY c.expiration_date, c.strike_price, c.option_type",
            (symbol,),
        )
        return cursor.fetchall()


def random_doubles(count: int, seed: int = 7) -> list[float]:
    """Finite doubles from every magnitude (random bit patterns) plus greeks-like values."""
    rng = random.Random(seed)
    values = []
    while len(values) < count:
        value = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(value):
            values.append(value)
        values.append(rng.uniform(-1, 1))
    return values[:count]


def test_strikes_keep_their_four_decimals(db, copy_path):
    strikes = ["0.0001", "0.5000", "1.2345", "99.9900", "123.4500", "4999.9999", "99999999.9999"]
    write(db, "SPY", [row(strike) for strike in strikes])
    assert [value for (value,) in stored(db, "c.strike_price::text")] == strikes
    assert [value for (value,) in stored(db, "c.strike_price")] == [Decimal(strike) for strike in strikes]


def test_floats_are_stored_as_their_exact_shortest_decimal(db, copy_path):
    values = list(AWKWARD_FLOATS) + random_doubles(600)
    rows = [row(f"{1 + index}.0000", bid=value, delta=-value) for index, value in enumerate(values)]
    write(db, "SPY", rows)
    texts = stored(db, "c.bid::text, c.delta::text")
    assert len(texts) == len(values)
    for value, (bid, delta) in zip(values, texts, strict=True):
        # The numeric is exactly the shortest decimal that round-trips (Python's repr), whatever
        # exponent spelling went over the wire; read back as a float it is the same float.
        assert Decimal(bid) == Decimal(repr(value)), (value, bid)
        assert float(bid) == value and float(delta) == -value
    assert float(stored(db, "c.bid")[0][0]) == 0.1 + 0.2


def test_none_is_null_in_every_nullable_column(db, copy_path):
    nullable = (*FLOAT_COLUMNS, "volume", "open_interest")
    rows = [row(f"{100 + index}.0000", **{column: None}) for index, column in enumerate(nullable)]
    rows.append(row("200.0000", **{column: None for column in nullable}))
    write(db, "SPY", rows)
    got = stored(db, ", ".join(f"c.{column}" for column in nullable))
    for index, column in enumerate(nullable):
        assert got[index][index] is None, column
        assert all(value is not None for position, value in enumerate(got[index]) if position != index)
    assert got[-1] == (None,) * len(nullable)


def test_counts_up_to_the_integer_limit(db, copy_path):
    write(db, "SPY", [row("1.0000", volume=2_147_483_647, open_interest=0), row("2.0000", volume=0, open_interest=1)])
    assert stored(db, "c.volume, c.open_interest") == [(2_147_483_647, 0), (0, 1)]


def test_both_copy_paths_store_identical_rows(db, monkeypatch):
    rows = [
        row(f"{10 + index * 2.5:.4f}", kind, bid=value, ask=value * 2, gamma=None if index % 7 == 0 else value / 3)
        for index, value in enumerate(random_doubles(300, seed=11))
        for kind in ("C", "P")
    ]
    write(db, "SPY", rows)
    monkeypatch.setattr(store.chains, "_orjson", None)
    write(db, "QQQ", rows)
    columns = "c.expiration_date, c.strike_price, c.option_type, " + ", ".join(
        f"c.{column}::text" for column in (*FLOAT_COLUMNS, "volume", "open_interest")
    )
    assert stored(db, columns, "SPY") == stored(db, columns, "QQQ")
    assert len(stored(db, "1", "SPY")) == 600


def test_values_the_fast_path_does_not_handle_go_the_general_way(db, copy_path):
    # A Decimal where a float is expected: not JSON-serialisable, so the chunk takes the str() path.
    write(db, "SPY", [row("1.0000", bid=Decimal("1.05"), ask=2.5), row("2.0000")])
    assert stored(db, "c.bid::text, c.ask::text") == [("1.05", "2.5"), ("1.0", "1.25")]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_value_mid_copy_leaves_nothing(db, copy_path, bad):
    # Far enough in that earlier chunks were already streamed to the server.
    rows = [row(f"{1 + index}.0000") for index in range(3 * COPY_CHUNK_ROWS)]
    rows[2 * COPY_CHUNK_ROWS + 5] = row("9999.0000", gamma=bad)
    with pytest.raises(ValueError, match="non-finite value .* in column gamma"):
        write(db, "SPY", rows)
    assert (count(db, "options_chains"), count(db, "chain_snapshots"), count(db, "ohlcv")) == (0, 0, 0)
    # The connection is usable afterwards and the symbol-day can still be written whole.
    assert write(db, "SPY", rows[:10]).rows_written == 10
    assert count(db, "chain_snapshots") == 1


def test_a_non_finite_strike_is_refused(db, copy_path):
    rows = [row("1.0000"), (EXPIRY, Decimal("NaN"), "P", *row("1.0000")[3:])]
    with pytest.raises(ValueError, match="strike_price"):
        write(db, "SPY", rows)
    assert count(db, "options_chains") == 0


def test_a_row_the_server_rejects_mid_copy_leaves_nothing(db, copy_path):
    rows = [row(f"{1 + index}.0000") for index in range(3 * COPY_CHUNK_ROWS)]
    rows[2 * COPY_CHUNK_ROWS + 5] = row("9999.0000", "Z")  # violates the option_type check
    with pytest.raises(psycopg2.errors.CheckViolation):
        write(db, "SPY", rows)
    assert (count(db, "options_chains"), count(db, "chain_snapshots"), count(db, "ohlcv")) == (0, 0, 0)


def test_a_malformed_row_mid_copy_leaves_nothing(db, copy_path):
    rows = [row(f"{1 + index}.0000") for index in range(3 * COPY_CHUNK_ROWS)]
    rows[2 * COPY_CHUNK_ROWS + 5] = row("9999.0000")[:-1]  # one value short
    with pytest.raises((ValueError, TypeError)):
        write(db, "SPY", rows)
    assert (count(db, "options_chains"), count(db, "chain_snapshots"), count(db, "ohlcv")) == (0, 0, 0)


def test_an_empty_symbol_day_still_writes_its_ledger_row(db, copy_path):
    outcome = write(db, "SPY", [], close=None)
    assert (outcome.rows_written, outcome.already_complete) == (0, False)
    assert (count(db, "options_chains"), count(db, "chain_snapshots"), count(db, "ohlcv")) == (0, 1, 0)
