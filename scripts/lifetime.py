"""A command-line run's lifetime: the Prefect API it talks to, and SIGINT/SIGTERM ending it promptly.

`run_flow(flow, parameters)` is how every front calls its flow:

- **Prefect's API is the warm local server** (`scripts.prefect_server`), unless one is configured
  (`PREFECT_API_URL` in the environment, a Prefect profile or `prefect.toml`): the first run starts
  it in the background, in its own session, and later runs reuse it, so a run pays for no server
  start and the UI shows every local run. It is the one process a run leaves running, on purpose;
  `python -m store stop` stops it. The run points Prefect at it for the rest of the process
  (`use_prefect_api`).
- **A signal ends the run at once.** The flow runs in a worker thread and the main thread only waits,
  holding the SIGINT and SIGTERM handlers (Prefect's engine cannot install its own SIGTERM bridge
  outside the main thread). Unwinding the flow is not an option: Prefect reports a crash only after
  its task runner has joined every task thread, and a fetch in flight can take minutes. So on a
  signal the main thread marks the flow run (and its unfinished task runs) Cancelled, prints one
  `interrupted: …` line and leaves with `os._exit(128 + signal)`. Symbol-days in flight need
  nothing: each is one transaction, and PostgreSQL rolls back a transaction whose connection closes
  with the process. The warm server, in a session of its own, sees neither the terminal's Ctrl-C nor
  the run's end.
"""

from __future__ import annotations

import contextvars
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn
from uuid import UUID

from prefect.context import refresh_global_settings_context
from prefect.settings import PREFECT_API_URL

from scripts import prefect_server
from settings.environment import read_environment

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.states import State

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How long reporting the interrupted run may take before the process leaves anyway.
REPORT_TIMEOUT_SECONDS = 15.0
# How long task-run states keep arriving after the flow run is marked, and how often to look.
SETTLE_SECONDS = 1.5
SETTLE_POLL_SECONDS = 0.25
SIGNAL_CHECK_SECONDS = 0.1

logger = logging.getLogger("kapman.cli")


class Interrupted(BaseException):
    """SIGINT or SIGTERM reached the main thread while a flow ran."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def run_flow(flow: Flow, parameters: Mapping[str, object]) -> State:
    """Run `flow(**parameters)` to its final state; on SIGINT/SIGTERM, end the process (see module doc)."""
    use_prefect_api()
    return _run(flow, parameters)


def _run(flow: Flow, parameters: Mapping[str, object]) -> State:
    outcome: list[Any] = []

    def call() -> None:
        try:
            outcome.append(flow(**parameters, return_state=True))
        except BaseException as exc:  # re-raised in the main thread
            outcome.append(exc)

    # The flow runs in a context of its own, which the main thread can read: the engine sets the
    # flow run's context there, and that names the flow run to report if a signal comes.
    context = contextvars.copy_context()
    runner = threading.Thread(target=context.run, args=(call,), name=f"flow-{flow.name}", daemon=True)
    with _signals_raise_interrupted():
        try:
            runner.start()
            # In short waits: the kernel may hand a signal to any thread, and then only the main
            # thread's return to Python runs the handler; a join without a timeout would not return.
            while runner.is_alive():
                runner.join(SIGNAL_CHECK_SECONDS)
        except Interrupted as interrupted:
            _end_interrupted(interrupted, _flow_run_id(context))
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def use_prefect_api() -> str:
    """Point Prefect at its API for the rest of this process: the configured one, else the warm
    local server (started if it is not running). Returns the API URL.

    The warm server's URL goes into this process's environment (so the processes a run starts, Dask
    workers included, inherit it) and into Prefect's process-wide settings, which every thread sees,
    also the threads Prefect starts without copying its context (a thread that saw no API URL would
    start a temporary server of its own). It stays for the rest of the process: Prefect's log and
    event workers still send after the flow returns, up to the process's exit."""
    configured = PREFECT_API_URL.value()
    if configured:
        return configured
    server = prefect_server.ensure(read_environment().prefect_home or prefect_server.DEFAULT_HOME)
    if server.started:
        logger.info(
            "started the local Prefect server in the background (UI: %s; stop it with `python -m store stop`)",
            server.url,
        )
    os.environ["PREFECT_API_URL"] = server.api_url
    refresh_global_settings_context()
    return server.api_url


def _flow_run_id(context: contextvars.Context) -> UUID | None:
    """The flow run under way in `context`, if one is."""
    from prefect.context import FlowRunContext

    flow_run_context = context.get(FlowRunContext.__var__)
    flow_run = getattr(flow_run_context, "flow_run", None)
    return flow_run.id if flow_run is not None else None


@contextmanager
def _signals_raise_interrupted() -> Iterator[None]:
    def interrupt(signum: int, _frame: FrameType | None) -> NoReturn:
        raise Interrupted(signum)

    previous = {signum: signal.signal(signum, interrupt) for signum in HANDLED_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _end_interrupted(interrupted: Interrupted, flow_run_id: UUID | None) -> NoReturn:
    """Report the run as cancelled, print one line, and leave."""
    # The line below is all a user reads of the stop (Prefect's INFO lines would bury it).
    logging.disable(logging.INFO)
    for signum in HANDLED_SIGNALS:
        # A second signal while we report: leave at once.
        signal.signal(signum, lambda _signum, _frame: os._exit(interrupted.exit_code))
    name = signal.Signals(interrupted.signum).name
    message = f"interrupted by {name}: symbol-days in flight were rolled back; re-run the command to complete them"
    reported = _report_cancelled(flow_run_id, message) if flow_run_id is not None else "flow run not started"
    sys.stdout.flush()
    print(f"interrupted: {name}, {reported}; symbol-days in flight were rolled back", file=sys.stderr, flush=True)
    os._exit(interrupted.exit_code)


def _report_cancelled(flow_run_id: UUID, message: str) -> str:
    """Mark the flow run and its unfinished task runs Cancelled, within REPORT_TIMEOUT_SECONDS."""
    outcome = [f"flow run {flow_run_id} could not be marked cancelled within {REPORT_TIMEOUT_SECONDS:.0f}s"]

    def report() -> None:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
        from prefect.states import Cancelled

        try:
            with get_client(sync_client=True) as client:
                client.set_flow_run_state(flow_run_id, Cancelled(message=message), force=True)
                # Task run states reach the server as events, recorded a moment later: a task run
                # may appear (Running) after a first look. Look again until a look finds nothing
                # left to cancel at least SETTLE_SECONDS after the first (within the report's bound).
                first_look = time.monotonic()
                while True:
                    task_runs = client.read_task_runs(
                        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
                    )
                    unfinished = [run for run in task_runs if run.state is None or not run.state.is_final()]
                    for task_run in unfinished:
                        client.set_task_run_state(task_run.id, Cancelled(message=message), force=True)
                    if not unfinished and time.monotonic() - first_look >= SETTLE_SECONDS:
                        break
                    time.sleep(SETTLE_POLL_SECONDS)
        except Exception as exc:  # the one line says so; nothing else to do on the way out
            outcome[0] = f"flow run {flow_run_id} could not be marked cancelled: {type(exc).__name__}"
        else:
            outcome[0] = f"flow run {flow_run_id} marked Cancelled"

    reporter = threading.Thread(target=report, name="report-interrupted", daemon=True)
    reporter.start()
    reporter.join(REPORT_TIMEOUT_SECONDS)
    return outcome[0]
