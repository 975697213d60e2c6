"""The embedded PostgreSQL server (pgserver) that makes a fresh machine work with no setup.

The server is left running between commands (starting it costs about a second, and `psql` users
want it up); `python -m store stop` stops it.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# `KAPMAN_PGDATA` (read by the run, see settings.environment) moves it.
DEFAULT_DATA_DIR = PROJECT_ROOT / ".kapman" / "pgdata"


def _pgserver():  # noqa: ANN202 - third-party module object
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


def start(pgdata: Path = DEFAULT_DATA_DIR) -> str:
    """Start (or attach to) the embedded server in `pgdata` and return its connection URL."""
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = _pgserver().get_server(pgdata, cleanup_mode=None)
        return server.get_uri()


def stop(pgdata: Path = DEFAULT_DATA_DIR) -> bool:
    """Stop the embedded server in `pgdata` if it runs; True when a server was stopped."""
    if not (pgdata / "postmaster.pid").exists():
        return False
    _pgserver()
    from pgserver._commands import POSTGRES_BIN_PATH

    command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "stop"]
    if os.geteuid() == 0:
        # pgserver runs the cluster as its own `pgserver` user when we are root.
        command = ["su", "pgserver", "-s", "/bin/sh", "-c", " ".join(command)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    return result.returncode == 0
