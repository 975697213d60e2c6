"""The loopback Massive fake with faults it cannot play by itself: connections reset by the peer
(before any answer, or halfway through the body) and rows no honest source would send.

A reset is a real TCP RST (SO_LINGER 0, then close), exactly what a proxy or a flaky network does.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.massive import ChainSpec, FakeMassive, RecordedRequest, _Handler


@dataclass
class Reset:
    """Reset requests whose path starts with `path_prefix`, after letting `after` of them through."""

    path_prefix: str
    after: int = 0
    times: int | None = 1
    mid_body: bool = False


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that timed out, or a socket we reset on purpose: nothing worth a traceback."""


class FaultyMassive(FakeMassive):
    """`FakeMassive` plus `add_reset` and `hostile_rows` (extra raw rows appended to a snapshot)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._resets: list[Reset] = []
        self._reset_lock = threading.Lock()
        self.hostile_rows: dict[str, Callable[[ChainSpec], list[dict[str, Any]]]] = {}
        self.hostile_history_rows: dict[str, Callable[[str, date], list[dict[str, Any]]]] = {}

    def start(self) -> None:
        server = _QuietServer(("127.0.0.1", 0), _Handler)
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="faulty-massive", daemon=True
        )
        self._thread.start()

    def add_reset(self, path_prefix: str, *, after: int = 0, times: int | None = 1, mid_body: bool = False) -> None:
        with self._reset_lock:
            self._resets.append(Reset(path_prefix, after, times, mid_body))

    def _take_reset(self, path: str) -> Reset | None:
        with self._reset_lock:
            for rule in self._resets:
                if not path.startswith(rule.path_prefix) or rule.times == 0:
                    continue
                if rule.after > 0:
                    rule.after -= 1
                    return None
                if rule.times is not None:
                    rule.times -= 1
                return rule
        return None

    def handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        rule = self._take_reset(unquote(split.path))
        if rule is None:
            super().handle(handler)
            return
        record = RecordedRequest(
            method=handler.command,
            path=unquote(split.path),
            query=parse_qs(split.query, keep_blank_values=True),
            headers=dict(handler.headers.items()),
            received_at=time.monotonic(),
            raw_path=handler.path,
            status=0,  # no HTTP status: the connection was reset
        )
        with self._lock:
            self._log.append(record)
        if rule.mid_body:
            status, body, _, _ = self._answer(record)
            payload = json.dumps(body).encode()
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload[: len(payload) // 2])
        handler.close_connection = True
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()

    def _snapshot_rows(self, spec: ChainSpec) -> list[dict[str, Any]]:
        rows = super()._snapshot_rows(spec)
        extra = self.hostile_rows.get(spec.symbol)
        return rows + extra(spec) if extra else rows

    def _history_rows(self, kind: str, filters: Any, session: date) -> list[dict[str, Any]]:
        rows = super()._history_rows(kind, filters, session)
        extra = self.hostile_history_rows.get(kind)
        return rows + extra(filters.get("underlying_ticker") or filters.get("root") or "", session) if extra else rows
