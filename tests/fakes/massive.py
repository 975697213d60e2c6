"""A loopback fake of the Massive (Polygon) REST API, for provider tests without internet.

It serves the documented shapes (fact sheet /work/shared/providers/massive-api.md):
- `GET /v3/snapshot/options/{asset}`: the chain snapshot, `limit` (default 10, max 250) and
  `next_url` + opaque `cursor` pagination; index chains answer only under `I:SPX`-style assets.
- `GET /options/v1/analytics` and `GET /options/v1/open-interest`: daily history per
  (underlying or root, date), values that change day to day (deterministically), paginated; a
  `date.gte`/`date.lte` range instead of one `date` answers every session of the range, ordered by
  date (or, with `range_filter="ignored"`, acts as if the range were not there).
- `GET /v1/open-close/{asset}/{date}`: the underlying's daily bar.
- `GET /v2/aggs/ticker/{asset}/range/1/day/{from}/{to}`: daily bars keyed by New York midnight.

It requires `Authorization: Bearer <key>` (401 otherwise), records every request, can enforce a
requests-per-window budget (429 beyond it) and plays scripted faults.

Usage:
    with FakeMassive() as fake:
        fake.add_chain(ChainSpec("AAPL", contracts=600))
        fake.add_fault("/v3/snapshot", status=503, times=2)        # 2 failures, then normal answers
        fake.add_fault("/v3/snapshot", status=429, headers={"Retry-After": "2"})
        fake.add_fault("/options/v1/analytics", status=403)          # NOT_AUTHORIZED body
        fake.add_fault("/v3/snapshot", delay=1.0)                    # slow, then the normal answer
        fake.add_fault("/v3/snapshot", truncate=True)                # normal answer cut in half
        fake.enforce_rate_limit(10, per_seconds=1.0, retry_after="1")
        ... fake.base_url ...
        fake.requests_to("/v3/snapshot")  # [RecordedRequest(method, path, query, headers, ...)]

The model values are independent of the production code (tickers are formatted here, not with
markets.occ) so a test compares the provider's output with what the fake meant to say.
"""

from __future__ import annotations

import base64
import json
import math
import socket
import threading
import time
import zlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.loopback import LoopbackServer

DEFAULT_API_KEY = "fake-massive-key-7c41e9b2d5"
FIRST_EXPIRATION = date(2026, 1, 2)
STRIKES_PER_EXPIRATION = 25
HISTORY_EPOCH = date(2025, 12, 1)
SNAPSHOT_DEFAULT_LIMIT = 10
SNAPSHOT_MAX_LIMIT = 250
HISTORY_DEFAULT_LIMIT = 1000

NOT_AUTHORIZED_MESSAGE = "You are not entitled to this data. Please upgrade your plan at https://massive.com/pricing"
RATE_LIMIT_MESSAGE = (
    "You've exceeded the maximum requests per minute, please wait or upgrade your subscription to continue."
)


@dataclass
class RecordedRequest:
    """One request as the fake received it (headers complete, Authorization included)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    # time.monotonic() when the request line arrived (same clock as the test process).
    received_at: float
    raw_path: str
    status: int | None = None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Fault:
    """A scripted answer for requests whose path starts with `path_prefix`.

    `status` None answers normally (after `delay`, cut in half when `truncate`); `times` None
    repeats forever.
    """

    path_prefix: str
    status: int | None = None
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    truncate: bool = False
    times: int | None = 1


@dataclass(frozen=True)
class ChainSpec:
    """One underlying's listed contracts and how its snapshot misbehaves."""

    symbol: str
    contracts: int = 30
    underlying_price: float = 100.0
    # Index chains answer under `I:{symbol}` and carry `underlying_asset.value`, not `price`.
    index: bool = False
    # Other OCC roots listed under this underlying (SPXW under SPX); expirations alternate roots.
    extra_roots: tuple[str, ...] = ()
    # Every n-th contract (n > 0) has no greeks/IV in the snapshot and null greeks in analytics.
    greekless_every: int = 0
    # Indices of contracts served a second time, at the end of the snapshot (on a later page).
    duplicates: tuple[int, ...] = ()
    # Extra snapshot rows with contract_type "other", and rows with no `details` at all.
    other_type_rows: int = 0
    rows_without_identity: int = 0
    # The second snapshot page's next_url repeats its own cursor.
    loop_next_url: bool = False
    # next_url carries `&apiKey=<key>` (what a client must strip).
    api_key_in_next_url: bool = False

    @property
    def asset(self) -> str:
        return f"I:{self.symbol}" if self.index else self.symbol


