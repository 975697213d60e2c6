"""A loopback fake of the EODHD "Unicorn Bay" options API and the main plan's stock EOD endpoint.

It serves the documented shapes (fact sheet /work/shared/providers/unicorn-api.md):
- `GET /api/mp/unicornbay/options/contracts`: one row per contract, its *latest* state (id = the
  contract), with the common filters, `fields[options-contracts]` and `page[limit]`/`page[offset]`
  pagination on `links.next` (a full URL without the token; null, or "" when `empty_next`).
- `GET /api/mp/unicornbay/options/eod`: one row per contract per day, id `{contract}-{YYYY-MM-DD}`,
  values that change every day; `compact=1` answers arrays aligned to `meta.fields`. The `tradetime`
  trap of §4 is modelled: a contract trades on some days only (never, for "quiet" contracts), each
  row carries its last trade date, so `filter[tradetime_*]` returns stale later rows and misses the
  day's rows of contracts that did not trade. Rows exist for every weekday, holidays included
  (2025-11-27 is one), as observed live.
- `GET /api/eod/{SYMBOL}.US`: the underlying's daily bars (JSON with `fmt=json`, else CSV), with an
  `adjusted_close` that differs from `close`.
- `GET /api/internal-user`: the account, with `availableMarketplaceDataFeeds.timeToReset`.

The token must arrive as `api_token` in the query (401, plain text `Unauthenticated`, otherwise).
422 for a missing `filter[contract]`/`filter[underlying_symbol]`, a flat parameter, a page limit
outside 1..1000 or an offset past the ceiling; 402 once `quota_requests` options requests were
answered; scripted faults (402/422/429/502/...), a rate window, and a 404 page that echoes the URL
(token included), as EODHD's do.

The model values are computed here, independently of the production code, so a test compares what
the provider stored with what the fake meant to say (`eod_values`, `session_close`).
"""

from __future__ import annotations

import json
import math
import threading
import time
import zlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit
from zoneinfo import ZoneInfo

from tests.fakes.loopback import LoopbackServer

DEFAULT_TOKEN = "fake-unicorn-token-5b2e90c4a7d1"
HISTORY_START = date(2025, 10, 1)
FIRST_EXPIRATION = date(2026, 1, 2)
STRIKES_PER_EXPIRATION = 10
# The last-trade date of a contract that has not traded since it was listed.
NEVER_TRADED = "2025-09-15"
# Weekdays the stock market was closed (options rows still exist on them, as observed live).
HOLIDAYS = frozenset({date(2025, 11, 27), date(2025, 12, 25), date(2026, 1, 1)})
CONTRACTS_PATH = "/api/mp/unicornbay/options/contracts"
EOD_PATH = "/api/mp/unicornbay/options/eod"
OPTIONS_PREFIX = "/api/mp/unicornbay/options"
STOCK_PREFIX = "/api/eod/"
USER_PATH = "/api/internal-user"
NEW_YORK = ZoneInfo("America/New_York")
ATTRIBUTES = [
    "contract",
    "underlying_symbol",
    "exp_date",
    "expiration_type",
    "type",
    "strike",
    "exchange",
    "currency",
    "open",
    "high",
    "low",
    "last",
    "last_size",
    "change",
    "pctchange",
    "previous",
    "previous_date",
    "bid",
    "bid_date",
    "bid_size",
    "ask",
    "ask_date",
    "ask_size",
    "moneyness",
    "volume",
    "volume_change",
    "volume_pctchange",
    "open_interest",
    "open_interest_change",
    "open_interest_pctchange",
    "volatility",
    "volatility_change",
    "volatility_pctchange",
    "theoretical",
    "delta",
    "gamma",
    "theta",
    "vega",
    "rho",
    "tradetime",
    "vol_oi_ratio",
    "dte",
    "midpoint",
]
FILTERS = {
    "filter[contract]",
    "filter[underlying_symbol]",
    "filter[exp_date_eq]",
    "filter[exp_date_from]",
    "filter[exp_date_to]",
    "filter[tradetime_eq]",
    "filter[tradetime_from]",
    "filter[tradetime_to]",
    "filter[type]",
    "filter[strike_eq]",
    "filter[strike_from]",
    "filter[strike_to]",
}
PAGING = {"page[limit]", "page[offset]", "sort", "compact", "fmt", "api_token"}
REQUIRED_FILTER_BODY = {
    "errors": {
        "filter.underlying_symbol": [
            "The filter.underlying symbol field is required when filter.contract is not present."
        ]
    }
}
QUOTA_BODY = {"error": "You have exceeded your daily API requests limit.", "code": 402}
RATE_LIMIT_BODY = {"error": "API rate limit exceeded"}


