"""The warm local Prefect server, as a user meets it: the first run starts it in the background,
later runs reuse it (no second server, the same pid and port), its API holds every run, `python -m
store stop` ends it; with `PREFECT_API_URL` set nothing is started.

Each test has a Prefect home of its own and stops whatever ran there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from scripts import prefect_server
from tests.dbutil import seed_watchlist

ROOT = Path(__file__).resolve().parents[2]
COMMAND = ("--provider", "synthetic", "--as-of", "2025-12-16", "--concurrency", "1")


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "prefect-home"
    yield folder
    prefect_server.stop(folder)


def cli(module: str, *argv: str, home: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`python -m MODULE ARGV` from the checkout, without the session's Prefect API (unless `env`
    names one), with `home` as the warm server's home."""
    environment = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    environment.update({"KAPMAN_PREFECT_HOME": str(home), **env})
    return subprocess.run(
        [sys.executable, "-m", module, *argv], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600
    )


def flow_runs(api_url: str) -> int:
    request = urllib.request.Request(
        f"{api_url}/flow_runs/count", data=b"{}", headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def servers_of(home: Path) -> list[int]:
    return [process.pid for process in psutil.process_iter() if prefect_server.serves(process.pid, home)]


def test_the_first_run_starts_the_server_later_runs_reuse_it_and_store_stop_ends_it(db, database_url, home):
    seed_watchlist(db, ["SPY"])
    env = {"DATABASE_URL": database_url}

    first = cli("scripts.ingest_options", *COMMAND, home=home, env=env)
    assert first.returncode == 0, first.stderr
    server = prefect_server.running(home)
    assert server is not None and servers_of(home) == [server.pid]
    assert f"started the local Prefect server in the background (UI: {server.url}" in first.stderr
    # Loopback only, in a session of its own, outliving the run that started it.
    assert server.url.startswith("http://127.0.0.1:")
    assert os.getsid(server.pid) == server.pid
    state = json.loads((home / prefect_server.STATE_FILE).read_text())
    assert (state["pid"], state["url"]) == (server.pid, server.url)
    assert flow_runs(server.api_url) == 1

    second = cli("scripts.ingest_options", *COMMAND, home=home, env=env)
    assert second.returncode == 0, second.stderr
    assert "skipped=1 rows_written=0" in second.stdout
    assert "started the local Prefect server" not in second.stderr
    assert json.loads((home / prefect_server.STATE_FILE).read_text()) == state
    assert servers_of(home) == [server.pid]
    assert flow_runs(server.api_url) == 2

    stopped = cli("store", "stop", home=home, env={"KAPMAN_PGDATA": str(home.parent / "pg-never-started")})
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped the Prefect server in {home} (pid {server.pid})" in stopped.stdout
    assert not psutil.pid_exists(server.pid) or psutil.Process(server.pid).status() == psutil.STATUS_ZOMBIE
    assert prefect_server.running(home) is None and not prefect_server.healthy(server.url)
    assert servers_of(home) == []


def test_with_prefect_api_url_set_the_run_uses_it_and_starts_nothing(db, database_url, home, prefect_harness):
    from prefect.settings import PREFECT_API_URL

    seed_watchlist(db, ["SPY"])
    api_url = PREFECT_API_URL.value()
    before = flow_runs(api_url)

    env = {"DATABASE_URL": database_url, "PREFECT_API_URL": api_url}
    run = cli("scripts.ingest_options", *COMMAND, home=home, env=env)
    assert run.returncode == 0, run.stderr
    assert flow_runs(api_url) == before + 1
    assert servers_of(home) == [] and not (home / prefect_server.STATE_FILE).exists()
    assert "local Prefect server" not in run.stderr
