"""`python -m store export`: stored sessions written out as files, one partition per session.

    DIR/session=2025-12-09/options_chains.parquet    (or .csv)
    DIR/session=2025-12-09/chain_snapshots.parquet

Each session's tables stream from the server (`store.readback`: COPY, never a fetch of the whole
range) straight into their file, a chunk at a time, so memory stays flat whether the range is a
week or a year. Each file is written under a hidden temporary name in DIR and renamed into its
partition once complete and synced: a reader (or an interrupted export) sees a whole file or none.
A session without chain rows gets no partition.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from pathlib import Path

import psycopg2.extensions

from settings.errors import SetupError
from store.columnar import ParquetFile
from store.readback import (
    CHAIN_READ_COLUMNS,
    LEDGER_READ_COLUMNS,
    Column,
    chains_query,
    copy_out,
    ledger_query,
    read_snapshot,
    sessions_with_chains,
)

FORMATS = ("parquet", "csv")
# File name (the table it comes from) → its columns and the query of its rows. A session's files
# are read in one snapshot of the database (`read_snapshot`), so they agree with each other.
TABLES: tuple[tuple[str, tuple[Column, ...], Callable[..., str]], ...] = (
    ("options_chains", CHAIN_READ_COLUMNS, chains_query),
    ("chain_snapshots", LEDGER_READ_COLUMNS, ledger_query),
)
# Streams rows into a sink: `copy(sink, header=…)` → rows.
Copier = Callable[..., int]


class UnwritableDirectory(SetupError, OSError):
    """The export's output directory cannot be created or written to."""


@dataclass(frozen=True)
class SessionExport:
    """What one session's partition received: rows per file (a table without rows gets no file)."""

    session: date
    directory: Path
    rows: Mapping[str, int]


def partition_name(session: date) -> str:
    return f"session={session.isoformat()}"


def prepare_directory(out: Path) -> None:
    """Create `out` if needed and prove it takes a file, before anything is read or written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".kapman-export-probe-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UnwritableDirectory(f"cannot write the export to {out}: {reason}") from None


def export_sessions(
    connection: psycopg2.extensions.connection,
    stamps: Mapping[date, datetime],
    ticker_ids: Sequence[str] | None,
    file_format: str,
    out: Path,
) -> Iterator[SessionExport]:
    """Export each session of `stamps` (session → snapshot identity) holding chain rows (of
    `ticker_ids`, or every ticker), ascending, yielding each partition once its files are in place."""
    if file_format not in FORMATS:
        raise ValueError(f"unknown export format {file_format!r}")
    for session in sessions_with_chains(connection, stamps, ticker_ids):
        directory = out / partition_name(session)
        queries = {table: query(connection, [stamps[session]], ticker_ids) for table, _, query in TABLES}
        rows = {}
        with read_snapshot(connection) as cursor:
            for table, columns, _ in TABLES:
                copy = partial(copy_out, cursor, queries[table])
                rows[table] = write_file(directory / f"{table}.{file_format}", columns, copy)
        yield SessionExport(session=session, directory=directory, rows=rows)


def write_file(path: Path, columns: Sequence[Column], copy: Copier) -> int:
    """Write what `copy(sink, header=…)` streams to `path` (its format by suffix) under a temporary
    name beside its partition, then rename it into place; nothing is left behind when it fails or
    has no row."""
    temporary = path.parent.parent / f".{path.parent.name}.{path.name}.{os.getpid()}.tmp"
    try:
        if path.suffix == ".csv":
            with temporary.open("wb") as handle:
                rows = copy(handle, header=True)
        else:
            parquet = ParquetFile(temporary, columns)
            complete = False
            try:
                rows = copy(parquet.sink, header=False)
                complete = True
            finally:
                parquet.close(complete=complete)
        if rows == 0:
            temporary.unlink(missing_ok=True)
            return 0
        _sync(temporary)
        path.parent.mkdir(exist_ok=True)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return rows


def _sync(path: Path) -> None:
    """Flush the file's data to disk before the rename publishes it."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
