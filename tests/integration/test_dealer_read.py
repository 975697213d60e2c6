"""Reading chains for dealer metrics: one row of aligned arrays per snapshot."""

from datetime import date

import numpy as np
import pytest

from markets.calendar import get_calendar
from markets.snapshot import snapshot_time_for
from store.dealer_rows import MISSING_EXPIRATION, load_chain_columns
from store.tickers import ensure_tickers

SESSIONS = get_calendar("XNYS").sessions(date(2025, 12, 1), date(2025, 12, 5))


def insert_rows(db, ticker_id: str, session: date, rows: list[tuple]) -> None:
    """(expiration, strike, type, gamma, open interest, IV) rows, written as another system might."""
    with db, db.cursor() as cursor:
        for row in rows:
            cursor.execute(
                "INSERT INTO options_chains (time, ticker_id, expiration_date, strike_price, option_type, gamma, "
                "open_interest, implied_volatility) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (snapshot_time_for(session), ticker_id, *row),
            )


def test_every_contract_keeps_its_own_values_across_the_arrays(db):
    [ticker_id] = ensure_tickers(db, ["ALN"]).values()
    session = SESSIONS[0]
    rows = [
        (
            date(2025, 12, 19),
            100 + index * 2.5,
            "C" if index % 2 else "P",
            0.001 * (index + 1),
            10 * index,
            0.2 + index / 100,
        )
        for index in range(40)
    ]
    rows.append((date(2026, 1, 16), 150.125, "C", None, None, None))  # no greeks, no OI: NaN, never 0
    insert_rows(db, ticker_id, session, rows)

    [(stamp, columns)] = load_chain_columns(db, ticker_id, [snapshot_time_for(session)]).items()

    assert stamp == snapshot_time_for(session) and len(columns) == len(rows)
    epoch = date(2000, 1, 1).toordinal()
    read = {
        (int(day), float(strike), int(code)): (gamma, oi, iv)
        for day, strike, code, gamma, oi, iv in zip(
            columns.expiration_day, columns.strike, columns.call_code, columns.gamma,
            columns.open_interest, columns.implied_volatility, strict=True,
        )
    }  # fmt: skip
    for expiration, strike, option_type, gamma, oi, iv in rows:
        key = (expiration.toordinal() - epoch, strike, 1 if option_type == "C" else 0)
        expected = tuple(np.nan if value is None else float(value) for value in (gamma, oi, iv))
        assert read[key] == pytest.approx(expected, nan_ok=True, rel=0, abs=0), key
    assert MISSING_EXPIRATION not in columns.expiration_day


def test_a_snapshot_time_without_rows_is_absent(db):
    [ticker_id] = ensure_tickers(db, ["ALN"]).values()
    insert_rows(db, ticker_id, SESSIONS[0], [(date(2025, 12, 19), 100, "C", 0.01, 5, 0.2)])

    chains = load_chain_columns(db, ticker_id, [snapshot_time_for(day) for day in SESSIONS[:2]])

    assert list(chains) == [snapshot_time_for(SESSIONS[0])]
