"""The plain validators of the flow parameters a command line also takes as flags (dates, a
snapshot time, symbols), so a flag and a deployment parameter accept and refuse the same values with
the same message.

Kept apart from `flows.params` (pydantic types) and free of heavy imports: a command line builds its
parser from them, and `--help` must not pay for pydantic or Prefect.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from markets.snapshot import parse_session_date, parse_snapshot_time
from markets.symbols import InvalidSymbol, normalize_symbol, normalize_symbols, parse_symbol_list


def session_date(value: Any) -> date:
    """A date, or a `YYYY-MM-DD` string; never a number or a date with a time of day."""
    if isinstance(value, datetime):
        raise ValueError(f"{value.isoformat()} has a time of day: give the session date as YYYY-MM-DD")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return parse_session_date(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"{value!r} is a number, not a date: write it as YYYY-MM-DD, e.g. 2025-12-09")
    raise ValueError(f"{value!r} is not a date: write it as YYYY-MM-DD, e.g. 2025-12-09")


def snapshot_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp; without an offset it is UTC (as the trading system's scripts mean it)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return parse_snapshot_time(value.isoformat())
    if isinstance(value, str):
        return parse_snapshot_time(value)
    raise ValueError(f"{value!r} is not a timestamp: write it as ISO 8601 with an offset, e.g. 2025-12-09T21:00:00Z")


def symbol_list(value: Any) -> list[str] | None:
    """Symbols as a list or a comma-separated string; numbers are symbols made of digits.

    An empty list stays empty: for `symbols` that means the whole watchlist, for `large_symbols` none."""
    if value is None:
        return None
    try:
        if isinstance(value, str):
            symbols = parse_symbol_list(value)
        elif isinstance(value, list | tuple):
            symbols = normalize_symbols(_symbol_text(item) for item in value)
        else:
            symbols = (normalize_symbol(_symbol_text(value)),)
    except InvalidSymbol as exc:
        raise ValueError(str(exc)) from None
    return list(symbols)


def _symbol_text(item: Any) -> str:
    # JSON turns `1234` into a number; a ticker of digits is still a ticker. Floats and booleans are
    # not (1e3 or true was never meant as a symbol).
    if isinstance(item, bool) or not isinstance(item, str | int):
        raise InvalidSymbol(f'invalid symbol {item!r}: symbols are text such as "AAPL" or "1234"')
    return str(item)
