"""What the drills share: running the CLI as a user does (another process) or in this process,
polling real state with a deadline, and the invariants every drill ends on."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import psycopg2
import psycopg2.extensions
import pytest
from prefect.settings import PREFECT_API_URL

from markets.snapshot import snapshot_time_for
from providers.http import HttpSettings
from providers.polygon import PolygonProvider
from providers.registry import register_provider, unregister_provider
from store.chains import _lock_symbol_day
from tests.fakes.massive import FakeMassive

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "tests.plugins.drill_providers"
T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    """What a run leaves behind, comparable across databases (ledger without fetched_at)."""

    digest: str
    ledger: list[tuple]


def run_cli_in_process(argv: Sequence[str], *, database_url: str) -> int:
    """`python -m scripts.ingest_options ARGV` in this process, with the drill provider registered."""
    import tests.plugins.drill_providers  # noqa: F401 - registers `drill`
    from scripts.ingest_options import main

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", database_url)
        patch.delenv("KAPMAN_DRILL_DIR", raising=False)
        return main(list(argv), prog="python -m scripts.ingest_options")


class CliProcess:
    """`python -m MODULE ARGV` in its own process group, output captured in files (never a full pipe)."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], module: str = "scripts.ingest_options") -> None:
        # Files, not pipes: a chatty run must never block on a full pipe nobody reads yet.
        self._out = tempfile.TemporaryFile("w+")  # noqa: SIM115 - lives as long as the process
        self._err = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *argv],
            cwd=ROOT,
            env=env,
            stdout=self._out,
            stderr=self._err,
            text=True,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> int:
        """SIGKILL the process (and anything it started): no cleanup code of ours runs."""
        os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.wait(timeout=30)

    def wait(self, timeout: float = 120) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the run did not finish in {timeout:.0f}s:\n{self.output}") from None

    def running(self) -> bool:
        return self.process.poll() is None

    @property
    def stdout(self) -> str:
        self._out.seek(0)
        return self._out.read()

    @property
    def stderr(self) -> str:
        self._err.seek(0)
        return self._err.read()

    @property
    def output(self) -> str:
        return f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"

    def close(self) -> None:
        """Kill the process if it still runs (a failed test must not leave it behind)."""
        if self.running():
            self.kill()


def cli_env(database_url: str | None, drill_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: this test's database, the session's Prefect API (no
    temporary server per process) and the drill provider plugin."""
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "KAPMAN_PROVIDER_MODULES": PLUGIN}
    env.pop("DATABASE_URL", None)
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    if drill_dir is not None:
        env["KAPMAN_DRILL_DIR"] = str(drill_dir)
    env.update(extra)
    return env


def wait_until(condition: Callable[[], T], *, what: str, timeout: float = 60.0, process: CliProcess | None = None) -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds, or at once
    when `process` ended (it can no longer reach the state waited for)."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = condition()
        if outcome:
            return outcome
        if process is not None and not process.running():
            raise AssertionError(f"the run ended (exit {process.process.returncode}) before {what}:\n{process.output}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.01)


def connect(url: str) -> psycopg2.extensions.connection:
    """An autocommit connection: every poll sees the latest committed state."""
    connection = psycopg2.connect(url)
    connection.autocommit = True
    return connection


def query(connection: psycopg2.extensions.connection, sql: str, params: Sequence[object] = ()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # Statements that return no rows (ALTER, SET...) run through here too.
        return cursor.fetchall() if cursor.description is not None else []


def half_written_symbol_days(connection: psycopg2.extensions.connection) -> list[tuple]:
    """Symbol-days whose chain rows and ledger row disagree: rows without a ledger row, a ledger row
    without rows, or a row count other than the ledger's `contracts`. Must always be empty."""
    return query(
        connection,
        "WITH chains AS (SELECT time, ticker_id, count(*) AS n FROM options_chains GROUP BY 1, 2) "
        "SELECT t.symbol, coalesce(c.time, l.time), c.n, l.contracts "
        "FROM chains c FULL JOIN chain_snapshots l ON l.time = c.time AND l.ticker_id = c.ticker_id "
        "JOIN tickers t ON t.id = coalesce(c.ticker_id, l.ticker_id) "
        "WHERE c.n IS DISTINCT FROM l.contracts ORDER BY 1, 2",
    )


def complete_symbol_days(connection: psycopg2.extensions.connection) -> set[str]:
    """`SYMBOL@SESSION` of every ledger row."""
    rows = query(
        connection,
        "SELECT t.symbol, (cs.time AT TIME ZONE 'UTC')::date "
        "FROM chain_snapshots cs JOIN tickers t ON t.id = cs.ticker_id",
    )
    return {f"{symbol}@{session.isoformat()}" for symbol, session in rows}


def summary_counts(output: str) -> dict[str, int]:
    """The numbers of the SUMMARY line a run prints."""
    line = next(line for line in output.splitlines() if line.startswith("SUMMARY "))
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)(?=\s|$)", line)}


