"""Flow parameters as they arrive from a deployment: JSON from `--param`, the UI's form, a schedule.

Prefect validates a flow run's parameters with pydantic against the flow's signature. These types
make that validation accept what people type and reject the rest with our own message:

- `--param start_date=2025-12-09` arrives as a string; `--param start_date=20251209` arrives as the
  JSON number 20251209 and is refused (write dates as YYYY-MM-DD) rather than read as a timestamp.
- `--param symbols=1234` arrives as the JSON number 1234, which a plain `list[str]` would refuse;
  a symbol of digits stays the string "1234". A comma-separated string is a list too, so
  `--param symbols=AAPL,MSFT` and `--param symbols='["AAPL","MSFT"]'` mean the same.
- provider and calendar names are checked against what is registered before any day starts.

The JSON schema each type publishes is what the server checks `prefect deployment run` against and
what the UI's run form is built from, so it allows exactly the shapes the validators accept.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from markets.calendar import UnknownCalendar, get_calendar
from markets.snapshot import parse_session_date, parse_snapshot_time
from markets.symbols import InvalidSymbol, normalize_symbol, normalize_symbols, parse_symbol_list
from settings.errors import SetupError
from tasks.request import check_provider


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


def provider_name(value: str | None) -> str | None:
    """A registered provider, or None (then OPTIONS_PROVIDER, or synthetic on the embedded database)."""
    if value is None or not value.strip():
        return None
    try:
        return check_provider(value.strip())
    except SetupError as exc:
        raise ValueError(str(exc)) from None


def calendar_name(value: str) -> str:
    try:
        get_calendar(value)
    except UnknownCalendar as exc:
        raise ValueError(str(exc)) from None
    return value


_SYMBOLS_SCHEMA = {
    "anyOf": [
        {"type": "array", "items": {"type": ["string", "integer"]}, "title": "list"},
        {"type": "string", "title": "comma-separated"},
        {"type": "integer", "title": "one symbol of digits"},
        {"type": "null"},
    ],
    "description": 'Symbols, e.g. ["AAPL", "MSFT"] or "AAPL,MSFT"; empty: the whole active watchlist.',
}

SessionDate = Annotated[
    date,
    BeforeValidator(session_date),
    WithJsonSchema({"type": "string", "format": "date", "description": "A session date, YYYY-MM-DD."}),
]
OptionalSessionDate = Annotated[
    date | None,
    BeforeValidator(lambda value: None if value is None else session_date(value)),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "format": "date"}, {"type": "null"}],
            "description": "A session date, YYYY-MM-DD; empty: the latest completed session.",
        }
    ),
]
SnapshotTime = Annotated[
    datetime | None,
    BeforeValidator(snapshot_time),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
            "description": "Override the snapshot identity (ISO 8601 with offset); single day only.",
        }
    ),
]
Symbols = Annotated[list[str] | None, BeforeValidator(symbol_list), WithJsonSchema(_SYMBOLS_SCHEMA)]
ProviderName = Annotated[str | None, AfterValidator(provider_name)]
CalendarName = Annotated[str, AfterValidator(calendar_name)]
RunId = Annotated[
    str | None,
    Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"}, {"type": "null"}],
            "description": "The caller's identifier of this run: in the run's name, log lines and summary.",
        }
    ),
]
AtLeastOne = Annotated[int, Field(ge=1)]
OptionalAtLeastOne = Annotated[int | None, Field(ge=1)]
AtLeastZero = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0)]
