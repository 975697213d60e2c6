"""A stale `postmaster.pid`: the embedded server is identified by its data directory.

Two embedded servers in two throw-away data directories stand for two checkouts. A pid file left by
a crash can name a pid that now belongs to another process, another checkout's postmaster included:
`python -m store stop` must leave that server alone and say so, and starting the embedded server
must remove the stale file with one line and start its own server instead of handing out the other
one's socket.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg2
import pytest

from store import embedded
from tests.drills.support import ROOT


def store_cli(pgdata: Path, *argv: str) -> subprocess.CompletedProcess:
    """`python -m store ARGV` with `KAPMAN_PGDATA=pgdata`, as a user runs it."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["KAPMAN_PGDATA"] = str(pgdata)
    return subprocess.run(
        [sys.executable, "-m", "store", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def embedded_line(result: subprocess.CompletedProcess) -> str:
    """What `store stop` said about the embedded server (its first line; the next is the Prefect server's)."""
    return result.stdout.splitlines()[0]


def pid_named_by(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


def answers(url: str) -> bool:
    connection = psycopg2.connect(url, connect_timeout=10)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    finally:
        connection.close()


@pytest.fixture
def data_dirs(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """Two data directories ("ours" and "theirs"); whatever runs in them is stopped afterwards."""
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    yield ours, theirs
    for pgdata in (ours, theirs):
        embedded.stop(pgdata)


def forge_pid_file(ours: Path, theirs: Path) -> int:
    """Our data directory's pid file, as a crash left it, naming the pid (and socket) of their
    running postmaster: the system gave our dead postmaster's pid to theirs."""
    (ours / "postmaster.pid").write_text((theirs / "postmaster.pid").read_text())
    return pid_named_by(theirs)


def test_stop_with_a_pid_file_naming_another_checkouts_server_leaves_that_server_running(data_dirs):
    ours, theirs = data_dirs
    embedded.start(ours)
    assert embedded.stop(ours)
    their_url = embedded.start(theirs)
    their_pid = forge_pid_file(ours, theirs)

    stopped = store_cli(ours, "stop")

    assert stopped.returncode == 0, stopped.stderr
    assert psutil.pid_exists(their_pid) and answers(their_url), stopped.stdout
    assert embedded_line(stopped) == (
        f"{ours}/postmaster.pid names pid {their_pid}, which is not this data directory's server: "
        f"left it alone and removed the stale file; no embedded server running in {ours}"
    )
    assert not (ours / "postmaster.pid").exists()


def test_stop_stops_the_server_of_its_own_data_directory_only(data_dirs):
    ours, theirs = data_dirs
    embedded.start(ours)
    their_url = embedded.start(theirs)
    our_pid, their_pid = pid_named_by(ours), pid_named_by(theirs)

    stopped = store_cli(ours, "stop")

    assert stopped.returncode == 0, stopped.stderr
    assert embedded_line(stopped) == f"stopped the embedded server in {ours} (pid {our_pid})"
    # ... and then says what it did about the local Prefect server (none runs in this test session's home).
    assert stopped.stdout.splitlines()[1].startswith("no Prefect server running in ")
    assert not psutil.pid_exists(our_pid) or psutil.Process(our_pid).status() == psutil.STATUS_ZOMBIE
    assert answers(their_url) and pid_named_by(theirs) == their_pid
    again = store_cli(ours, "stop")
    assert embedded_line(again) == f"no embedded server running in {ours}"


def test_start_with_a_pid_file_naming_a_live_process_removes_it_and_starts_its_own_server(data_dirs):
    ours, theirs = data_dirs
    embedded.start(ours)
    assert embedded.stop(ours)
    their_url = embedded.start(theirs)
    their_pid = forge_pid_file(ours, theirs)

    started = store_cli(ours, "url")

    assert started.returncode == 0, started.stderr
    our_url = started.stdout.strip()
    # Our own server, on our data directory's socket, not theirs under our name.
    assert our_url != their_url and f"host={ours}" in our_url, our_url
    assert started.stderr.strip().splitlines() == [
        f"{ours}/postmaster.pid names pid {their_pid}, which is not this data directory's server: "
        "left it alone and removed the stale file"
    ]
    assert answers(our_url) and pid_named_by(ours) != their_pid
    assert answers(their_url)


def test_a_pid_file_naming_a_dead_process_is_removed_with_one_line(data_dirs):
    ours, _ = data_dirs
    embedded.start(ours)
    assert embedded.stop(ours)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    dead_pid = child.pid
    (ours / "postmaster.pid").write_text(f"{dead_pid}\n{ours}\n")

    stopped = store_cli(ours, "stop")

    assert embedded_line(stopped) == (
        f"{ours}/postmaster.pid names pid {dead_pid}, which is not running: removed the stale file; "
        f"no embedded server running in {ours}"
    )
    assert not (ours / "postmaster.pid").exists()
