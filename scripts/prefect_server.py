"""The local Prefect server kept warm between command-line runs, as the embedded PostgreSQL is.

Starting a Prefect API server costs seconds (migrations, block registration, uvicorn); a temporary
one per command cost most of a re-run's wall time, and its UI went with it. So the first run that
needs an API (and finds no `PREFECT_API_URL`) starts one in the background and later runs reuse it:

- **Its own home.** `PREFECT_HOME` is `.kapman/prefect` (`KAPMAN_PREFECT_HOME` moves it): its SQLite
  database, UI build and log (`server.log`) live there, never in `~/.prefect`; no `PREFECT_*`
  variable of the caller's shell reaches it, so a profile or database URL meant for another server
  cannot leak in.
- **Loopback only.** Bound to 127.0.0.1, on port 4280 when that is free (else any free port); a
  restart takes the port it had last, so the UI keeps its address. `server.json` in the home names
  the pid and URL.
- **Found by its home, alive by its health endpoint.** A recorded pid is trusted only when that
  process is a Prefect server whose `PREFECT_HOME` is this home (a pid the system gave to anything
  else after a reboot is never signalled), and it is reused only when `/api/health` answers.
- **Its own session.** A terminal's Ctrl-C reaches the run, never the server; it outlives the run
  by design. `python -m store stop` stops it (and the embedded PostgreSQL).
- **One at a time.** A lock file serialises the look-and-start, so two runs started together share
  one server.

This module imports nothing heavy (no prefect): a command line decides about the server before it
pays for Prefect's import.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from settings.errors import SetupError
from store.embedded import StopOutcome

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOME = PROJECT_ROOT / ".kapman" / "prefect"
HOST = "127.0.0.1"
DEFAULT_PORT = 4280
STATE_FILE, LOCK_FILE, LOG_FILE = "server.json", "server.lock", "server.log"
# The first start creates the database and registers Prefect's block types: tens of seconds on a
# loaded 2-core machine.
STARTUP_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 20.0
HEALTH_TIMEOUT_SECONDS = 2.0
POLL_SECONDS = 0.1
# What a Prefect API server's command line holds (the uvicorn factory Prefect's own CLI starts).
SERVER_APP = "prefect.server.api.server:create_app"
# Loopback needs no proxy, whatever the shell's http_proxy says.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_SPAWNED: list[subprocess.Popen] = []


class PrefectServerUnavailable(SetupError):
    """The local Prefect server did not start (its log says why)."""


class ServerExited(PrefectServerUnavailable):
    """The server process ended before it answered (e.g. its port was taken meanwhile)."""


@dataclass(frozen=True)
class WarmServer:
    """A running local Prefect server: its pid, where it answers, and whether this call started it."""

    pid: int
    url: str
    home: Path
    started: bool = False

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"


def running(home: Path = DEFAULT_HOME) -> WarmServer | None:
    """The server of `home` when it runs and answers its health endpoint, else None."""
    state = _read_state(home)
    if state is None or not serves(state["pid"], home) or not healthy(state["url"]):
        return None
    return WarmServer(pid=state["pid"], url=state["url"], home=home)


def ensure(home: Path = DEFAULT_HOME, *, timeout: float = STARTUP_TIMEOUT_SECONDS) -> WarmServer:
    """The server of `home`: the running one, else one started now (waiting until it answers)."""
    home.mkdir(parents=True, exist_ok=True)
    with _locked(home):
        state = _read_state(home)
        if state is not None and serves(state["pid"], home):
            # Running, perhaps still starting (a run killed while it waited): wait for it.
            _wait_healthy(state["pid"], state["url"], home, timeout)
            return WarmServer(pid=state["pid"], url=state["url"], home=home)
        preferred = state["port"] if state is not None else DEFAULT_PORT
        port = preferred if port_free(preferred) else free_port()
        try:
            return _start(home, port, timeout)
        except ServerExited:
            # A port found free can be taken before the server binds it: once more, on another.
            return _start(home, free_port(), timeout)


def stop(home: Path = DEFAULT_HOME) -> StopOutcome:
    """Stop the server of `home` (found by its home, never by a pid alone) if it runs, and only it."""
    pid = server_of(home)
    (home / STATE_FILE).unlink(missing_ok=True)
    if pid is None:
        return StopOutcome(False, f"no Prefect server running in {home}")
    try:
        server = psutil.Process(pid)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=STOP_TIMEOUT_SECONDS)
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        server.kill()
        server.wait(timeout=STOP_TIMEOUT_SECONDS)
    return StopOutcome(True, f"stopped the Prefect server in {home} (pid {pid})")


def server_of(home: Path) -> int | None:
    """The pid of the Prefect server whose home is `home`: the recorded one, else any found."""
    state = _read_state(home)
    if state is not None and serves(state["pid"], home):
        return state["pid"]
    for process in psutil.process_iter():
        if serves(process.pid, home):
            return process.pid
    return None


def healthy(url: str) -> bool:
    """Whether a Prefect API answers at `url` (its `/api/health`)."""
    try:
        with _DIRECT.open(f"{url}/api/health", timeout=HEALTH_TIMEOUT_SECONDS) as response:
            return response.status == 200
    except OSError:  # refused, reset, timed out, or an HTTP error status
        return False


def port_free(port: int) -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def server_command(port: int) -> list[str]:
    """The command Prefect's own `prefect server start --background` runs, on loopback."""
    spec = importlib.util.find_spec("prefect")
    if spec is None or spec.origin is None:
        raise PrefectServerUnavailable("prefect is not installed: pip install -e . first")
    app_dir = str(Path(spec.origin).parent.parent)
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        app_dir,
        "--factory",
        SERVER_APP,
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--lifespan",
        "on",
    ]


