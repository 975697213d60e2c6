"""Shared fixtures: one embedded PostgreSQL per test session, a fresh database per test, and the
Prefect test harness. Every test talks to a real server; nothing about the database is mocked."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from store import embedded
from store.connection import DatabaseTarget
from store.migrations import migrate

TEMPLATE_DB = "kapman_template"


@dataclass(frozen=True)
class TestServer:
    pgdata: Path
    url: str

    def url_for(self, database: str) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"/{database}"))


def _admin(server: TestServer):  # noqa: ANN202
    connection = psycopg2.connect(server.url)
    connection.autocommit = True
    return connection


def drop_databases(admin: psycopg2.extensions.connection, names: list[str]) -> None:
    """Drop the test databases `names`, ending whatever connections to them a test left open."""
    with admin.cursor() as cursor:
        for name in names:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestServer]:
    pgdata = tmp_path_factory.mktemp("pg") / "pgdata"
    server = TestServer(pgdata=pgdata, url=embedded.start(pgdata))
    admin = _admin(server)
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    admin.close()
    template = psycopg2.connect(server.url_for(TEMPLATE_DB))
    migrate(template)
    template.close()
    yield server
    embedded.stop(pgdata)


@pytest.fixture
def make_database(pg_server: TestServer) -> Iterator[Callable[[], str]]:
    """Create fresh migrated databases (from the template); all dropped after the test."""
    admin = _admin(pg_server)
    created: list[str] = []

    def create() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
        created.append(name)
        return pg_server.url_for(name)

    yield create
    drop_databases(admin, created)
    admin.close()


@pytest.fixture
def database_url(make_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, migrated database for this test, exported as DATABASE_URL."""
    url = make_database()
    monkeypatch.setenv("DATABASE_URL", url)
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg2.extensions.connection]:
    """A connection to this test's database (for arranging data and reading outcomes)."""
    connection = psycopg2.connect(database_url)
    yield connection
    connection.close()


@pytest.fixture
def target(database_url: str) -> DatabaseTarget:
    return DatabaseTarget(url=database_url, embedded=False)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API for the whole test session (starting one costs seconds)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(autouse=True)
def _no_stray_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests decide their provider explicitly; a developer's shell must not change outcomes."""
    for name in (
        "OPTIONS_PROVIDER",
        "POLYGON_API_KEY",
        "POLYGON_BASE_URL",
        "KAPMAN_MAX_REQUESTS_PER_MINUTE",
        "UNICORN_API_TOKEN",
        "UNICORN_API_KEY",
        "EODHD_API_TOKEN",
        "UNICORN_BASE_URL",
    ):
        if name in os.environ:
            monkeypatch.delenv(name)


@contextmanager
def session_variable(name: str, value: str) -> Iterator[None]:
    """`name=value` in os.environ for a whole test session (monkeypatch is per test), then restored,
    so the workers and CLI subprocesses the tests start inherit it."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


@pytest.fixture(scope="session", autouse=True)
def chart_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Charts the runs of this session draw go to a temporary folder, never the checkout's `.kapman`."""
    folder = tmp_path_factory.mktemp("charts")
    with session_variable("KAPMAN_CHART_DIR", str(folder)):
        yield folder


@pytest.fixture(scope="session", autouse=True)
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The warm local Prefect server's home for this session: a temporary folder, never the
    checkout's `.kapman/prefect`. Tests run against the test harness or servers of their own; one
    that starts the warm server stops it, and whatever a failed test left running there is stopped
    when the session ends."""
    from scripts import prefect_server

    folder = tmp_path_factory.mktemp("prefect-home")
    with session_variable("KAPMAN_PREFECT_HOME", str(folder)):
        try:
            yield folder
        finally:
            prefect_server.stop(folder)
