"""Which columns a table has here: the writes adapt to the database they find.

The pipeline runs on its own schema and on the trading system's (a different baseline: no
`daily_snapshots.updated_at`, `tickers.created_at` nullable without a default, ...). Writes name
only the columns that exist, and fill the ones that exist without a default.
"""

from __future__ import annotations

import threading
import weakref

import psycopg2.extensions

from store.connection import transaction

# Per connection (the schema does not change under a run: migrations run before its first day).
_known: weakref.WeakKeyDictionary[psycopg2.extensions.connection, dict[str, frozenset[str]]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def table_columns(connection: psycopg2.extensions.connection, table: str) -> frozenset[str]:
    """The column names of `table` in the connection's search path (empty if there is no such table)."""
    with _lock:
        cached = _known.get(connection, {}).get(table)
    if cached is not None:
        return cached
    with transaction(connection) as cursor:
        cursor.execute(
            "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 "
            "AND NOT a.attisdropped",
            (table,),
        )
        columns = frozenset(row[0] for row in cursor.fetchall())
    with _lock:
        _known.setdefault(connection, {})[table] = columns
    return columns