def day_ends(output: str) -> dict[str, dict[str, str]]:
    """session → the fields of its last END line (status, written, skipped, failed, rows, ...)."""
    days: dict[str, dict[str, str]] = {}
    for line in output.splitlines():
        if " END session=" in line or line.startswith("END session="):
            fields = dict(re.findall(r"(\w+)=(\S+)", line[line.index("END session=") :]))
            days[fields["session"]] = fields
    return days


def fetched(drill_dir: Path, pid: int | None = None) -> list[str]:
    """`SYMBOL@SESSION` each fetch asked the drill provider for (of one process, or of all)."""
    marks = [path.name.removeprefix("fetched-").rsplit("-", 2) for path in drill_dir.glob("fetched-*")]
    return sorted(symbol_day for symbol_day, by, _ in marks if pid is None or by == str(pid))


def release(drill_dir: Path, symbol_day: str) -> None:
    """Let a fetch blocked on its FIFO go on (opening for writing waits for the reader)."""
    with open(drill_dir / f"release-{symbol_day}", "w"):
        pass


def task_run_counts(flow_run_id: object) -> dict[str, int]:
    """task run name → how many times Prefect ran it (2 = retried once), for one flow run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return {run.name: run.run_count for run in runs}


@contextmanager
def writer_connection_terminated(
    database_url: str, ticker_id: str, session: date, *, before_terminating: Callable[[], None] = lambda: None
) -> Iterator[list[int]]:
    """While the body runs, hold `ticker_id`'s symbol-day lock for `session` so its writer waits on
    it, then terminate that writer's connection from the server side (as an administrator or a
    failover would) and let go. Yields the terminated backend pids, filled once done."""
    terminated: list[int] = []
    problems: list[BaseException] = []
    watcher = connect(database_url)
    holder = psycopg2.connect(database_url)
    with holder.cursor() as cursor:
        _lock_symbol_day(cursor, ticker_id, snapshot_time_for(session))

    def saboteur() -> None:
        try:
            pids = wait_until(
                lambda: query(
                    watcher,
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = 'kapman-options' AND wait_event = 'advisory'",
                ),
                what="the symbol-day writer to wait for its lock",
            )
            before_terminating()
            for (pid,) in pids:
                assert query(watcher, "SELECT pg_terminate_backend(%s)", (pid,)) == [(True,)]
                terminated.append(pid)
        except BaseException as exc:  # re-raised in the test's thread
            problems.append(exc)
        finally:
            holder.rollback()
            holder.close()

    thread = threading.Thread(target=saboteur, name="saboteur")
    thread.start()
    try:
        yield terminated
    finally:
        thread.join(timeout=90)
        watcher.close()
    if problems:
        raise problems[0]
    assert len(terminated) == 1


@contextmanager
def registered_polygon(
    name: str, api_key: str, fake: FakeMassive, *, now: datetime, settings: HttpSettings
) -> Iterator[str]:
    """A PolygonProvider on the loopback fake, with a pinned clock (which session is "current")
    and the drill's HTTP settings, registered under `name` while the block runs."""
    provider = PolygonProvider(api_key, base_url=fake.base_url, clock=lambda: now, http_settings=settings)
    register_provider(name, lambda _settings: provider)
    try:
        yield name
    finally:
        unregister_provider(name)
        provider.close()
