"""Fixtures of the failure drills: the session's Prefect API for every drill, and the reference
outcome of an uninterrupted run that an interrupted-and-resumed one must equal row for row."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg2
import pytest

from tests.conftest import TEMPLATE_DB, TestServer, drop_databases
from tests.dbutil import chain_digest, ledger, seed_watchlist
from tests.drills.support import Outcome, run_cli_in_process


@pytest.fixture(autouse=True)
def _prefect(prefect_harness: None) -> None:
    """Every drill runs its flows (in this process or in a subprocess) against the session's Prefect API."""


@pytest.fixture(scope="session")
def uninterrupted(pg_server: TestServer, prefect_harness: None) -> Iterator[Callable[..., Outcome]]:
    """`uninterrupted(symbols, argv)`: chains and ledger after one clean run of the same command,
    in its own database; computed once per (symbols, argv) for the whole session."""
    admin = psycopg2.connect(pg_server.url)
    admin.autocommit = True
    outcomes: dict[tuple, Outcome] = {}
    created: list[str] = []

    def outcome(symbols: tuple[str, ...], argv: tuple[str, ...]) -> Outcome:
        if (symbols, argv) not in outcomes:
            name = f"ref_{uuid.uuid4().hex[:12]}"
            with admin.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
            created.append(name)
            url = pg_server.url_for(name)
            connection = psycopg2.connect(url)
            try:
                seed_watchlist(connection, list(symbols))
                assert run_cli_in_process(argv, database_url=url) == 0
                outcomes[(symbols, argv)] = Outcome(chain_digest(connection), ledger(connection))
            finally:
                connection.close()
        return outcomes[(symbols, argv)]

    yield outcome
    drop_databases(admin, created)
    admin.close()
