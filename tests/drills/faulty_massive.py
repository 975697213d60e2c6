"""The loopback Massive fake with faults it cannot play by itself: connections reset by the peer
(before any answer, or halfway through the body), rows no honest source would send, and hostile
servers: an answer dripped a byte at a time (headers too, if asked), a gzip bomb, an endless body.
`LoopbackRecorder` is a second server (an "attacker") that records whatever reaches it.

A reset is a real TCP RST (SO_LINGER 0, then close), exactly what a proxy or a flaky network does.
Each hostile answer is measured by the server itself (`Streamed`: when it started, when the client
hung up, how many bytes it managed to send), so a drill asserts on what crossed the wire.
"""

from __future__ import annotations

import functools
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.loopback import LoopbackHandler as _Handler
from tests.fakes.massive import ChainSpec, FakeMassive, RecordedRequest


@dataclass
class Reset:
    """Reset requests whose path starts with `path_prefix`, after letting `after` of them through."""

    path_prefix: str
    after: int = 0
    times: int | None = 1
    mid_body: bool = False


@dataclass
class Hostile:
    """How to answer requests whose path starts with `path_prefix` (`times` None: forever).

    kind "drip": `body` one byte every `interval` seconds (the status line and headers too when
    `drip_headers`); "gzip-bomb": valid JSON of `inflated_bytes` sent gzip-compressed (declared with
    its compressed length); "endless": chunked transfer encoding, `chunk` after `chunk` until the
    client hangs up (or, so that a client without a cap cannot take the machine down with it, until
    `inflated_bytes` were sent).
    """

    path_prefix: str
    kind: str
    body: bytes = b""
    interval: float = 0.1
    drip_headers: bool = False
    inflated_bytes: int = 0
    chunk: bytes = b""
    times: int | None = 1


