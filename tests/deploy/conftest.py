"""A real Prefect server, work pool, deployments and worker for the tests of this folder.

One server for the whole folder (starting one costs seconds): `prefect server start` on a free
loopback port with its own PREFECT_HOME, the `kapman-process` work pool, `prefect deploy --all` from
the checkout, and one `prefect worker start` that runs every flow run the tests create. Each run
names its own database through the `env` job variable, as a user's run would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest

from tests.conftest import TEMPLATE_DB, TestServer, drop_databases
from tests.dbutil import seed_watchlist
from tests.deploy.chromium import ensure_chromium

ROOT = Path(__file__).resolve().parents[2]
# Where the UI check leaves its screenshot for a person to look at (README "Running with Prefect").
SCREENSHOT = ROOT / ".kapman" / "screenshots" / "backfill-run.png"
# ... and of the run list with a Partial backfill in it (README "When a night goes wrong").
RUN_LIST_SCREENSHOT = ROOT / ".kapman" / "screenshots" / "run-list-partial.png"
POOL = "kapman-process"
BACKFILL = "backfill-options/options-backfill"
DAILY = "ingest-options/options-daily"
DEALER = "dealer-metrics/dealer-metrics"
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# Environment a developer's shell may carry that must not reach the processes started here.
_FOREIGN = ("DATABASE_URL", "OPTIONS_PROVIDER", "POLYGON_API_KEY", "POLYGON_BASE_URL", "KAPMAN_MAX_REQUESTS_PER_MINUTE")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, *, timeout: float, interval: float = 0.2, what: str) -> Any:  # noqa: ANN001
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = condition()
        if outcome:
            return outcome
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@dataclass
class PrefectServer:
    """A `prefect server start` subprocess and the environment that points CLI processes at it."""

    url: str
    home: Path
    env: dict[str, str]
    process: subprocess.Popen

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        """A `prefect …` command against this server, run from the checkout."""
        result = subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return result

    def python(self, code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """`python -c CODE ARGS…` in the checkout, pointed at this server (e.g. saving a block)."""
        return subprocess.run(
            [sys.executable, "-c", code, *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def api(self, method: str, path: str, payload: Any = None) -> Any:
        response = httpx.request(method, f"{self.api_url}{path}", json=payload, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def flow_runs_of(self, deployment: str) -> list[dict]:
        """Runs of `flow/deployment` that were not merely scheduled, newest first."""
        deployment_id = self.api("GET", f"/deployments/name/{deployment}")["id"]
        return self.api(
            "POST",
            "/flow_runs/filter",
            {
                "flow_runs": {
                    "deployment_id": {"any_": [deployment_id]},
                    "state": {"type": {"not_any_": ["SCHEDULED"]}},
                },
                "sort": "EXPECTED_START_TIME_DESC",
            },
        )

    def flow_run(self, flow_run_id: str) -> dict:
        return self.api("GET", f"/flow_runs/{flow_run_id}")

    def wait_for_flow_run(self, flow_run_id: str, timeout: float = 180) -> dict:
        def finished() -> dict | None:
            run = self.flow_run(flow_run_id)
            return run if run["state_type"] in TERMINAL else None

        return wait_until(finished, timeout=timeout, interval=0.5, what=f"flow run {flow_run_id}")

    def artifacts(self, flow_run_id: str) -> dict[str, dict]:
        """The run's artifacts by key (the latest version of each)."""
        found = self.api(
            "POST", "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}, "sort": "CREATED_DESC"}
        )
        latest: dict[str, dict] = {}
        for artifact in found:
            if artifact.get("key"):
                latest.setdefault(artifact["key"], artifact)
        return latest

    def logs(self, flow_run_id: str) -> list[dict]:
        return self.api("POST", "/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200})


@dataclass
class Deployed:
    """The deployments of prefect.yaml on the module's server, with a worker polling their pool."""

    server: PrefectServer
    worker_log: Path
    # The database the worker's own environment names: runs without a DATABASE_URL job variable
    # (scheduled and triggered runs) use it, as in production.
    worker_database_url: str

    def run(
        self,
        deployment: str,
        *,
        params: dict[str, str],
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess:
        """`prefect deployment run NAME --param k=v … --job-variable env={…}` exactly as a user types it."""
        args = ["deployment", "run", deployment]
        for name, value in params.items():
            args += ["--param", f"{name}={value}"]
        if env:
            args += ["--job-variable", f"env={json.dumps(env)}"]
        result = self.server.cli(*args)
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def start(self, deployment: str, *, params: dict[str, str], env: dict[str, str]) -> str:
        """Create the run (the worker picks it up); returns its flow run id."""
        result = self.run(deployment, params=params, env=env)
        match = re.search(r"UUID:\s*([0-9a-f-]{36})", result.stdout)
        assert match, result.stdout
        return match.group(1)

    def run_and_wait(self, deployment: str, *, params: dict[str, str], env: dict[str, str]) -> dict:
        """Create the run, wait for the worker to finish it, return the flow run (API JSON)."""
        return self.server.wait_for_flow_run(self.start(deployment, params=params, env=env))


def _clean_environment() -> dict[str, str]:
    """os.environ without a developer's Prefect profile, database or provider settings."""
    return {
        name: value for name, value in os.environ.items() if not name.startswith("PREFECT_") and name not in _FOREIGN
    }


def _stop(process: subprocess.Popen) -> None:
    """Stop a process group this module started (the server's and the worker's children with them)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing (CI runs as root with apt reachable)."""
    return ensure_chromium()


@pytest.fixture(scope="package")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **_clean_environment(),
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"{url}/api",
        # The UI asks this URL for its API; without it, it would look on the default port 4200.
        "PREFECT_UI_API_URL": f"{url}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_CLI_COLORS": "false",
        "PREFECT_CLI_WRAP_LINES": "false",
    }
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = PrefectServer(url=url, home=home, env=env, process=process)

    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"prefect server exited: {(home / 'server.log').read_text()[-3000:]}")
        try:
            return httpx.get(f"{url}/api/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, timeout=120, what="prefect server health")
        yield server
    finally:
        _stop(process)
        log.close()


@pytest.fixture(scope="package")
def package_database(pg_server: TestServer) -> Iterator[callable]:
    """Fresh migrated databases for this folder's module-scoped runs; dropped at the end."""
    created: list[str] = []
    admin = psycopg2.connect(pg_server.url)
    admin.autocommit = True

    def create(symbols: list[str] | None = None) -> str:
        name = f"d_{uuid.uuid4().hex[:12]}"
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
        created.append(name)
        url = pg_server.url_for(name)
        if symbols:
            connection = psycopg2.connect(url)
            seed_watchlist(connection, symbols)
            connection.close()
        return url

    yield create
    drop_databases(admin, created)
    admin.close()


@pytest.fixture(scope="package")
def deployed(
    prefect_server: PrefectServer, package_database, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployed]:
    """The README's steps: create the pool, deploy prefect.yaml, start a worker."""
    server = prefect_server
    created = server.cli("work-pool", "create", POOL, "--type", "process")
    assert created.returncode == 0, created.stdout + created.stderr
    deployed_all = server.cli("--no-prompt", "deploy", "--all")
    assert deployed_all.returncode == 0, deployed_all.stdout + deployed_all.stderr
    # The nightly schedule (options-daily, the only one) must not fire during a test run.
    paused = server.cli("deployment", "schedule", "pause", "--all")
    assert paused.returncode == 0, paused.stdout + paused.stderr

    # The worker starts outside the checkout (the deployments import the installed package) with a
    # database of its own in its environment; most runs bring their own in their job variables.
    worker_database_url = package_database(["AAPL", "SPY"])
    workdir = tmp_path_factory.mktemp("worker")
    worker_log = workdir / "worker.log"
    log = worker_log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--name", "kapman-test-worker"],
        cwd=workdir,
        env={
            **server.env,
            "DATABASE_URL": worker_database_url,
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_HEARTBEAT_SECONDS": "5",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def worker_online() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited: {worker_log.read_text()[-3000:]}")
        workers = server.api("POST", f"/work_pools/{POOL}/workers/filter", {})
        return any(worker["name"] == "kapman-test-worker" for worker in workers)

    try:
        wait_until(worker_online, timeout=60, what="the worker to register")
        yield Deployed(server=server, worker_log=worker_log, worker_database_url=worker_database_url)
    finally:
        _stop(process)
        log.close()
