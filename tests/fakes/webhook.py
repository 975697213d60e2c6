"""A loopback webhook receiver: what a notification block (e.g. Prefect's custom-webhook) posts."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackServer


class WebhookReceiver(LoopbackServer):
    """Records every POSTed JSON body; `wait_for(predicate)` blocks until one matches (or times out)."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Any] = []
        self._arrived = threading.Condition()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        try:
            payload: Any = json.loads(body) if body else None
        except ValueError:
            payload = body.decode("utf-8", "replace")
        with self._arrived:
            self.received.append(payload)
            self._arrived.notify_all()
        handler.send_response(204)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def wait_for(self, predicate, *, timeout: float) -> Any:  # noqa: ANN001 - a callable on one payload
        """The first payload `predicate` accepts, waiting up to `timeout` seconds for it to arrive."""
        with self._arrived:
            found = self._arrived.wait_for(lambda: next(filter(predicate, self.received), None), timeout=timeout)
        if found is None:
            raise TimeoutError(f"no matching webhook call within {timeout:.0f}s; received {self.received!r}")
        return found