@dataclass
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    received_at: float
    raw_path: str
    status: int | None = None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Fault:
    """A scripted answer for requests whose path starts with `path_prefix` (`status` None: the
    normal answer, after `delay`); `times` None repeats forever."""

    path_prefix: str
    status: int | None = None
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int | None = 1


@dataclass(frozen=True)
class UnicornChain:
    """One underlying's listed contracts and how they trade."""

    symbol: str
    contracts: int = 30
    underlying_price: float = 100.0
    # Every n-th contract (position % n == n - 1) never trades: the bulk tradetime pull misses it.
    quiet_every: int = 4
    # Every n-th contract's latest /contracts row is a weekday older than the others (stale).
    stale_every: int = 0
    # Every n-th contract is listed only on `late_listing` (no rows before).
    late_every: int = 0
    late_listing: date = date(2025, 12, 15)
    # links.next repeats the same page forever; carries the token; ends with "" instead of null.
    loop_next: bool = False
    token_in_next: bool = False
    empty_next: bool = False


@dataclass(frozen=True)
class FakeContract:
    contract: str
    symbol: str
    expiration_date: date
    option_type: str
    strike_price: Decimal
    position: int
    listed: date
    quiet: bool


class FakeUnicorn(LoopbackServer):
    """The fake server; a context manager that runs it on 127.0.0.1 in a background thread."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        published_through: date = date(2025, 12, 23),
        max_offset: int = 10_000,
        page_cap: int = 1000,
        quota_requests: int | None = None,
        time_to_reset: str | None = "19:01 GMT+0000",
        stock_eod_status: int = 200,
    ) -> None:
        super().__init__()
        self.token = token
        self.published_through = published_through
        self.max_offset = max_offset
        # The rows one page holds at most (the API's is 1000; tests shrink it to exercise slicing).
        self.page_cap = page_cap
        self.quota_requests = quota_requests
        self.time_to_reset = time_to_reset
        self.stock_eod_status = stock_eod_status
        self.chains: dict[str, UnicornChain] = {}
        self.answered_options_requests = 0
        self.rate_limited = 0
        self._faults: list[Fault] = []
        self._log: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._rate_limit: tuple[int, float, str | None] | None = None
        self._accepted: deque[float] = deque()
        self._tradetimes: dict[tuple[FakeContract, date], str] = {}

    # ---- configuration ----

    def add_chain(self, chain: UnicornChain) -> UnicornChain:
        self.chains[chain.symbol] = chain
        return chain

    def add_fault(
        self,
        path_prefix: str,
        status: int | None = None,
        *,
        times: int | None = 1,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> Fault:
        fault = Fault(path_prefix, status, body, dict(headers or {}), delay, times)
        with self._lock:
            self._faults.append(fault)
        return fault

    def enforce_rate_limit(self, max_requests: int, per_seconds: float, *, retry_after: str | None = None) -> None:
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

    # ---- the model (what the fake means to say) ----

    def contracts(self, symbol: str) -> list[FakeContract]:
        return list(_contracts(self.chains[symbol]))

    def days(self, contract: FakeContract) -> list[date]:
        """Every day the contract has an /eod row: weekdays, holidays included, listing to expiry."""
        last = min(self.published_through, contract.expiration_date)
        return [day for day in _weekdays(contract.listed, last)]

    def traded(self, contract: FakeContract, day: date) -> bool:
        return not contract.quiet and zlib.crc32(f"{contract.contract}|{day}".encode()) % 3 != 0

    def tradetime(self, contract: FakeContract, day: date) -> str:
        """The last day on or before `day` the contract traded (carried forward on quiet days)."""
        key = (contract, day)
        if key not in self._tradetimes:
            self._tradetimes[key] = _tradetime(contract, day, self)
        return self._tradetimes[key]

    def eod_values(self, contract: FakeContract, day: date) -> dict[str, Any]:
        """The row attributes of `contract` observed on `day`."""
        chain = self.chains[contract.symbol]
        age = (day - HISTORY_START).days
        spot = self.spot(contract.symbol, day)
        strike = float(contract.strike_price)
        seed = zlib.crc32(contract.contract.encode())
        pair_seed = zlib.crc32(f"{contract.symbol}{contract.expiration_date}{contract.strike_price}".encode())
        intrinsic = max(0.0, (spot - strike) if contract.option_type == "C" else (strike - spot))
        # The same time value for the call and the put of a strike: their mids keep put-call parity.
        mid = round(intrinsic + 0.5 + (pair_seed % 50) / 100 + 0.002 * age, 4)
        moneyness = strike / spot - 1
        call_delta = min(0.99, max(0.01, 0.5 - 2 * moneyness))
        gamma = round(0.05 * math.exp(-20 * moneyness**2) + 0.0001 + 0.0001 * age, 6)
        traded = self.traded(contract, day)
        quoted_at = datetime.combine(day, datetime.min.time().replace(hour=15, minute=59, second=59), NEW_YORK)
        stamp = quoted_at.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S")
        open_interest = 100 + seed % 5000 + 37 * age
        volume = (seed % 300) + 1 if traded else 0
        values: dict[str, Any] = {
            "contract": contract.contract,
            "underlying_symbol": chain.symbol,
            "exp_date": contract.expiration_date.isoformat(),
            "expiration_type": "monthly" if contract.expiration_date.day > 14 else "weekly",
            "type": "call" if contract.option_type == "C" else "put",
            "strike": strike,
            "exchange": "NASDAQ",
            "currency": "USD",
            "open": round(mid, 2) if traded else 0,
            "high": round(mid + 0.1, 2) if traded else 0,
            "low": round(max(0.01, mid - 0.1), 2) if traded else 0,
            "last": round(mid, 2),
            "last_size": 1 if traded else 0,
            "change": 0.01,
            "pctchange": 0.5,
            "previous": round(mid - 0.01, 2),
            "previous_date": (day - timedelta(days=1)).isoformat(),
            "bid": round(mid - 0.05, 2),
            "bid_date": stamp,
            "bid_size": 10,
            "ask": round(mid + 0.05, 2),
            "ask_date": stamp,
            "ask_size": 12,
            "moneyness": round((spot - strike) / spot if contract.option_type == "C" else (strike - spot) / spot, 2),
            "volume": volume,
            "volume_change": 0,
            "volume_pctchange": 0,
            "open_interest": open_interest,
            "open_interest_change": 37,
            "open_interest_pctchange": round(3700 / open_interest, 2),
            "volatility": round(0.2 + 0.3 * abs(moneyness) + (seed % 100) / 10000 + 0.002 * age, 6),
            "volatility_change": 0.002,
            "volatility_pctchange": 0.8,
            "theoretical": round(mid, 4),
            "delta": round(call_delta if contract.option_type == "C" else call_delta - 1, 6),
            "gamma": gamma,
            "theta": round(-0.01 - gamma, 6),
            "vega": round(0.1 + 2 * gamma, 6),
            "rho": 0.01,
            "tradetime": self.tradetime(contract, day),
            "vol_oi_ratio": round(volume / open_interest, 4),
            "dte": (contract.expiration_date - day).days,
            "midpoint": round(mid, 2),
        }
        return values

    def spot(self, symbol: str, day: date) -> float:
        return round(self.chains[symbol].underlying_price + 0.5 * (day - date(2025, 12, 1)).days, 4)

    def session_close(self, symbol: str, day: date) -> float:
        """The raw close of /api/eod (its adjusted_close is deliberately another number)."""
        return round(self.spot(symbol, day) + 0.25, 4)

    def latest_day(self, contract: FakeContract) -> date | None:
        """The day of the contract's /contracts row: its last /eod day, a weekday older if stale."""
        days = self.days(contract)
        if not days:
            return None
        every = self.chains[contract.symbol].stale_every
        if every and contract.position % every == every - 1 and len(days) > 1:
            return days[-2]
        return days[-1]

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
        status, body, headers = self._answer(record)
        record.status = status
        if isinstance(body, bytes):
            payload, content_type = body, "text/html"
        elif isinstance(body, str):
            payload, content_type = body.encode(), "text/plain"
        else:
            payload, content_type = json.dumps(body).encode(), "application/json"
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)

    def _answer(self, record: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        if record.method != "GET":
            return 405, {"error": "method not allowed"}, {}
        if record.param("api_token") != self.token or len(record.query.get("api_token", [])) != 1:
            return 401, "Unauthenticated", {}
        limited = self._rate_limit_answer(record.received_at)
        if limited is not None:
            return limited
        fault = self._take_fault(record.path)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                body = fault.body if fault.body is not None else self._default_body(fault.status, record)
                return fault.status, body, dict(fault.headers)
        options = record.path.startswith(OPTIONS_PREFIX)
        if options and self.quota_requests is not None and self.answered_options_requests >= self.quota_requests:
            return 402, QUOTA_BODY, {}
        status, body = self._route(record)
        if options and 200 <= status < 300:
            with self._lock:
                self.answered_options_requests += 1
        return status, body, {}

    def _rate_limit_answer(self, now: float) -> tuple[int, Any, dict[str, str]] | None:
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
        return 429, RATE_LIMIT_BODY, {"Retry-After": retry_after} if retry_after is not None else {}

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path_prefix) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _default_body(self, status: int, record: RecordedRequest) -> Any:
        if status == 401:
            return "Unauthenticated"
        if status == 402:
            return QUOTA_BODY
        if status == 403:
            return {"status": 403, "error": "Forbidden", "message": "Your subscription doesn't include this endpoint"}
        if status == 404:
            return self._not_found(record)
        if status == 422:
            return REQUIRED_FILTER_BODY
        if status == 429:
            return RATE_LIMIT_BODY
        return f"<html><head><title>{status} Bad Gateway</title></head><body>nginx</body></html>".encode()

    def _not_found(self, record: RecordedRequest) -> bytes:
        # EODHD's 404 page echoes the request URL, token included.
        return f"<html><body><h1>404</h1><p>Not found: {record.raw_path}</p></body></html>".encode()

    def _route(self, record: RecordedRequest) -> tuple[int, Any]:
        if record.path == CONTRACTS_PATH:
            return self._options(record, "options-contracts")
        if record.path == EOD_PATH:
            return self._options(record, "options-eod")
        if record.path == f"{OPTIONS_PREFIX}/underlying-symbols":
            return 200, {"meta": {"fields": ["underlying_symbol"], "compact": True}, "data": sorted(self.chains)}
        if record.path.startswith(STOCK_PREFIX) and record.path.endswith(".US"):
            return self._stock_eod(record, record.path[len(STOCK_PREFIX) : -len(".US")])
        if record.path == USER_PATH:
            feeds: dict[str, Any] = {"requestsSpent": self.answered_options_requests * 10, "dailyRateLimit": 100_000}
            if self.time_to_reset:
                feeds["timeToReset"] = self.time_to_reset
            return 200, {"name": "Fake", "availableMarketplaceDataFeeds": feeds}
        return 404, self._not_found(record)

    # ---- endpoints ----

    def _options(self, record: RecordedRequest, kind: str) -> tuple[int, Any]:
        flat = sorted(
            name
            for name in record.query
            if name not in FILTERS and name not in PAGING and not name.startswith("fields[")
        )
        if flat:
            return 422, {"errors": {name: [f"The {name} parameter is not supported."] for name in flat}}
        contract_filter = record.param("filter[contract]")
        symbol_filter = record.param("filter[underlying_symbol]")
        if contract_filter is None and symbol_filter is None:
            return 422, REQUIRED_FILTER_BODY
        try:
            limit = int(record.param("page[limit]") or 1000)
            offset = int(record.param("page[offset]") or 0)
        except ValueError:
            return 422, {"errors": {"page": ["The page limit and offset must be integers."]}}
        if not 1 <= limit <= 1000:
            return 422, {"errors": {"page.limit": ["The page.limit must be between 1 and 1000."]}}
        if not 0 <= offset <= self.max_offset:
            return 422, {"errors": {"page.offset": [f"The page.offset must be between 0 and {self.max_offset}."]}}
        limit = min(limit, self.page_cap)
        keys = self._matching(record, kind, contract_filter, symbol_filter)
        page = keys[offset : offset + limit]
        projection = record.param(f"fields[{kind}]")
        fields = [name for name in projection.split(",") if name in ATTRIBUTES] if projection else list(ATTRIBUTES)
        compact = kind == "options-eod" and record.param("compact") == "1"
        data: list[Any] = []
        for contract, day in page:
            values = self.eod_values(contract, day)
            ident = f"{contract.contract}-{day.isoformat()}" if kind == "options-eod" else contract.contract
            attributes = {name: values[name] for name in fields}
            if compact:
                data.append([ident, *attributes.values()])
            else:
                data.append({"id": ident, "type": kind, "attributes": attributes})
        chain = self.chains.get(symbol_filter or "") or next(
            (self.chains[c.symbol] for c, _ in keys[:1]), UnicornChain("-")
        )
        next_link: str | None = "" if chain.empty_next else None
        if offset + limit < len(keys) or chain.loop_next:
            following = offset if chain.loop_next else offset + limit
            params = [
                (name, value)
                for name, values in record.query.items()
                for value in values
                if name not in ("api_token", "page[offset]", "page[limit]")
            ]
            params += [("page[offset]", str(following)), ("page[limit]", str(limit))]
            if chain.token_in_next:
                params.append(("api_token", self.token))
            query = "&".join(f"{name}={quote(value, safe=':,')}" for name, value in params)
            next_link = f"{self.base_url}{record.path}?{query}"
        meta: dict[str, Any] = {"offset": offset, "limit": limit, "fields": fields, "compact": compact}
        if compact:
            meta["fields"] = ["id", *fields]
        return 200, {"meta": meta, "data": data, "links": {"next": next_link}}

    def _matching(
        self, record: RecordedRequest, kind: str, contract_filter: str | None, symbol_filter: str | None
    ) -> list[tuple[FakeContract, date]]:
        """(contract, observation day) of every row the filters select, in (contract, day) order."""

        def bound(name: str) -> str | None:
            return record.param(f"filter[{name}]")

        keys = []
        for chain in self.chains.values():
            if symbol_filter is not None and chain.symbol != symbol_filter:
                continue
            for contract in _contracts(chain):
                if contract_filter is not None and contract.contract != contract_filter:
                    continue
                expiration = contract.expiration_date.isoformat()
                if not _within(expiration, bound("exp_date_eq"), bound("exp_date_from"), bound("exp_date_to")):
                    continue
                kind_filter = bound("type")
                if kind_filter and kind_filter != ("call" if contract.option_type == "C" else "put"):
                    continue
                strike = float(contract.strike_price)
                if not _within_number(strike, bound("strike_eq"), bound("strike_from"), bound("strike_to")):
                    continue
                if kind == "options-contracts":
                    latest = self.latest_day(contract)
                    days = [latest] if latest is not None else []
                else:
                    days = self.days(contract)
                for day in days:
                    tradetime = self.tradetime(contract, day)
                    if _within(tradetime, bound("tradetime_eq"), bound("tradetime_from"), bound("tradetime_to")):
                        keys.append((contract, day))
        return keys

    def _stock_eod(self, record: RecordedRequest, ticker: str) -> tuple[int, Any]:
        symbol = ticker.replace("-", ".")
        if self.stock_eod_status != 200:
            return self.stock_eod_status, self._default_body(self.stock_eod_status, record)
        if symbol not in self.chains and ticker not in self.chains:
            return 404, self._not_found(record)
        symbol = symbol if symbol in self.chains else ticker
        first = date.fromisoformat(record.param("from") or "2025-10-01")
        last = min(date.fromisoformat(record.param("to") or self.published_through.isoformat()), self.published_through)
        rows = []
        for day in _weekdays(first, last):
            if day in HOLIDAYS:
                continue
            close = self.session_close(symbol, day)
            rows.append(
                {
                    "date": day.isoformat(),
                    "open": close - 1,
                    "high": close + 1,
                    "low": close - 2,
                    "close": close,
                    "adjusted_close": round(close * 0.98, 4),
                    "volume": 1_000_000,
                }
            )
        if record.param("fmt") != "json":
            lines = ["Date,Open,High,Low,Close,Adjusted_close,Volume"]
            lines += [",".join(str(row[name]) for name in row) for row in rows]
            return 200, "\n".join(lines)
        return 200, rows