@dataclass
class Streamed:
    """One hostile answer as the server saw it."""

    kind: str
    started: float
    ended: float | None = None
    bytes_sent: int = 0
    # True: everything was sent; False: the client hung up first.
    completed: bool = False


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that timed out, or a socket we reset on purpose: nothing worth a traceback."""


class FaultyMassive(FakeMassive):
    """`FakeMassive` plus `add_reset` and `hostile_rows` (extra raw rows appended to a snapshot)."""

    server_class = _QuietServer

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._resets: list[Reset] = []
        self._reset_lock = threading.Lock()
        self.hostile_rows: dict[str, Callable[[ChainSpec], list[dict[str, Any]]]] = {}
        self.hostile_history_rows: dict[str, Callable[[str, date], list[dict[str, Any]]]] = {}
        self._hostile: list[Hostile] = []
        self.streamed: list[Streamed] = []
        self._streamed_changed = threading.Condition(self._reset_lock)

    def add_reset(self, path_prefix: str, *, after: int = 0, times: int | None = 1, mid_body: bool = False) -> None:
        with self._reset_lock:
            self._resets.append(Reset(path_prefix, after, times, mid_body))

    def add_hostile(self, answer: Hostile) -> Hostile:
        with self._reset_lock:
            self._hostile.append(answer)
        return answer

    def wait_streamed_ended(self, count: int, timeout: float = 30.0) -> list[Streamed]:
        """The first `count` hostile answers, once the server has seen each of them end."""

        def ended() -> bool:
            return len(self.streamed) >= count and all(item.ended is not None for item in self.streamed[:count])

        with self._streamed_changed:
            if not self._streamed_changed.wait_for(ended, timeout=timeout):
                raise AssertionError(f"the server saw {self.streamed} within {timeout}s, expected {count} ended")
            return list(self.streamed[:count])

    def _take_hostile(self, path: str) -> Hostile | None:
        with self._reset_lock:
            for answer in self._hostile:
                if path.startswith(answer.path_prefix) and answer.times != 0:
                    if answer.times is not None:
                        answer.times -= 1
                    return answer
        return None

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
        hostile = self._take_hostile(unquote(split.path))
        if hostile is not None:
            self._record(handler, status=200)
            self._stream_hostile(handler, hostile)
            return
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

    def _record(self, handler: _Handler, status: int) -> None:
        split = urlsplit(handler.path)
        record = RecordedRequest(
            method=handler.command,
            path=unquote(split.path),
            query=parse_qs(split.query, keep_blank_values=True),
            headers=dict(handler.headers.items()),
            received_at=time.monotonic(),
            raw_path=handler.path,
            status=status,
        )
        with self._lock:
            self._log.append(record)

    def _stream_hostile(self, handler: _Handler, answer: Hostile) -> None:
        streamed = Streamed(answer.kind, started=time.monotonic())
        with self._streamed_changed:
            self.streamed.append(streamed)
        handler.close_connection = True
        try:
            for piece in self._hostile_pieces(answer):
                handler.wfile.write(piece)
                handler.wfile.flush()
                streamed.bytes_sent += len(piece)
            streamed.completed = True
        except OSError:
            pass  # the client hung up: that is what the drill measures
        finally:
            with self._streamed_changed:
                streamed.ended = time.monotonic()
                self._streamed_changed.notify_all()

    def _hostile_pieces(self, answer: Hostile) -> Iterator[bytes]:
        if answer.kind == "drip":
            head = _head(200, {"Content-Type": "application/json", "Content-Length": str(len(answer.body))})
            dripped = answer.body
            if answer.drip_headers:
                dripped = head + answer.body
            else:
                yield head
            for index in range(len(dripped)):
                time.sleep(answer.interval)  # the server's pace, not the test's synchronisation
                yield dripped[index : index + 1]
        elif answer.kind == "gzip-bomb":
            compressed = gzip_bomb(answer.inflated_bytes)
            headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
            yield _head(200, {**headers, "Content-Length": str(len(compressed))})
            yield compressed
        elif answer.kind == "endless":
            yield _head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
            framed = f"{len(answer.chunk):x}\r\n".encode() + answer.chunk + b"\r\n"
            for _ in range(answer.inflated_bytes // len(answer.chunk)):
                yield framed
            yield b"0\r\n\r\n"
        else:
            raise ValueError(f"unknown hostile answer {answer.kind!r}")

    def _snapshot_rows(self, spec: ChainSpec) -> list[dict[str, Any]]:
        rows = super()._snapshot_rows(spec)
        extra = self.hostile_rows.get(spec.symbol)
        return rows + extra(spec) if extra else rows

    def _history_rows(self, kind: str, filters: Any, session: date) -> list[dict[str, Any]]:
        rows = super()._history_rows(kind, filters, session)
        extra = self.hostile_history_rows.get(kind)
        return rows + extra(filters.get("underlying_ticker") or filters.get("root") or "", session) if extra else rows


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} OK", *(f"{name}: {value}" for name, value in headers.items()), "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@functools.cache
def gzip_bomb(inflated_bytes: int) -> bytes:
    """Valid JSON of `inflated_bytes` bytes (`{"results": [], "pad": "000..."}`), gzip-compressed
    piece by piece (never held whole): about a thousandth of its size on the wire."""
    prefix, suffix = b'{"status": "OK", "results": [], "pad": "', b'"}'
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    pieces = [compressor.compress(prefix)]
    remaining = inflated_bytes - len(prefix) - len(suffix)
    block = b"0" * (1024 * 1024)
    while remaining > 0:
        pieces.append(compressor.compress(block[: min(remaining, len(block))]))
        remaining -= len(block)
    pieces.append(compressor.compress(suffix))
    pieces.append(compressor.flush())
    return b"".join(pieces)


class LoopbackRecorder:
    """A second loopback server (the "attacker" of a drill): records every request, answers 200 {}."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                split = urlsplit(self.path)
                with recorder._lock:
                    recorder.requests.append(
                        RecordedRequest(
                            method="GET",
                            path=unquote(split.path),
                            query=parse_qs(split.query, keep_blank_values=True),
                            headers=dict(self.headers.items()),
                            received_at=time.monotonic(),
                            raw_path=self.path,
                            status=200,
                        )
                    )
                payload = b'{"status": "OK", "results": []}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="loopback-recorder", daemon=True
        )

    def __enter__(self) -> LoopbackRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        return self._server.server_address[1]
