"""Open a run once, even when a front opens it before its flow starts.

A command-line front opens the run before it starts Prefect, so that a bad setup (unreachable
database, empty watchlist, missing key) is one line and costs no server start-up. The flow it then
calls in the same process adopts that opened run instead of opening it again: migrations, provider
build and ledger reads happen once per run. A flow started any other way (a deployment, the UI, a
test) opens its run itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Request = TypeVar("Request", bound=Hashable)
Opened = TypeVar("Opened")


class OpenOnce(Generic[Request, Opened]):
    """`open(request)`: the run a front `preopen`ed for this very request, else a newly opened one."""

    def __init__(self, opener: Callable[[Request], Opened]) -> None:
        self._opener = opener
        self._waiting: dict[Request, Opened] = {}
        self._lock = threading.Lock()

    def preopen(self, request: Request) -> Opened:
        opened = self._opener(request)
        with self._lock:
            # One front, one run: nothing older is ever adopted.
            self._waiting = {request: opened}
        return opened

    def open(self, request: Request) -> Opened:
        with self._lock:
            adopted = self._waiting.pop(request, None)
        return adopted if adopted is not None else self._opener(request)
