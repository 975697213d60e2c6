"""What the earlier attempts of a retried task run reported, kept in the process that retries it.

Prefect retries a task run in the process of the attempt before it. A module of its own (not
globals of the task's module) so that the task function stays picklable by reference for Dask.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
# One small entry is left behind per task run that fails for good; a process runs a bounded number.
_earlier: dict[str, Any] = {}


def take_earlier(task_run_id: str) -> Any | None:  # noqa: ANN401 - whatever the task remembered
    """The report the previous attempt of this task run left, if any (and forget it)."""
    with _lock:
        return _earlier.pop(task_run_id, None)


def remember(task_run_id: str, report: Any) -> None:  # noqa: ANN401
    """Keep this attempt's report for the next attempt of the same task run."""
    with _lock:
        _earlier[task_run_id] = report
