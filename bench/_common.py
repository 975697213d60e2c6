"""Shared by the bench scripts: a throw-away embedded PostgreSQL, quiet logs, realistic chain rows.

Every bench runs against its own temporary cluster (pgserver in a temp directory, stopped and
deleted at the end), never against the project's `.kapman` data directory or `DATABASE_URL`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import psycopg2  # noqa: E402
import psycopg2.extensions  # noqa: E402

from store import embedded  # noqa: E402
from store.chains import ChainRow  # noqa: E402
from store.migrations import migrate  # noqa: E402

# Environment that would point a bench at a real database or provider; cleared for every bench.
_FOREIGN_ENV = (
    "DATABASE_URL",
    "OPTIONS_PROVIDER",
    "POLYGON_API_KEY",
    "POLYGON_BASE_URL",
    "KAPMAN_MAX_REQUESTS_PER_MINUTE",
)


def isolate_environment() -> None:
    """Forget any database/provider the developer's shell points at; the bench sets its own."""
    for name in _FOREIGN_ENV:
        os.environ.pop(name, None)
    warnings.filterwarnings("ignore")


def quiet_logs() -> None:
    """Bench output is one line of figures: silence our loggers and Prefect's console output."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    logging.getLogger("kapman").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class BenchServer:
    pgdata: Path
    url: str

    def url_for(self, database: str) -> str:
        return urlunsplit(urlsplit(self.url)._replace(path=f"/{database}"))

    def admin(self) -> psycopg2.extensions.connection:
        connection = psycopg2.connect(self.url)
        connection.autocommit = True
        return connection

    def create_database(self, name: str) -> str:
        """A new database with the project's schema; returns its URL."""
        admin = self.admin()
        try:
            with admin.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {name}")
        finally:
            admin.close()
        url = self.url_for(name)
        connection = psycopg2.connect(url)
        try:
            migrate(connection)
        finally:
            connection.close()
        return url


@contextlib.contextmanager
def embedded_server(prefix: str = "kapman-bench-") -> Iterator[BenchServer]:
    """A fresh embedded PostgreSQL in a temporary directory, stopped and deleted afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    pgdata = workdir / "pgdata"
    try:
        yield BenchServer(pgdata=pgdata, url=embedded.start(pgdata))
    finally:
        embedded.stop(pgdata)
        shutil.rmtree(workdir, ignore_errors=True)


def quiesce(url: str, tables: tuple[str, ...] = (), timeout: float = 300.0) -> None:
    """Leave the server idle before a timed phase: vacuum what the last phase wrote (so autovacuum
    does not start mid-phase), checkpoint, and wait for any autovacuum worker to finish."""
    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"VACUUM (ANALYZE) {table}")
            cursor.execute("CHECKPOINT")
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")
                if cursor.fetchone()[0] == 0:
                    return
                time.sleep(0.5)
    finally:
        connection.close()


def synthetic_chains(
    rows: int, session: date, *, seed: int = 20240101
) -> list[tuple[str, float, tuple[ChainRow, ...]]]:
    """`rows` validated chain rows as (symbol, underlying close, rows) per symbol-day.

    They come from the synthetic provider's market model (an IV smile, Black-Scholes greeks as full
    doubles, prices on the exchange tick, open interest) through `validate_chain`, exactly as ingest
    produces them. The chain shape lists exactly 2,000 contracts per symbol (the nearest the money),
    so 1,000,000 rows is 500 symbols; the last chain is cut to make the total exact.
    """
    from providers._synthetic_market import ChainShape
    from providers.synthetic import SyntheticProvider
    from tasks.chain_rows import validate_chain

    shape = ChainShape(contracts=2000)
    provider = SyntheticProvider(seed, now=lambda: datetime(2100, 1, 1, tzinfo=UTC), shape=shape)
    chains: list[tuple[str, float, tuple[ChainRow, ...]]] = []
    total = 0
    while total < rows:
        symbol = f"B{len(chains):04d}"
        snapshot = provider.fetch_chain(symbol, session)
        validated = validate_chain(snapshot).rows[: rows - total]
        chains.append((symbol, snapshot.underlying_close, validated))
        total += len(validated)
    return chains


# Every bench repeats its phases at least this many times, interleaved (each round runs every phase),
# and reports the median and the spread: single rounds on a shared 2-core machine swing by 2x.
MIN_ROUNDS = 3


def median_and_spread(values: Sequence[float], digits: int) -> tuple[float, str]:
    """(median, "min..max") of one figure over the rounds, rounded to `digits`."""

    def shown(value: float) -> float:
        return round(value, digits) if digits else round(value)

    return shown(statistics.median(values)), f"{shown(min(values))}..{shown(max(values))}"


def figures(name: str, **values: object) -> str:
    """One line: `name key=value ...` (callers round their numbers)."""
    return " ".join([name, *(f"{key}={value}" for key, value in values.items())])


def run_child(script: str, database_url: str, argv: list[str], what: str) -> dict:
    """Run `script --child ARGV` in a fresh Python process on `database_url` (its own peak memory);
    returns the last JSON line it printed, or stops the bench naming `what` failed."""
    result = subprocess.run(
        [sys.executable, str(Path(script).resolve()), "--child", *argv],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise SystemExit(f"{what} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return json.loads(lines[-1])
