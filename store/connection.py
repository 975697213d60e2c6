"""Which database we talk to, and connections to it with errors a user can act on."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions

DATABASE_URL_ENV = "DATABASE_URL"


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or started; nothing can be written."""


@dataclass(frozen=True)
class DatabaseTarget:
    """A database URL and whether it is the project's embedded server (demo data allowed there)."""

    url: str
    embedded: bool

    @property
    def display(self) -> str:
        return redact_url(self.url)


def redact_url(url: str) -> str:
    """Hide the password of a connection URL, for logs and errors."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def resolve_target() -> DatabaseTarget:
    """`DATABASE_URL` when set, else the embedded server (started on demand)."""
    configured = os.environ.get(DATABASE_URL_ENV, "").strip()
    if configured:
        return DatabaseTarget(url=configured, embedded=False)
    from store import embedded

    try:
        return DatabaseTarget(url=embedded.start(), embedded=True)
    except Exception as exc:  # pgserver raises several types; the user needs one message
        raise DatabaseUnavailable(f"could not start the embedded PostgreSQL in {embedded.data_dir()}: {exc}") from exc


def connect(target: DatabaseTarget) -> psycopg2.extensions.connection:
    """Open a connection; unreachable servers give one line naming the (redacted) URL."""
    try:
        connection = psycopg2.connect(target.url, connect_timeout=10, application_name="kapman-options")
    except psycopg2.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(f"cannot connect to {target.display}: {reason}") from exc
    return connection


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

    A connection the server terminated, or lost in a restart, fails the unit that was using it; the
    next unit gets a fresh connection instead of failing on the dead one. (psycopg2 marks a
    connection closed once an operation on it has failed that way.)
    """

    def __init__(self, target: DatabaseTarget) -> None:
        self.target = target
        self._connection = connect(target)

    def get(self) -> psycopg2.extensions.connection:
        if self._connection.closed:
            self._connection = connect(self.target)
        return self._connection

    def close(self) -> None:
        self._connection.close()
