"""A database built with the trading system's baseline schema (tests/compat/trader_schema.sql)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from tests.conftest import TestServer, _admin, drop_databases

TRADER_SCHEMA = Path(__file__).with_name("trader_schema.sql")


@pytest.fixture(autouse=True)
def _prefect(prefect_harness: None) -> None:
    """The flows run against the session's temporary Prefect API."""


@pytest.fixture
def trader_url(pg_server: TestServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database with the trading system's tables (none of ours), named by DATABASE_URL."""
    admin = _admin(pg_server)
    name = f"trader_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    url = pg_server.url_for(name)
    connection = psycopg2.connect(url)
    with connection, connection.cursor() as cursor:
        cursor.execute(TRADER_SCHEMA.read_text())
    connection.close()
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    drop_databases(admin, [name])
    admin.close()


@pytest.fixture
def trader_db(trader_url: str) -> Iterator[psycopg2.extensions.connection]:
    connection = psycopg2.connect(trader_url)
    connection.autocommit = True
    yield connection
    connection.close()
