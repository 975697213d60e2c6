"""A command line answers `--help` (and a usage error) without importing anything heavy, and the warm
Prefect server is found by its home, never by a recorded pid alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import prefect_server

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("prefect", "pandas", "numpy", "psycopg2", "pydantic", "pandas_market_calendars", "matplotlib", "pyarrow")
# Runs MODULE as `python -m MODULE --help` would, then lists the heavy modules it imported.
PROBE = """
import runpy, sys
sys.argv = [{module!r}, "--help"]
try:
    runpy.run_module({module!r}, run_name="__main__", alter_sys=True)
except SystemExit:
    pass
print("HEAVY", sorted(name for name in {heavy!r} if name in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "module",
    [
        "scripts.ingest_options",
        "scripts.dealer_metrics",
        "scripts.demo",
        "flows.backfill",
        "flows.ingest",
        "flows.dealer_metrics",
    ],
)
def test_help_imports_nothing_heavy(module):
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module, heavy=HEAVY)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.startswith("usage: "), result.stdout + result.stderr
    assert "HEAVY []" in result.stderr.splitlines(), result.stderr


def test_stop_never_signals_a_recorded_pid_that_is_not_this_homes_server(tmp_path):
    # A state file as a crash left it, naming a pid the system has since given to another process.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        (tmp_path / prefect_server.STATE_FILE).write_text(
            json.dumps({"pid": bystander.pid, "port": 4280, "url": "http://127.0.0.1:4280"})
        )
        outcome = prefect_server.stop(tmp_path)
        assert not outcome and outcome.message == f"no Prefect server running in {tmp_path}"
        assert bystander.poll() is None
        assert prefect_server.running(tmp_path) is None
        assert not (tmp_path / prefect_server.STATE_FILE).exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_the_server_gets_its_own_home_and_none_of_the_shells_prefect_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", "postgresql+asyncpg://elsewhere/prefect")
    monkeypatch.setenv("PREFECT_PROFILE", "production")
    environment = prefect_server.server_environment(tmp_path, 4321)
    assert environment["PREFECT_HOME"] == str(tmp_path)
    assert environment["PREFECT_UI_API_URL"] == "http://127.0.0.1:4321/api"
    assert "PREFECT_API_DATABASE_CONNECTION_URL" not in environment and "PREFECT_PROFILE" not in environment
    command = prefect_server.server_command(4321)
    assert command[command.index("--host") + 1] == "127.0.0.1" and prefect_server.SERVER_APP in command
    assert os.environ["PREFECT_PROFILE"] == "production"  # the caller's own environment is untouched
