"""The read-back API: stored chains and dealer metrics as pandas DataFrames.

Chains come through the same path as `python -m store export` (`store.readback` streams the
rows as the exact text PostgreSQL holds, `store.columnar` parses it with the one read-back schema),
so a frame and an exported file of the same rows hold the same values: `read_chains` over a range is
the concatenation of the exported `options_chains` files of its sessions.

pandas, pyarrow and the database driver are imported by the functions, not by `import kapman`, so
importing the package costs nothing until it is used.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from settings.errors import SetupError

if TYPE_CHECKING:
    import pandas as pd
    import psycopg2.extensions
    import pyarrow as pa

DateLike = date | str
Symbols = str | Sequence[str] | None


class StoreNotReady(SetupError, RuntimeError):
    """The database has no kapman tables yet: nothing has been ingested into it."""


def read_chain(symbol: str, session: DateLike, *, database_url: str | None = None) -> pd.DataFrame:
    """One symbol-day's stored chain, one row per contract, sorted by expiration, strike and type.

    `session` is a date or `YYYY-MM-DD`. Empty (with every column) when the day is not stored;
    `UnknownSymbol` when the store has never seen the symbol. Columns: `store.readback.
    CHAIN_READ_COLUMNS` (README, "options_chains"): `strike_price` holds exact `decimal.Decimal`s,
    `volume`/`open_interest` nullable `Int64`, dates `datetime.date`, `time` UTC `datetime64[us]`.
    """
    return read_chains(symbol, session, session, database_url=database_url)


def read_chains(symbols: Symbols, start: DateLike, end: DateLike, *, database_url: str | None = None) -> pd.DataFrame:
    """Every stored chain row of `symbols` (one, several, or None for every symbol) for the sessions
    from `start` to `end` inclusive, sorted by time, symbol, expiration, strike and type; the columns
    of `read_chain`. The whole range is held in memory: for years of data use the export."""
    from markets.snapshot import snapshot_time_for
    from store.columnar import read_table
    from store.readback import CHAIN_READ_COLUMNS, copy_chains

    times = [snapshot_time_for(day) for day in _days(start, end)]
    with _connection(database_url) as connection:
        ticker_ids = _ticker_ids(connection, symbols)
        table = read_table(CHAIN_READ_COLUMNS, lambda sink: copy_chains(connection, times, ticker_ids, sink))
    return to_frame(table)


def read_dealer_metrics(
    symbols: Symbols, start: DateLike, end: DateLike, *, database_url: str | None = None
) -> pd.DataFrame:
    """The dealer metrics stored for `symbols` (None: every symbol) from `start` to `end`, one row
    per ticker-day, sorted by session and symbol.

    Columns: `symbol`, `session` (`datetime.date`), `model_version`, then every key of the stored
    `daily_snapshots.dealer_metrics_json`, sorted; a nested object becomes one column per key,
    named with a dot (`history.gex_net_zscore`, `excluded.low_open_interest`); a list (the walls)
    stays one column holding the list. Keys a model version does not write are missing values.
    """
    import pandas as pd

    from markets.snapshot import daily_snapshot_time
    from store.readback import dealer_rows

    stamps = {day: daily_snapshot_time(day) for day in _days(start, end)}
    with _connection(database_url) as connection:
        rows = dealer_rows(connection, stamps, _ticker_ids(connection, symbols))
    leading = ["symbol", "session", "model_version"]
    records = [
        {"symbol": row.symbol, "session": row.session, "model_version": row.model_version, **flatten(row.metrics)}
        for row in rows
    ]
    keys = sorted({key for record in records for key in record} - set(leading))
    return pd.DataFrame.from_records(records, columns=leading + keys)


def flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted keys (`{"history": {"z": 1}}` → `{"history.z": 1}`); lists and
    scalars kept as they are. The three leading columns' own keys in the JSON are dropped."""
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            flat.update(flatten(item, f"{name}."))
        elif prefix or name not in ("symbol", "session", "model_version"):
            flat[name] = item
    return flat


def to_frame(table: pa.Table) -> pd.DataFrame:
    """A read-back Arrow table as pandas: integers and booleans as nullable `Int64` / `boolean`
    (a missing volume stays missing, not NaN), decimals as `Decimal`, dates as `datetime.date`."""
    import pandas as pd
    import pyarrow as pa

    nullable = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    return table.to_pandas(types_mapper=nullable.get, date_as_object=True)


def _days(start: DateLike, end: DateLike) -> list[date]:
    from markets.snapshot import days_between

    return days_between(_date(start, "start"), _date(end, "end"))


def _date(value: DateLike, name: str) -> date:
    from markets.snapshot import parse_session_date

    if isinstance(value, datetime):  # pandas Timestamps too
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return parse_session_date(value)
    raise TypeError(f"{name} must be a date or a YYYY-MM-DD string, not {type(value).__name__}")


def _ticker_ids(connection: psycopg2.extensions.connection, symbols: Symbols) -> list[str] | None:
    from markets.symbols import normalize_symbols
    from store.readback import ticker_ids_of

    if symbols is None:
        return None
    return ticker_ids_of(connection, normalize_symbols([symbols] if isinstance(symbols, str) else symbols))


@contextmanager
def _connection(database_url: str | None) -> Iterator[psycopg2.extensions.connection]:
    """A read-only connection to the database every command would use (see the module docstring)."""
    import psycopg2.errors

    from settings.environment import read_environment
    from store.connection import connect, resolve_target

    environment = read_environment()
    target = resolve_target(database_url or environment.database_url, environment.pgdata)
    connection = connect(target)
    try:
        connection.set_session(readonly=True)
        yield connection
    except psycopg2.errors.UndefinedTable as exc:
        raise StoreNotReady(
            f"{target.display} has no kapman tables ({str(exc).splitlines()[0]}): ingest into it first"
        ) from None
    finally:
        connection.close()