@cache
def _contracts(chain: UnicornChain) -> tuple[FakeContract, ...]:
    listed = []
    for position in range(chain.contracts):
        expiration = FIRST_EXPIRATION + timedelta(weeks=position // (2 * STRIKES_PER_EXPIRATION))
        option_type = "C" if position % 2 == 0 else "P"
        step = (position // 2) % STRIKES_PER_EXPIRATION
        strike = Decimal(round(chain.underlying_price * 0.9)) + Decimal("2.5") * step
        contract = f"{chain.symbol}{expiration:%y%m%d}{option_type}{int(strike * 1000):08d}"
        late = chain.late_every and position % chain.late_every == chain.late_every - 1
        quiet = bool(chain.quiet_every) and position % chain.quiet_every == chain.quiet_every - 1
        listed.append(
            FakeContract(
                contract,
                chain.symbol,
                expiration,
                option_type,
                strike,
                position,
                chain.late_listing if late else HISTORY_START,
                quiet,
            )
        )
    return tuple(listed)


def _tradetime(contract: FakeContract, day: date, fake: FakeUnicorn) -> str:
    current = day
    while current >= contract.listed:
        if current.weekday() < 5 and fake.traded(contract, current):
            return current.isoformat()
        current -= timedelta(days=1)
    return NEVER_TRADED


def _weekdays(first: date, last: date) -> list[date]:
    days = (first + timedelta(days=offset) for offset in range((last - first).days + 1))
    return [day for day in days if day.weekday() < 5]


def _within(value: str, equal: str | None, low: str | None, high: str | None) -> bool:
    return (equal is None or value == equal) and (low is None or value >= low) and (high is None or value <= high)


def _within_number(value: float, equal: str | None, low: str | None, high: str | None) -> bool:
    return (
        (equal is None or value == float(equal))
        and (low is None or value >= float(low))
        and (high is None or value <= float(high))
    )