def server_environment(home: Path, port: int) -> dict[str, str]:
    """The caller's environment without any `PREFECT_*` variable, plus the server's own settings."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    url = f"http://{HOST}:{port}"
    environment.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_API_HOST": HOST,
            "PREFECT_SERVER_API_PORT": str(port),
            "PREFECT_UI_API_URL": f"{url}/api",
            "PREFECT_SERVER_UI_ENABLED": "true",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT__SERVER_FINAL": "1",
        }
    )
    return environment


def _start(home: Path, port: int, timeout: float) -> WarmServer:
    url = f"http://{HOST}:{port}"
    pid = _spawn(home, port)
    _write_state(home, {"pid": pid, "port": port, "url": url})
    _wait_healthy(pid, url, home, timeout)
    return WarmServer(pid=pid, url=url, home=home, started=True)


def _spawn(home: Path, port: int) -> int:
    with open(home / LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            server_command(port),
            cwd=home,
            env=server_environment(home, port),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: a terminal's Ctrl-C to the run's process group never reaches it.
            start_new_session=True,
        )
    # The server outlives this process by design: nothing here waits for it, and the handle is kept
    # so that dropping it does not warn that the server is still running.
    _SPAWNED.append(process)
    return process.pid


def _wait_healthy(pid: int, url: str, home: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not healthy(url):
        if not _alive(pid):
            raise PrefectServerUnavailable(f"the local Prefect server exited while starting: see {home / LOG_FILE}")
        if time.monotonic() > deadline:
            raise PrefectServerUnavailable(
                f"the local Prefect server (pid {pid}) did not answer at {url} within {timeout:.0f}s: "
                f"see {home / LOG_FILE}"
            )
        time.sleep(POLL_SECONDS)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def serves(pid: int, home: Path) -> bool:
    """Whether `pid` is a Prefect API server whose PREFECT_HOME is `home`."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE or SERVER_APP not in process.cmdline():
            return False
        server_home = process.environ().get("PREFECT_HOME")
    except (psutil.Error, OSError):
        return False
    return server_home is not None and Path(server_home).resolve() == home.resolve()


def _read_state(home: Path) -> dict | None:
    try:
        state = json.loads((home / STATE_FILE).read_text())
        return {"pid": int(state["pid"]), "port": int(state["port"]), "url": str(state["url"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_state(home: Path, state: dict) -> None:
    partial = home / f"{STATE_FILE}.tmp"
    partial.write_text(json.dumps(state))
    partial.replace(home / STATE_FILE)


@contextmanager
def _locked(home: Path) -> Iterator[None]:
    with open(home / LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