@dataclass(frozen=True)
class FakeContract:
    ticker: str
    root: str
    expiration_date: date
    option_type: str
    strike_price: Decimal
    position: int


class FakeMassive(LoopbackServer):
    """The fake server; a context manager that runs it on 127.0.0.1 in a background thread."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        published_through: date = date(2025, 12, 22),
        open_interest_published_through: date | None = None,
        unpublished: str = "empty",
        history_page_cap: int = 50_000,
        analytics_omit: tuple[str, ...] = (),
        open_interest_omit: tuple[str, ...] = (),
        range_filter: str = "honoured",
        missing_from_ranges: tuple[date, ...] = (),
    ) -> None:
        super().__init__()
        if unpublished not in ("empty", "404"):
            raise ValueError("unpublished must be 'empty' or '404'")
        self.api_key = api_key
        self.published_through = published_through
        self.open_interest_published_through = open_interest_published_through or published_through
        self.unpublished = unpublished
        self.history_page_cap = history_page_cap
        self.analytics_omit = frozenset(analytics_omit)
        self.open_interest_omit = frozenset(open_interest_omit)
        if range_filter not in ("honoured", "ignored"):
            raise ValueError("range_filter must be 'honoured' or 'ignored'")
        # "ignored": a date range is read as no date filter at all, answering the latest published
        # session (what an API that does not know the parameter names would do).
        self.range_filter = range_filter
        # Sessions a range answer leaves out (a single-date request still serves them).
        self.missing_from_ranges = frozenset(missing_from_ranges)
        self.chains: dict[str, ChainSpec] = {}
        self.rate_limited = 0
        self._faults: list[Fault] = []
        self._log: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._rate_limit: tuple[int, float, str | None] | None = None
        self._accepted: deque[float] = deque()
        self._request_ids = 0

    # ---- configuration ----

    def add_chain(self, spec: ChainSpec) -> ChainSpec:
        self.chains[spec.symbol] = spec
        return spec

    def add_fault(
        self,
        path_prefix: str,
        status: int | None = None,
        *,
        times: int | None = 1,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        truncate: bool = False,
    ) -> Fault:
        fault = Fault(path_prefix, status, body, dict(headers or {}), delay, truncate, times)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def enforce_rate_limit(self, max_requests: int, per_seconds: float, *, retry_after: str | None = None) -> None:
        """Answer 429 to a request when `max_requests` were already accepted in the last `per_seconds`."""
        with self._lock:
            self._rate_limit = (max_requests, per_seconds, retry_after)
            self._accepted.clear()

    # ---- the request log ----

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    def requests_to(self, path_prefix: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path.startswith(path_prefix)]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def max_requests_in_window(self, seconds: float) -> int:
        """The most requests received within any `seconds`-long window (sliding)."""
        times = sorted(request.received_at for request in self.requests)
        best = start = 0
        for end, stamp in enumerate(times):
            while stamp - times[start] >= seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    # ---- the model (what the fake means to say) ----

    def contracts(self, symbol: str) -> list[FakeContract]:
        spec = self.chains[symbol]
        roots = (spec.symbol, *spec.extra_roots)
        listed = []
        for position in range(spec.contracts):
            expiration_index = position // (2 * STRIKES_PER_EXPIRATION)
            option_type = "C" if position % 2 == 0 else "P"
            expiration = FIRST_EXPIRATION + timedelta(weeks=expiration_index)
            root = roots[expiration_index % len(roots)]
            step = (position // 2) % STRIKES_PER_EXPIRATION
            strike = Decimal(round(spec.underlying_price * 0.8)) + Decimal("2.5") * step
            ticker = f"O:{root}{expiration:%y%m%d}{option_type}{int(strike * 1000):08d}"
            listed.append(FakeContract(ticker, root, expiration, option_type, strike, position))
        return listed

    def is_greekless(self, symbol: str, contract: FakeContract) -> bool:
        every = self.chains[symbol].greekless_every
        return every > 0 and contract.position % every == 0

    def snapshot_values(self, symbol: str, contract: FakeContract) -> dict[str, Any]:
        spec = self.chains[symbol]
        return _values(contract, spec.underlying_price, day_offset=0)

    def history_values(self, symbol: str, contract: FakeContract, session: date) -> dict[str, Any]:
        """The analytics and open-interest values for one contract and session."""
        spec = self.chains[symbol]
        offset = (session - HISTORY_EPOCH).days
        values = _values(contract, spec.underlying_price + 0.5 * offset, day_offset=offset)
        if self.is_greekless(symbol, contract):
            values.update(implied_volatility=None, delta=None, gamma=None, theta=None, vega=None, rho=None)
        return values

    def analytics_underlying_price(self, symbol: str, session: date) -> float:
        return round(self.chains[symbol].underlying_price + 0.5 * (session - HISTORY_EPOCH).days, 4)

    def session_close(self, symbol: str, session: date) -> float:
        """The /v1/open-close close: deliberately not the analytics' 15:45 price."""
        return round(self.analytics_underlying_price(symbol, session) + 0.25, 4)

    # ---- request handling (called from server threads) ----

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        record = RecordedRequest(
            method=handler.command,
            path=unquote(split.path),
            query=parse_qs(split.query, keep_blank_values=True),
            headers=dict(handler.headers.items()),
            received_at=time.monotonic(),
            raw_path=handler.path,
        )
        with self._lock:
            self._log.append(record)
        status, body, headers, truncate = self._answer(record)
        record.status = status
        payload = json.dumps(body).encode() if not isinstance(body, bytes) else body
        if truncate:
            payload = payload[: max(1, len(payload) // 2)]
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)

    def _answer(self, record: RecordedRequest) -> tuple[int, Any, dict[str, str], bool]:
        if record.method != "GET":
            return 405, self._error_body("ERROR", "error", "method not allowed"), {}, False
        authorization = record.headers.get("Authorization")
        if authorization is None:
            return 401, self._error_body("ERROR", "error", "API Key was not provided"), {}, False
        if authorization != f"Bearer {self.api_key}":
            return 401, self._error_body("ERROR", "error", "Unknown API Key"), {}, False
        limited = self._rate_limit_answer(record.received_at)
        if limited is not None:
            return limited
        fault = self._take_fault(record.path)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                body = fault.body if fault.body is not None else self._default_body(fault.status)
                return fault.status, body, dict(fault.headers), fault.truncate
        status, body = self._route(record)
        return status, body, dict(fault.headers) if fault else {}, bool(fault and fault.truncate)

    def _rate_limit_answer(self, now: float) -> tuple[int, Any, dict[str, str], bool] | None:
        with self._lock:
            if self._rate_limit is None:
                return None
            max_requests, per_seconds, retry_after = self._rate_limit
            while self._accepted and now - self._accepted[0] >= per_seconds:
                self._accepted.popleft()
            if len(self._accepted) < max_requests:
                self._accepted.append(now)
                return None
            self.rate_limited += 1
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return 429, self._error_body("ERROR", "error", RATE_LIMIT_MESSAGE), headers, False

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path_prefix) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _route(self, record: RecordedRequest) -> tuple[int, Any]:
        parts = record.path.strip("/").split("/")
        if record.path.startswith("/v3/snapshot/options/") and len(parts) == 4:
            return self._snapshot(record, parts[3])
        if record.path == "/options/v1/analytics":
            return self._history(record, "analytics")
        if record.path == "/options/v1/open-interest":
            return self._history(record, "open-interest")
        if record.path.startswith("/v1/open-close/") and len(parts) == 4:
            return self._open_close(parts[2], parts[3])
        if record.path.startswith("/v2/aggs/ticker/") and len(parts) == 9 and parts[4:7] == ["range", "1", "day"]:
            return self._aggregates(parts[3], parts[7], parts[8])
        return 404, self._error_body("NOT_FOUND", "message", "Not found")

    # ---- endpoints ----

    def _snapshot(self, record: RecordedRequest, asset: str) -> tuple[int, Any]:
        spec = next((spec for spec in self.chains.values() if spec.asset == asset), None)
        if spec is None:
            return 404, self._error_body("NOT_FOUND", "message", f"Ticker not found: {asset}")
        cursor = record.param("cursor")
        if cursor is not None:
            extra = sorted(name for name in record.query if name not in ("cursor", "apiKey"))
            if extra:
                return 400, self._error_body("ERROR", "error", f"cursor requests take no other params: {extra}")
            position = _decode_cursor(cursor)
            offset, limit = position["offset"], position["limit"]
        else:
            offset = 0
            try:
                limit = int(record.param("limit") or SNAPSHOT_DEFAULT_LIMIT)
            except ValueError:
                return 400, self._error_body("ERROR", "error", "limit must be an integer")
            if not 1 <= limit <= SNAPSHOT_MAX_LIMIT:
                return 400, self._error_body("ERROR", "error", f"limit must be in [1, {SNAPSHOT_MAX_LIMIT}]")
        rows = self._snapshot_rows(spec)
        body: dict[str, Any] = {
            "status": "OK",
            "request_id": self._next_request_id(),
            "results": rows[offset : offset + limit],
        }
        if offset + limit < len(rows):
            token = (
                cursor
                if (spec.loop_next_url and cursor)
                else _encode_cursor({"offset": offset + limit, "limit": limit})
            )
            next_url = f"{self.base_url}/v3/snapshot/options/{asset}?cursor={token}"
            if spec.api_key_in_next_url:
                next_url += f"&apiKey={self.api_key}"
            body["next_url"] = next_url
        return 200, body

    def _snapshot_rows(self, spec: ChainSpec) -> list[dict[str, Any]]:
        contracts = self.contracts(spec.symbol)
        underlying: dict[str, Any] = {"ticker": spec.asset, "change_to_break_even": 1.5, "timeframe": "DELAYED"}
        underlying["value" if spec.index else "price"] = spec.underlying_price
        rows = []
        for contract in contracts:
            values = self.snapshot_values(spec.symbol, contract)
            row: dict[str, Any] = {
                "break_even_price": float(contract.strike_price) + values["last"],
                "day": {
                    "open": values["last"],
                    "high": values["last"],
                    "low": values["last"],
                    "close": values["last"],
                    "volume": values["volume"],
                    "last_updated": 1766523600000000000,
                },
                "details": _details(contract, "european" if spec.index else "american"),
                "greeks": {name: values[name] for name in ("delta", "gamma", "theta", "vega")},
                "implied_volatility": values["implied_volatility"],
                "last_quote": {
                    "bid": values["bid"],
                    "ask": values["ask"],
                    "bid_size": 10,
                    "ask_size": 12,
                    "midpoint": round((values["bid"] + values["ask"]) / 2, 4),
                    "timeframe": "DELAYED",
                },
                "last_trade": {"price": values["last"], "size": 1, "exchange": 65, "timeframe": "DELAYED"},
                "open_interest": values["open_interest"],
                "underlying_asset": underlying,
            }
            if self.is_greekless(spec.symbol, contract):
                del row["greeks"], row["implied_volatility"]
            rows.append(row)
        for number in range(spec.other_type_rows):
            other = FakeContract(
                f"O:{spec.symbol}260102C{(900 + number) * 1000:08d}",
                spec.symbol,
                FIRST_EXPIRATION,
                "C",
                Decimal(900 + number),
                -1,
            )
            rows.append(
                {"details": {**_details(other, "american"), "contract_type": "other"}, "underlying_asset": underlying}
            )
        rows.extend({"day": {"volume": 1}, "underlying_asset": underlying} for _ in range(spec.rows_without_identity))
        rows.extend(json.loads(json.dumps(rows[index])) for index in spec.duplicates)
        return rows

    def _history(self, record: RecordedRequest, kind: str) -> tuple[int, Any]:
        cursor = record.param("cursor")
        if cursor is not None:
            extra = sorted(name for name in record.query if name not in ("cursor", "apiKey"))
            if extra:
                return 400, self._error_body("ERROR", "error", f"cursor requests take no other params: {extra}")
            state = _decode_cursor(cursor)
            filters, offset, limit = state["filters"], state["offset"], state["limit"]
        else:
            filters = {name: values[0] for name, values in record.query.items() if name != "limit"}
            offset = 0
            try:
                limit = min(int(record.param("limit") or HISTORY_DEFAULT_LIMIT), self.history_page_cap)
            except ValueError:
                return 400, self._error_body("ERROR", "error", "limit must be an integer")
        published = self.published_through if kind == "analytics" else self.open_interest_published_through
        sessions = self._requested_sessions(filters, published)
        if isinstance(sessions, str):
            return 400, self._error_body("ERROR", "error", sessions)
        rows: list[dict[str, Any]] = []
        for session in sessions:
            if session > published or session.weekday() >= 5:
                continue
            rows += self._history_rows(kind, filters, session)
        unpublished = len(sessions) == 1 and (sessions[0] > published or sessions[0].weekday() >= 5)
        if unpublished and self.unpublished == "404":
            return 404, self._error_body("NOT_FOUND", "message", "Data not found.")
        body: dict[str, Any] = {
            "status": "OK",
            "request_id": self._next_request_id(),
            "results": rows[offset : offset + limit],
        }
        if offset + limit < len(rows):
            token = _encode_cursor({"filters": filters, "offset": offset + limit, "limit": limit})
            body["next_url"] = f"{self.base_url}/options/v1/{kind}?cursor={token}"
        return 200, body

    def _requested_sessions(self, filters: Mapping[str, str], published: date) -> list[date] | str:
        """The sessions a history query asks for, or the 400 message for a query this fake refuses."""
        single = filters.get("date")
        first, last = filters.get("date.gte"), filters.get("date.lte")
        if single is not None:
            return [date.fromisoformat(single)]
        if first is None and last is None:
            return "this fake needs a date filter"
        if self.range_filter == "ignored":
            return [published]
        if first is None or last is None:
            return "this fake needs both date.gte and date.lte"
        start, end = date.fromisoformat(first), date.fromisoformat(last)
        days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
        return [day for day in days if day not in self.missing_from_ranges]

    def _aggregates(self, asset: str, first: str, last: str) -> tuple[int, Any]:
        spec = next((spec for spec in self.chains.values() if spec.asset == asset), None)
        try:
            start, end = date.fromisoformat(first), date.fromisoformat(last)
        except ValueError:
            return 400, self._error_body("ERROR", "error", "from and to must be YYYY-MM-DD")
        if spec is None:
            return 200, {"status": "OK", "ticker": asset, "resultsCount": 0, "results": []}
        bars = []
        for offset in range((end - start).days + 1):
            session = start + timedelta(days=offset)
            if session > self.published_through or session.weekday() >= 5:
                continue
            close = self.session_close(spec.symbol, session)
            # `t`: the bar's start, New York midnight, in Unix milliseconds (EST: UTC-5 in December).
            midnight = datetime(session.year, session.month, session.day, 5, tzinfo=UTC)
            bars.append({"t": int(midnight.timestamp() * 1000), "o": close - 1, "h": close + 1, "l": close - 2,
                         "c": close, "v": 1_000_000})  # fmt: skip
        return 200, {
            "status": "OK",
            "ticker": asset,
            "adjusted": False,
            "resultsCount": len(bars),
            "request_id": self._next_request_id(),
            "results": bars,
        }

    def _history_rows(self, kind: str, filters: Mapping[str, str], session: date) -> list[dict[str, Any]]:
        rows = []
        for spec in self.chains.values():
            if "underlying_ticker" in filters and filters["underlying_ticker"] != spec.symbol:
                continue
            for contract in self.contracts(spec.symbol):
                if "root" in filters and filters["root"] != contract.root:
                    continue
                if "ticker" in filters and filters["ticker"] != contract.ticker:
                    continue
                values = self.history_values(spec.symbol, contract, session)
                row: dict[str, Any] = {
                    "ticker": contract.ticker,
                    "underlying_ticker": spec.symbol,
                    "date": session.isoformat(),
                    "contract_type": "call" if contract.option_type == "C" else "put",
                    "expiration_date": contract.expiration_date.isoformat(),
                    "strike_price": float(contract.strike_price),
                }
                if kind == "analytics":
                    row.update(
                        {
                            name: values[name]
                            for name in ("implied_volatility", "delta", "gamma", "theta", "vega", "rho")
                        },
                        underlying_price=self.analytics_underlying_price(spec.symbol, session),
                        dividend_yield=0.004,
                        risk_free_rate=0.043,
                    )
                    omitted = self.analytics_omit
                else:
                    row.update(root=contract.root, open_interest=values["open_interest"])
                    omitted = self.open_interest_omit
                rows.append({name: value for name, value in row.items() if name not in omitted})
        return rows

    def _open_close(self, asset: str, session_text: str) -> tuple[int, Any]:
        spec = next((spec for spec in self.chains.values() if spec.asset == asset), None)
        try:
            session = date.fromisoformat(session_text)
        except ValueError:
            return 400, self._error_body("ERROR", "error", "date must be YYYY-MM-DD")
        if spec is None or session > self.published_through or session.weekday() >= 5:
            return 404, self._error_body("NOT_FOUND", "message", "Data not found.")
        close = self.session_close(spec.symbol, session)
        return 200, {
            "status": "OK",
            "symbol": asset,
            "from": session.isoformat(),
            "open": close - 1,
            "high": close + 1,
            "low": close - 2,
            "close": close,
            "volume": 1_000_000,
        }

    # ---- bodies ----

    def _next_request_id(self) -> str:
        with self._lock:
            self._request_ids += 1
            return f"fake{self._request_ids:08d}"

    def _error_body(self, status: str, key: str, text: str) -> dict[str, str]:
        return {"status": status, "request_id": self._next_request_id(), key: text}

    def _default_body(self, status: int) -> dict[str, str]:
        if status == 401:
            return self._error_body("ERROR", "error", "Unknown API Key")
        if status == 403:
            return self._error_body("NOT_AUTHORIZED", "message", NOT_AUTHORIZED_MESSAGE)
        if status == 404:
            return self._error_body("NOT_FOUND", "message", "Data not found.")
        if status == 429:
            return self._error_body("ERROR", "error", RATE_LIMIT_MESSAGE)
        return self._error_body("ERROR", "error", f"Internal error ({status})")


