"""Signals: a run stopped by SIGINT (Ctrl-C) or SIGTERM, and a run SIGKILLed, leave no debris.

Each drill starts the CLI in its own session and signals it only once it is observed inside a
symbol-day (the drill provider blocked in a fetch, or a COPY stalled on a row the test holds). A
stopped run exits 130 / 143 within a generous bound with one `interrupted:` line and no traceback,
leaves no half-written symbol-day and no backend of its own, its flow run reads back Cancelled
(never Running) from the Prefect API, and every process it started has ended but the warm local
Prefect server, which a run started without `PREFECT_API_URL` leaves running on purpose (in a
session of its own, so a terminal's Ctrl-C does not reach it) and `store stop` ends.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from uuid import UUID

import psutil
import psycopg2
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from markets.snapshot import snapshot_time_for
from scripts import prefect_server
from store.tickers import ensure_tickers
from tests.dbutil import seed_watchlist
from tests.drills.support import (
    ROOT,
    CliProcess,
    cli_env,
    complete_symbol_days,
    connect,
    half_written_symbol_days,
    query,
    wait_until,
)

SYMBOLS = ("KO", "PEP", "XOM")
SESSION = date(2025, 12, 16)
COMMAND = ("--as-of", SESSION.isoformat(), "--provider", "drill", "--concurrency", "1", "--day-retries", "0")
# With one symbol at a time the run writes KO, then works on PEP: the drills stop it there.
FIRST, VICTIM = (f"{symbol}@{SESSION.isoformat()}" for symbol in SYMBOLS[:2])
# Generous: a prompt stop takes a second or two; the bug this guards against took about 70 s.
PROMPT_SECONDS = 30.0


@dataclass
class Drill:
    """One database, one drill directory, and every process the test started or saw started."""

    url: str
    directory: Path
    watcher: psycopg2.extensions.connection
    processes: list[CliProcess] = field(default_factory=list)
    seen: list[psutil.Process] = field(default_factory=list)

    def start(self, env: dict[str, str]) -> CliProcess:
        process = CliProcess(COMMAND, env)
        self.processes.append(process)
        return process

    @property
    def prefect_home(self) -> Path:
        return self.directory / "prefect-home"

    def env(self, *, warm_server: bool = False, **extra: str) -> dict[str, str]:
        """The CLI's environment: the session's Prefect API, or none (the run starts the warm local
        server, with a home of its own under this test's directory)."""
        env = cli_env(self.url, self.directory, **extra)
        if warm_server:
            env.pop("PREFECT_API_URL")
            env["KAPMAN_PREFECT_HOME"] = str(self.prefect_home)
        return env

    def descendants(self, run: CliProcess) -> list[psutil.Process]:
        """The processes `run` started and that still run; remembered for the clean-up."""
        try:
            found = psutil.Process(run.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        self.seen += [process for process in found if process not in self.seen]
        return found

    def our_backends(self) -> list[tuple]:
        return query(
            self.watcher,
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'kapman-options'",
        )


def alive(process: psutil.Process) -> bool:
    """Still running (a zombie nobody reaped yet has ended; `is_running` also guards pid reuse)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def prefect_servers(processes: list[psutil.Process]) -> list[psutil.Process]:
    def is_server(process: psutil.Process) -> bool:
        try:
            return prefect_server.SERVER_APP in process.cmdline()
        except psutil.Error:
            return False

    return [process for process in processes if is_server(process)]


@pytest.fixture
def drill(make_database, tmp_path) -> Iterator[Drill]:  # noqa: ANN001
    url = make_database()
    watcher = connect(url)
    seed_watchlist(watcher, list(SYMBOLS))
    state = Drill(url, tmp_path, watcher)
    yield state
    prefect_server.stop(state.prefect_home)
    for process in state.processes:
        process.close()
    # The processes a run started are in sessions of their own: a failed test must not leave them.
    for process in state.seen:
        if alive(process):
            process.kill()
    watcher.close()


def store_stop(drill: Drill) -> subprocess.CompletedProcess:
    """`python -m store stop` as a user runs it, for this drill's Prefect home (and an embedded
    PostgreSQL data directory of its own that never ran: the session's server is not its to stop)."""
    env = {
        **cli_env(None),
        "KAPMAN_PREFECT_HOME": str(drill.prefect_home),
        "KAPMAN_PGDATA": str(drill.directory / "pg"),
    }
    return subprocess.run(
        [sys.executable, "-m", "store", "stop"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def in_fetch(drill: Drill, env: dict[str, str]) -> CliProcess:
    """A run blocked inside the fetch of VICTIM (on a FIFO nobody opens), FIRST already complete."""
    os.mkfifo(drill.directory / f"release-{VICTIM}")
    run = drill.start({**env, "KAPMAN_DRILL_BLOCK": VICTIM})
    wait_until(
        lambda: (drill.directory / f"fetching-{VICTIM}").exists() and complete_symbol_days(drill.watcher) == {FIRST},
        what=f"the fetch of {VICTIM} after {FIRST} was written",
        timeout=120,
        process=run,
    )
    return run


def flow_run_state(flow_run_id: UUID) -> tuple[str, list[str]]:
    """The flow run's state name and its task runs' state names, read back from the Prefect API."""
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return flow_run.state.name, sorted(task_run.state.name for task_run in task_runs)


@dataclass(frozen=True)
class Stop:
    """How a signalled run ended: seconds from the signal to its exit, and what it printed to stderr
    after the signal (before it, the run's ordinary log lines)."""

    seconds: float
    stderr_after: list[str]


def stopped(run: CliProcess, signum: int, *, group: bool) -> Stop:
    """Send `signum` to the run's process group (as a terminal's Ctrl-C does) or to the process
    alone (as `kill PID` does), and wait for it to exit."""
    before = len(run.stderr.splitlines())
    sent = time.monotonic()
    (os.killpg if group else os.kill)(run.pid, signum)
    run.wait(timeout=PROMPT_SECONDS)
    return Stop(time.monotonic() - sent, run.stderr.splitlines()[before:])


def assert_one_interrupted_line(run: CliProcess, stop: Stop, signum: int) -> UUID:
    """Exit 128 + signal, one line on stderr, no traceback; the flow run that line names."""
    assert stop.seconds < PROMPT_SECONDS
    assert run.process.returncode == 128 + signum, run.output
    assert "Traceback" not in run.stdout + run.stderr, run.output
    assert len(stop.stderr_after) == 1, run.output
    assert stop.stderr_after[0].startswith(f"interrupted: {signal.Signals(signum).name}"), run.output
    named = re.search(r"flow run ([0-9a-f-]{36}) marked Cancelled", stop.stderr_after[0])
    assert named, run.output
    return UUID(named[1])


@pytest.mark.parametrize(
    ("signum", "group"), [(signal.SIGINT, True), (signal.SIGTERM, False)], ids=["SIGINT", "SIGTERM"]
)
def test_a_signal_mid_fetch_stops_the_run_at_once_and_marks_its_flow_run_cancelled(drill, signum, group):
    run = in_fetch(drill, drill.env())
    started = drill.descendants(run)

    flow_run_id = assert_one_interrupted_line(run, stopped(run, signum, group=group), signum)
    # The run marked them before it left; the server records task-run state events a moment later.
    flow_run, task_runs = wait_until(
        lambda: (state := flow_run_state(flow_run_id))[0] == "Cancelled" and "Running" not in state[1] and state,
        what="the flow run and its task runs to read back as no longer running",
        timeout=PROMPT_SECONDS,
    )
    assert flow_run == "Cancelled" and task_runs and "Running" not in task_runs, (flow_run, task_runs)
    # Only what was committed before the signal; the run's connections are gone (nothing open).
    assert half_written_symbol_days(drill.watcher) == []
    assert complete_symbol_days(drill.watcher) == {FIRST}
    wait_until(lambda: not drill.our_backends(), what="the interrupted run's backends to end", timeout=PROMPT_SECONDS)
    assert [process for process in started if alive(process)] == []


def test_sigterm_with_the_symbol_days_rows_sent_rolls_it_back(drill):
    """SIGTERM lands when the victim's rows are all copied in its open transaction and its ledger row
    waits: the test holds an uncommitted ledger row with the same key, so that insert waits for it.

    (Not a stalled COPY: psycopg2 holds the GIL while it waits for a COPY's result, so no Python code
    of the process, signal handlers included, runs until the server answers.)"""
    ticker_id = ensure_tickers(drill.watcher, ["PEP"])["PEP"]
    holder = psycopg2.connect(drill.url)
    try:
        with holder.cursor() as cursor:
            cursor.execute(
                "INSERT INTO chain_snapshots (time, ticker_id, provider, contracts) VALUES (%s, %s, 'holder', 0)",
                (snapshot_time_for(SESSION), ticker_id),
            )
        run = drill.start(drill.env())
        waiting = (
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'kapman-options' "
            "AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO chain_snapshots%%'"
        )
        wait_until(
            lambda: complete_symbol_days(drill.watcher) == {FIRST} and query(drill.watcher, waiting),
            what=f"the ledger row of {VICTIM} to wait after its rows were copied",
            timeout=120,
            process=run,
        )

        flow_run_id = assert_one_interrupted_line(run, stopped(run, signal.SIGTERM, group=False), signal.SIGTERM)
        assert flow_run_state(flow_run_id)[0] == "Cancelled"
    finally:
        # The orphaned backend goes on once the holder's row is gone, finds its client gone and
        # rolls back: the client never sent COMMIT.
        holder.rollback()
        holder.close()
    wait_until(lambda: not drill.our_backends(), what="the interrupted run's backend to end", timeout=PROMPT_SECONDS)
    assert half_written_symbol_days(drill.watcher) == []
    assert complete_symbol_days(drill.watcher) == {FIRST}
    assert query(drill.watcher, "SELECT count(*) FROM options_chains WHERE ticker_id = %s", (ticker_id,)) == [(0,)]


def test_ctrl_c_leaves_only_the_warm_prefect_server_the_run_started_and_store_stop_ends_it(drill):
    run = in_fetch(drill, drill.env(warm_server=True))
    servers = prefect_servers(drill.descendants(run))
    assert len(servers) == 1, drill.seen
    # A session of its own: a terminal's Ctrl-C, sent to the run's process group, is not for it.
    assert os.getsid(servers[0].pid) == servers[0].pid != os.getsid(run.pid)

    assert_one_interrupted_line(run, stopped(run, signal.SIGINT, group=True), signal.SIGINT)
    assert [process for process in drill.seen if alive(process)] == servers
    assert prefect_server.running(drill.prefect_home).pid == servers[0].pid
    assert complete_symbol_days(drill.watcher) == {FIRST}

    stopped_server = store_stop(drill)
    assert stopped_server.returncode == 0 and f"stopped the Prefect server in {drill.prefect_home}" in (
        stopped_server.stdout
    ), stopped_server.stdout + stopped_server.stderr
    assert not alive(servers[0]) and prefect_server.running(drill.prefect_home) is None


def test_a_sigkilled_run_leaves_only_the_warm_prefect_server_which_the_next_run_reuses(drill):
    run = in_fetch(drill, drill.env(warm_server=True))
    servers = prefect_servers(drill.descendants(run))
    assert len(servers) == 1, drill.seen

    # The run alone, not its process group: no code of the run runs after this.
    os.kill(run.pid, signal.SIGKILL)
    assert run.wait(timeout=PROMPT_SECONDS) == -signal.SIGKILL
    wait_until(
        lambda: [process for process in drill.seen if alive(process)] == servers,
        what="every process of the killed run but the warm server to end",
        timeout=PROMPT_SECONDS,
    )
    again = drill.start(drill.env(warm_server=True))
    assert again.wait(timeout=300) == 0, again.output
    assert "started the local Prefect server" not in again.stderr, again.output
    assert prefect_server.running(drill.prefect_home).pid == servers[0].pid
    assert [
        process.pid for process in psutil.process_iter() if prefect_server.serves(process.pid, drill.prefect_home)
    ] == [servers[0].pid]
    assert half_written_symbol_days(drill.watcher) == []
    assert complete_symbol_days(drill.watcher) == set(f"{symbol}@{SESSION.isoformat()}" for symbol in SYMBOLS)
