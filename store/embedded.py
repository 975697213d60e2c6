"""The embedded PostgreSQL server (pgserver) that makes a fresh machine work with no setup.

The server is left running between commands (starting it costs about a second, and `psql` users
want it up); `python -m store stop` stops it.

A server is identified by its data directory, never by `postmaster.pid` alone: the pid that file
names is trusted only when that process is a postmaster whose `-D` (or, failing that, working
directory) is this data directory. A file left by a crash can name a pid the system has since given
to anything else, another checkout's postmaster included; pgserver would then hand out that
process's socket (a misleading "cannot connect", or another database), and `pg_ctl stop` would
signal it. So `start` removes such a stale file with one warning line before pgserver reads it, and
`stop` signals only the postmaster of its own data directory.
"""

from __future__ import annotations

import logging
import signal
import warnings
from dataclasses import dataclass
from pathlib import Path

import psutil

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# `KAPMAN_PGDATA` (read by the run, see settings.environment) moves it.
DEFAULT_DATA_DIR = PROJECT_ROOT / ".kapman" / "pgdata"


def _pgserver():  # noqa: ANN202 - third-party module object
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


logger = logging.getLogger("kapman.store")
# How long a fast shutdown (SIGINT to the postmaster, what `pg_ctl -m fast stop` sends) may take.
STOP_TIMEOUT_SECONDS = 60.0


def start(pgdata: Path = DEFAULT_DATA_DIR) -> str:
    """Start (or attach to) the embedded server in `pgdata` and return its connection URL."""
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    stale = remove_stale_pid_file(pgdata)
    if stale is not None:
        logger.warning(stale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = _pgserver().get_server(pgdata, cleanup_mode=None)
        return server.get_uri()


@dataclass(frozen=True)
class StopOutcome:
    """What `stop` did, in one line for the user; true when it stopped a server."""

    stopped: bool
    message: str

    def __bool__(self) -> bool:
        return self.stopped


def stop(pgdata: Path = DEFAULT_DATA_DIR) -> StopOutcome:
    """Stop the embedded server of `pgdata` (found by its data directory) if it runs, and only it."""
    pid = postmaster_of(pgdata)
    if pid is None:
        stale = remove_stale_pid_file(pgdata)
        message = f"no embedded server running in {pgdata}"
        return StopOutcome(False, f"{stale}; {message}" if stale else message)
    try:
        postmaster = psutil.Process(pid)
        # A fast shutdown: sessions end, transactions in flight roll back, the pid file goes.
        postmaster.send_signal(signal.SIGINT)
        postmaster.wait(timeout=STOP_TIMEOUT_SECONDS)
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        return StopOutcome(
            False, f"the embedded server in {pgdata} (pid {pid}) did not stop in {STOP_TIMEOUT_SECONDS:.0f}s"
        )
    return StopOutcome(True, f"stopped the embedded server in {pgdata} (pid {pid})")


def postmaster_of(pgdata: Path) -> int | None:
    """The pid of the postmaster serving `pgdata`: the one `postmaster.pid` names when it is that
    data directory's postmaster, else any postmaster of that data directory, else None."""
    named = _pid_file_pid(pgdata)
    if named is not None and _serves(named, pgdata):
        return named
    for process in psutil.process_iter():
        if process.pid != named and _serves(process.pid, pgdata):
            return process.pid
    return None


def remove_stale_pid_file(pgdata: Path) -> str | None:
    """Remove a `postmaster.pid` that names no server of `pgdata`; the line saying what was done."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists() or postmaster_of(pgdata) is not None:
        return None
    named = _pid_file_pid(pgdata)
    pid_file.unlink(missing_ok=True)
    if named is None:
        return f"{pid_file} names no pid: removed the stale file"
    if psutil.pid_exists(named):
        return (
            f"{pid_file} names pid {named}, which is not this data directory's server: "
            "left it alone and removed the stale file"
        )
    return f"{pid_file} names pid {named}, which is not running: removed the stale file"


def _pid_file_pid(pgdata: Path) -> int | None:
    try:
        first_line = (pgdata / "postmaster.pid").read_text().split("\n", 1)[0]
        return int(first_line.strip())
    except (OSError, ValueError):
        return None


def _serves(pid: int, pgdata: Path) -> bool:
    """Whether `pid` is a postmaster whose data directory is `pgdata` (its backends' command lines
    are rewritten to `postgres: …`, so only the postmaster matches)."""
    try:
        process = psutil.Process(pid)
        command = process.cmdline()
        if not command or Path(command[0]).name != "postgres":
            return False
        data_dir = command[command.index("-D") + 1] if "-D" in command[:-1] else process.cwd()
    except (psutil.Error, OSError):
        return False
    return Path(data_dir).resolve() == pgdata.resolve()