def unused_local_url() -> str:
    """A loopback URL nobody listens on (a port bound, then released): connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _details(contract: FakeContract, exercise_style: str) -> dict[str, Any]:
    return {
        "contract_type": "call" if contract.option_type == "C" else "put",
        "exercise_style": exercise_style,
        "expiration_date": contract.expiration_date.isoformat(),
        "shares_per_contract": 100,
        "strike_price": float(contract.strike_price),
        "ticker": contract.ticker,
    }


def _values(contract: FakeContract, spot: float, *, day_offset: int) -> dict[str, Any]:
    """Plausible, deterministic per (contract, day) numbers; not a pricing model."""
    seed = zlib.crc32(contract.ticker.encode())
    moneyness = float(contract.strike_price) / spot - 1
    call_delta = min(0.99, max(0.01, 0.5 - 2 * moneyness))
    gamma = round(0.05 * math.exp(-20 * moneyness**2) + 0.0001 + 0.0001 * day_offset, 6)
    intrinsic = max(0.0, (spot - float(contract.strike_price)) * (1 if contract.option_type == "C" else -1))
    bid = round(intrinsic + 0.5 + (seed % 50) / 100, 2)
    return {
        "bid": bid,
        "ask": round(bid + 0.1, 2),
        "last": round(bid + 0.05, 2),
        "volume": seed % 300,
        "open_interest": 100 + seed % 5000 + 37 * day_offset,
        "implied_volatility": round(0.2 + 0.3 * abs(moneyness) + (seed % 100) / 10000 + 0.002 * day_offset, 6),
        "delta": round(call_delta if contract.option_type == "C" else call_delta - 1, 6),
        "gamma": gamma,
        "theta": round(-0.01 - gamma, 6),
        "vega": round(0.1 + 2 * gamma, 6),
        "rho": 0.01,
    }


def _encode_cursor(state: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, sort_keys=True).encode()).decode().rstrip("=")


def _decode_cursor(token: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
