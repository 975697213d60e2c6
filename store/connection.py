"""Which database we talk to, and connections to it with errors a user can act on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import psycopg2.extensions

from settings.errors import SetupError
from settings.redaction import redact_connection_strings


class DatabaseUnavailable(SetupError, RuntimeError):
    """The database cannot be reached or started; nothing can be written.

    Before a run starts this makes the run unusable (exit 2); during a run it fails the day or
    symbol-day in flight, which a retry or re-run completes."""


@dataclass(frozen=True)
class DatabaseTarget:
    """A database URL and whether it is the project's embedded server (demo data allowed there)."""

    url: str = field(repr=False)
    embedded: bool

    @property
    def display(self) -> str:
        return redact_url(self.url)


def redact_url(url: str) -> str:
    """Hide the password of a connection string in any form libpq accepts, for logs and errors."""
    return redact_connection_strings(url)


def resolve_target(database_url: str | None, pgdata: Path | None = None) -> DatabaseTarget:
    """`database_url` (the run's `DATABASE_URL`) when given, else the embedded server in `pgdata`
    (default `.kapman/pgdata`), started on demand."""
    if database_url:
        return DatabaseTarget(url=database_url, embedded=False)
    from store import embedded

    data_dir = pgdata or embedded.DEFAULT_DATA_DIR
    try:
        return DatabaseTarget(url=embedded.start(data_dir), embedded=True)
    except Exception as exc:  # pgserver raises several types; the user needs one message
        raise DatabaseUnavailable(f"could not start the embedded PostgreSQL in {data_dir}: {exc}") from exc


def connect(target: DatabaseTarget) -> psycopg2.extensions.connection:
    """Open a connection; unreachable servers give one line naming the (redacted) URL."""
    try:
        connection = psycopg2.connect(target.url, connect_timeout=10, application_name="kapman-options")
    except psycopg2.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = redact_connection_strings(reason)
        raise DatabaseUnavailable(f"cannot connect to {target.display}: {reason}") from exc
    return connection


@contextmanager
def refusing_setup(target: DatabaseTarget) -> Iterator[None]:
    """Database errors while a run is being set up (migrations, first reads) make the run unusable:
    one line naming the (redacted) database, e.g. a `statement_timeout` too short for a migration."""
    try:
        yield
    except psycopg2.Error as exc:
        detail = " / ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
        raise DatabaseUnavailable(
            f"database {target.display} refused the run's setup: {redact_connection_strings(detail)}"
        ) from None


@contextmanager
def transaction(connection: psycopg2.extensions.connection) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor in one transaction: committed when the block ends, rolled back when it raises.

    Unlike `with connection:`, a rollback that fails because the connection is already gone (the
    server terminated it, or restarted) does not replace the error that says why it is gone.
    """
    try:
        with connection.cursor() as cursor:
            yield cursor
    except BaseException:
        if not connection.closed:
            with suppress(psycopg2.Error):
                connection.rollback()
        raise
    connection.commit()


class ReconnectingConnection:
    """One connection for a run of independent units (symbol-days), opened again when it was lost.

    It connects on first use, so the caller that opens it (a task wrapper) never fails; the plain
    function using it reports an unreachable database like any other failure of its unit.
    A connection the server terminated, or lost in a restart, fails the unit that was using it; the
    next unit gets a fresh connection instead of failing on the dead one. (psycopg2 marks a
    connection closed once an operation on it has failed that way.)
    """

    def __init__(self, target: DatabaseTarget) -> None:
        self.target = target
        self._connection: psycopg2.extensions.connection | None = None

    def get(self) -> psycopg2.extensions.connection:
        """The open connection, (re)connecting first; raises `DatabaseUnavailable`."""
        if self._connection is None or self._connection.closed:
            self._connection = connect(self.target)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
