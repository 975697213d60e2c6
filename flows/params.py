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
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from flows.param_values import session_date, snapshot_time, symbol_list
from markets.calendar import UnknownCalendar, get_calendar
from settings.errors import SetupError
from tasks.request import check_provider


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
