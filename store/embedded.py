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
DEFAULT_DATA_DIR = PROJECT_ROOT / ".kapman" / "pgdata"
DATA_DIR_ENV = "KAPMAN_PGDATA"


def data_dir() -> Path:
    """Where the embedded cluster lives: `KAPMAN_PGDATA`, else `.kapman/pgdata` in the project."""
    configured = os.environ.get(DATA_DIR_ENV)
    return Path(configured).expanduser().resolve() if configured else DEFAULT_DATA_DIR


def _pgserver():  # noqa: ANN202 - third-party module object
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


def start(pgdata: Path | None = None) -> str:
    """Start (or attach to) the embedded server and return its connection URL."""
    pgdata = pgdata or data_dir()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = _pgserver().get_server(pgdata, cleanup_mode=None)
        return server.get_uri()


def stop(pgdata: Path | None = None) -> bool:
    """Stop the embedded server if it runs; True when a server was stopped."""
    pgdata = pgdata or data_dir()
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
