"""EODHD "Unicorn Bay" US options: `/contracts` for the current session, `/eod` rows for past ones.

What the API offers (fact sheet /work/shared/providers/unicorn-api.md, read it before changing this):

- `/contracts` answers each contract's *latest* state, so it serves only the current session. Each
  row is checked against the session by the New York date of its `bid_date`/`ask_date` (else
  `exp_date - dte`); rows of another date are counted and dropped, never stored under the session.
- `/eod` holds one row per contract per day whose `id` ends in the observation date. `tradetime` is
  the contract's last-activity date, NOT the snapshot date: a `tradetime` filter returns stale rows
  of later days and misses the day's rows of every contract that did not trade. So a past session
  D is rebuilt from rows whose `id` suffix is D (§5 "hybrid"): one bulk `/eod` pull over a trailing
  `tradetime` window (cheap, catches every contract that traded in the window), then per-contract
  `/eod?filter[contract]=…` histories for the contracts of the listed universe (`/contracts`) that the
  bulk pull missed. `eod_rows_for_sessions` does this for any set of sessions, so a range-aware
  caller can serve a whole backfill window from one pass (each contract's history serves every day).
- The underlying's close comes from `/api/eod/{SYMBOL}.US` (main plan, `fmt=json`): the session's raw
  `close`, never `adjusted_close` (later splits and dividends rewrite it).
- Every options request costs 10 API calls of a daily quota (100,000 calls = 10,000 requests), at
  most 1,000 requests/minute; 402 means the quota is spent (this provider then refuses every fetch
  without a request until the reset), 401/403 are fatal, 429/5xx are retried by the HTTP client,
  422 is a bug in our request.
- The token travels as `api_token` in the query string (`ApiClient` adds it to each request as it is
  sent and redacts it everywhere); `links.next` carries no token and is re-anchored on the base URL.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlsplit

from markets.calendar import DEFAULT_CALENDAR, NEW_YORK, get_calendar, latest_completed_session
from markets.occ import InvalidOccTicker, parse_occ_ticker
from markets.parity import QuotedPair, forward_from_parity
from providers.base import (
    QUOTE_FIELDS,
    AuthError,
    ChainSnapshot,
    EmptyChain,
    MalformedResponse,
    OptionQuote,
    ProviderError,
    ProviderSettings,
    QuotaExhausted,
    SessionUnavailable,
)
from providers.http import ApiClient, ApiResponse, HttpSettings, RequestBudget, next_page_path, settings_for_run
from providers.values import count as _count
from providers.values import number as _number
from providers.values import reported as _reported
from providers.values import strike as _strike
from settings.environment import UNICORN_API_KEYS

logger = logging.getLogger("kapman.providers.unicorn")

PROVIDER_NAME = "unicorn"
DEFAULT_BASE_URL = "https://eodhd.com"
TOKEN_PARAM = "api_token"
CONTRACTS_PATH = "/api/mp/unicornbay/options/contracts"
EOD_PATH = "/api/mp/unicornbay/options/eod"
STOCK_EOD_PATH = "/api/eod/{ticker}.US"
USER_PATH = "/api/internal-user"

# Every options request costs this many API calls, whatever its page size (so always 1000 rows).
CALLS_PER_REQUEST = 10
DAILY_CALL_QUOTA = 100_000
REQUESTS_PER_MINUTE = 1_000
PAGE_LIMIT = 1000
# `page[offset]` may not pass this: one filter combination yields at most 11,000 rows.
MAX_OFFSET = 10_000
# A runaway-pagination guard beyond the repeated-page check.
MAX_PAGES = 1000
# The bulk /eod pull asks for rows whose last trade fell in the `BULK_WINDOW_DAYS` calendar days up
# to the session: it catches that day's row of every contract that traded in the window.
BULK_WINDOW_DAYS = 30
# Strikes are sliced within this band when one expiration and type still exceed the offset ceiling.
STRIKE_CEILING = Decimal(1_000_000)
# How long a 402 stops this provider when the API does not say when the quota resets.
QUOTA_PAUSE = timedelta(hours=1)

Clock = Callable[[], datetime]
# (row id, attributes) as the API answered them
Row = tuple[str, Mapping[str, Any]]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class EodRows:
    """Rows of `/eod` for a set of sessions, split by the observation date in each row's `id`."""

    # session → contract → its distinct rows (more than one is a conflict, left to the validator)
    by_session: dict[date, dict[str, list[Mapping[str, Any]]]]
    # what it cost and what was dropped, for the day's notes
    counts: dict[str, int] = field(default_factory=dict)


# EODHD allows 1,000 requests/minute (the default budget here); the run's budget overrides it.
UNICORN_HTTP_SETTINGS = HttpSettings(requests_per_minute=REQUESTS_PER_MINUTE)


class UnicornProvider:
    """EODHD Unicorn Bay chain source. One instance per process: it owns the request budget and the
    count of API calls spent."""

    name = PROVIDER_NAME
    simulated = False
    # Every request costs this many calls of the plan's daily quota (a dry run says so).
    calls_per_request = CALLS_PER_REQUEST

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        calendar: str = DEFAULT_CALENDAR,
        clock: Clock | None = None,
        http_settings: HttpSettings | None = None,
        budget: RequestBudget | None = None,
        max_offset: int = MAX_OFFSET,
        bulk_window_days: int = BULK_WINDOW_DAYS,
    ) -> None:
        if not api_key or not api_key.strip():
            raise AuthError(_missing_key_message())
        base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        # The trading system's base URL ends in /api; every path here starts with it.
        base_url = base_url.removesuffix("/api")
        self._http = ApiClient(
            base_url,
            api_key.strip(),
            http_settings or HttpSettings(requests_per_minute=REQUESTS_PER_MINUTE),
            provider=self.name,
            budget=budget,
            token_param=TOKEN_PARAM,
        )
        self._calendar = get_calendar(calendar)
        self._clock = clock or _utc_now
        self.max_offset = max_offset
        self.bulk_window = timedelta(days=bulk_window_days)
        self._lock = threading.Lock()
        self._options_requests = 0
        self._stock_requests = 0
        # A refusal that holds for every later fetch (quota spent, token rejected) and until when.
        self._refusal: tuple[ProviderError, datetime] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: ProviderSettings,
        *,
        calendar: str = DEFAULT_CALENDAR,
        clock: Clock | None = None,
        http_settings: HttpSettings | None = None,
    ) -> UnicornProvider:
        """Build from the run's settings: token, base URL (default EODHD's), request budget and gate."""
        if not settings.api_key or not settings.api_key.strip():
            raise AuthError(_missing_key_message())
        provider = cls(
            settings.api_key,
            base_url=settings.base_url or DEFAULT_BASE_URL,
            calendar=calendar,
            clock=clock,
            http_settings=settings_for_run(
                settings, http_settings or HttpSettings(requests_per_minute=REQUESTS_PER_MINUTE)
            ),
        )
        provider.budget.share_with(settings.request_gate)
        return provider

    @property
    def budget(self) -> RequestBudget:
        return self._http.budget

    @property
    def api_calls(self) -> int:
        """Options API calls this instance spent (10 per answered request; failed requests cost 0)."""
        with self._lock:
            return self._options_requests * CALLS_PER_REQUEST

    def close(self) -> None:
        self._http.close()

    def current_session(self) -> date:
        """The latest session that closed: the one `/contracts` describes once its data has landed
        (EODHD publishes between 22:00 and 00:00 New York; before that its rows are dated earlier and
        the session is refused as not published yet)."""
        return latest_completed_session(self._calendar, self._clock())

    def fetch_chain(self, symbol: str, session: date, *, large: bool = False) -> ChainSnapshot:
        """`symbol`'s chain for `session`: `/contracts` if it is the current session, `/eod` if past."""
        self._check_refusal()
        current = self.current_session()
        if session > current:
            raise SessionUnavailable(
                f"unicorn cannot serve {symbol} for {session.isoformat()}: that session has not closed yet"
                f" (latest closed session {current.isoformat()})"
            )
        if not self._is_session(session):
            raise SessionUnavailable(
                f"unicorn cannot serve {symbol} for {session.isoformat()}: not a {self._calendar.name} trading session"
            )
        fetch = _Fetch(self, symbol, session, large)
        return fetch.current() if session == current else fetch.past()

    def estimated_requests(self, sessions_by_symbol: Mapping[str, Sequence[date]], *, window: bool) -> int:
        """Requests a run makes at least (each costs `calls_per_request` API calls): the current
        session takes 1 `/contracts` page per 1,000 contracts; past sessions day by day take 1
        `/contracts` + 1 bulk `/eod` + 1 stock close each, by window the same three once per symbol;
        plus, unknown before, a page per 1,000 rows past the first and a request per listed contract
        without a trade in the bulk window."""
        current = self.current_session()
        total = 0
        for sessions in sessions_by_symbol.values():
            past = [session for session in sessions if session != current]
            total += (len(sessions) - len(past)) + (3 if window and len(past) > 1 else 3 * len(past))
        return total

    def fetch_window(self, symbol: str, sessions: Sequence[date], *, large: bool = False) -> Iterator[ChainSnapshot]:
        """Past `sessions` of `symbol` from one hybrid `/eod` pull over the whole set (each contract's
        history serves every session at once) and one stock-close request; each session rebuilt from
        the rows whose `id` names it, exactly as `fetch_chain` rebuilds a single past session."""
        self._check_refusal()
        current = self.current_session()
        past = sorted(session for session in set(sessions) if session < current and self._is_session(session))
        if len(past) < 2:
            return iter(())
        return self._window(symbol, past, large)

    def _window(self, symbol: str, past: list[date], large: bool) -> Iterator[ChainSnapshot]:
        spent_before = self.api_calls
        pulled = self.eod_rows_for_sessions(symbol, past, large=large)
        closes = self.underlying_closes(symbol, past[0], past[-1], large=large)
        api_calls = self.api_calls - spent_before
        for session in past:
            contracts = pulled.by_session.get(session)
            if not contracts:
                continue  # not covered: that day asks for itself (and says why)
            quotes, unusable = _quotes(contracts)
            counts = {**pulled.counts, "dropped_unreadable": pulled.counts.get("dropped_unreadable", 0) + unusable}
            requests = counts.pop("requests", 0)
            dropped = sum(counts.get(name, 0) for name in ("dropped_unreadable", "dropped_mismatch"))
            yield _Fetch(self, symbol, session, large).snapshot(
                quotes,
                closes.get(session) or _parity_close(quotes, session),
                source=f"EODHD Unicorn Bay {EOD_PATH} rows observed on the session (id date), by window",
                dropped=dropped,
                counts=counts,
                requests=requests,
                api_calls=api_calls,
            )

    def eod_rows_for_sessions(self, symbol: str, sessions: Iterable[date], *, large: bool = False) -> EodRows:
        """Every `/eod` row of `symbol` observed on one of `sessions` (the hybrid route, §5 of the fact
        sheet): one bulk pull over the trailing `tradetime` window of the whole set, then each listed
        contract the bulk pull missed for some session, by its own history (which serves every
        session of the set at once). Rows dated on a non-session are dropped and counted."""
        wanted = sorted(set(sessions))
        if not wanted:
            return EodRows(by_session={})
        return _EodPull(self, symbol, wanted, large).run()

    def underlying_closes(self, symbol: str, first: date, last: date, *, large: bool = False) -> dict[date, float]:
        """The raw session closes of `symbol` from `/api/eod/{SYMBOL}.US` (main plan), by session;
        empty when the plan is not entitled to it (the caller then estimates, and says so)."""
        call = _Call(self, symbol, first, STOCK_EOD_PATH, large)
        path = STOCK_EOD_PATH.format(ticker=quote(_api_symbol(symbol), safe="-"))
        query = _query({"from": first.isoformat(), "to": last.isoformat(), "fmt": "json"})
        answer = self._http.get(f"{path}?{query}", large=large)
        if answer.status == 402:
            raise call.error_for(answer)
        if not answer.ok:
            logger.info(
                "event=underlying_close_unavailable provider=unicorn symbol=%s from=%s to=%s status=%d",
                symbol,
                first.isoformat(),
                last.isoformat(),
                answer.status,
            )
            return {}
        with self._lock:
            self._stock_requests += 1
        closes: dict[date, float] = {}
        for row in answer.body if isinstance(answer.body, list) else ():
            if not isinstance(row, dict):
                continue
            day = _date(row.get("date"))
            close = _number(row.get("close"))
            if day is not None and close is not None and close > 0 and first <= day <= last:
                closes[day] = close
        return closes

    # ---- internals shared by the fetches ----

    def _is_session(self, day: date) -> bool:
        return bool(self._calendar.sessions(day, day))

    def _spent(self, requests: int = 1) -> None:
        with self._lock:
            self._options_requests += requests

    def _check_refusal(self) -> None:
        with self._lock:
            refusal = self._refusal
        if refusal is None:
            return
        error, until = refusal
        if self._clock() < until:
            raise type(error)(str(error))
        with self._lock:
            if self._refusal is refusal:
                self._refusal = None

    def _refuse_until(self, error: ProviderError, until: datetime) -> None:
        with self._lock:
            self._refusal = (error, until)

    def _quota_reset(self, answer: ApiResponse) -> tuple[str | None, datetime]:
        """When the spent quota resets, as the 402 body or `/api/internal-user` says (one request,
        main plan); the shown text and the moment, else None and `QUOTA_PAUSE` from now."""
        now = self._clock()
        said = _reset_text(answer.body)
        if said is None:
            try:
                user = self._http.get(USER_PATH)
            except ProviderError:
                user = None
            if user is not None and user.ok and isinstance(user.body, dict):
                feeds = user.body.get("availableMarketplaceDataFeeds")
                said = _reset_text(feeds)
        if said is None:
            return None, now + QUOTA_PAUSE
        moment = _next_reset(said, now)
        return said, moment or now + QUOTA_PAUSE


@dataclass(frozen=True)
class _Call:
    """Who asked for what, so every error can name the symbol, session and endpoint."""

    provider: UnicornProvider
    symbol: str
    session: date
    endpoint: str
    large: bool

    @property
    def http(self) -> ApiClient:
        return self.provider._http

    def get(self, target: str) -> ApiResponse:
        answer = self.http.get(target, large=self.large)
        if not answer.ok:
            raise self.error_for(answer)
        self.provider._spent()
        return answer

    def pages(self, path: str, filters: Mapping[str, str]) -> Iterator[tuple[list[Row], int]]:
        """Each page's rows and its unreadable-row count, following `links.next` (null or empty ends
        it). A next link is sent only as a path on the base URL, without any `api_token` it carries;
        a page asked for twice means the server is looping, and an offset past the ceiling means
        this filter combination holds more rows than the API can page through (`_Truncated`)."""
        target = f"{path}?{_query({**filters, 'page[limit]': str(PAGE_LIMIT), 'page[offset]': '0'})}"
        asked = {target}
        seen_ids: set[str] = set()
        offset = 0
        for page_number in range(1, MAX_PAGES + 1):
            body = self.get(target).body
            rows, unreadable, next_link = self.read_page(body)
            fresh = {ident for ident, _ in rows} - seen_ids
            if rows and not fresh and page_number > 1:
                raise self.malformed(f"repeated the rows of an earlier page on page {page_number}; stopped")
            seen_ids |= fresh
            yield rows, unreadable
            if not next_link:
                return
            if not isinstance(next_link, str):
                raise self.malformed("answered a links.next that is not text")
            try:
                target = next_page_path(next_link, self.http.base_url, drop_params=(TOKEN_PARAM,))
            except ValueError as refused:
                shown = self.http.redact(repr(next_link[:160]))
                raise self.malformed(
                    f"answered a links.next {shown} that {refused}; refused to follow it (requests and the"
                    f" token go only to {self.http.base_url})"
                ) from None
            offset = _offset_of(target, offset + max(len(rows), 1))
            if offset > self.provider.max_offset:
                raise _Truncated()
            if target in asked:
                raise self.malformed(f"repeated the same links.next after {page_number} pages; stopped")
            asked.add(target)
        raise self.malformed(f"kept paginating past {MAX_PAGES} pages; stopped")

    def read_page(self, body: Any) -> tuple[list[Row], int, Any]:
        """(rows, unreadable rows, links.next) of one answer, compact (arrays aligned to
        `meta.fields`) or not (`{id, type, attributes}` objects)."""
        if not isinstance(body, dict):
            raise self.malformed(f"answered {type(body).__name__} instead of a JSON object")
        data = body.get("data")
        if data is None:
            data = []
        if not isinstance(data, list):
            raise self.malformed(f"answered 'data' as {type(data).__name__}, not a list")
        meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
        fields = meta.get("fields")
        rows: list[Row] = []
        unreadable = 0
        for item in data:
            if isinstance(item, dict):
                ident, attributes = item.get("id"), item.get("attributes")
            elif isinstance(item, list) and isinstance(fields, list) and len(fields) == len(item):
                attributes = dict(zip(fields, item, strict=True))
                ident = attributes.get("id")
            else:
                unreadable += 1
                continue
            if not isinstance(attributes, dict):
                unreadable += 1
                continue
            if not isinstance(ident, str) or not ident:
                # /contracts rows are identified by their contract; an /eod row without its id
                # cannot be dated and is dropped by the caller.
                ident = attributes.get("contract") if self.endpoint == CONTRACTS_PATH else None
                if not isinstance(ident, str) or not ident:
                    unreadable += 1
                    continue
            rows.append((ident, attributes))
        links = body.get("links")
        return rows, unreadable, links.get("next") if isinstance(links, dict) else None

    def collect(self, path: str, filters: Mapping[str, str]) -> tuple[list[Row], int, int]:
        """Every row of one filter combination, sliced (expiration window, then type, then strike
        band) wherever a slice holds more rows than the offset ceiling lets us page through.
        Returns (rows, unreadable rows, requests)."""
        rows: list[Row] = []
        unreadable = requests = 0
        slices = [dict(filters)]
        while slices:
            current = slices.pop()
            collected: list[Row] = []
            skipped = 0
            try:
                for page_rows, page_unreadable in self.pages(path, current):
                    requests += 1
                    collected.extend(page_rows)
                    skipped += page_unreadable
            except _Truncated:
                narrower = _split(current, self.session)
                if narrower is None:
                    raise self.malformed(
                        f"holds more than {self.provider.max_offset + PAGE_LIMIT} rows for one expiration, type"
                        " and strike; cannot slice further"
                    ) from None
                logger.debug(
                    "event=slice provider=unicorn endpoint=%s symbol=%s filters=%s into=%d",
                    self.endpoint,
                    self.symbol,
                    current,
                    len(narrower),
                )
                slices.extend(narrower)
                continue
            rows.extend(collected)
            unreadable += skipped
        return rows, unreadable, requests

    def error_for(self, answer: ApiResponse) -> ProviderError:
        """The typed error for a non-2xx answer; one line saying what to do. 402, 401 and 403 stop
        this provider for every later fetch as well (asking again would only be refused again)."""
        said = self.http.redact(_error_text(answer))
        detail = f"HTTP {answer.status}" + (f' "{said}"' if said else "")
        what = f"{self.symbol} for session {self.session.isoformat()}"
        provider = self.provider
        if answer.status == 402:
            reset_text, until = provider._quota_reset(answer)
            when = f"; the quota resets at {reset_text}" if reset_text else ""
            error: ProviderError = QuotaExhausted(
                f"unicorn's daily API-call quota is exhausted ({self.endpoint} answered {detail}){when}: the run"
                " stops asking; every completed symbol-day is kept, re-run the same command after the reset"
            )
            provider._refuse_until(error, until)
            return error
        if answer.status in (401, 403):
            reason = (
                "rejected the API token"
                if answer.status == 401
                else "refused the token: it is not entitled to the US options Marketplace product (bought"
                " separately from the main EODHD plans)"
            )
            error = AuthError(
                f"unicorn {reason} ({self.endpoint} answered {detail}): check --api-key or"
                f" {', '.join(UNICORN_API_KEYS)}"
            )
            provider._refuse_until(error, datetime.max.replace(tzinfo=UTC))
            return error
        if answer.status == 422:
            return ProviderError(
                f"unicorn refused our request for {what} as invalid ({answer.url} answered {detail}): this is a"
                " bug in kapman-options' request, please report it with this line"
            )
        return ProviderError(f"unicorn cannot serve {what}: {answer.url} answered {detail}")

    def malformed(self, problem: str) -> MalformedResponse:
        return MalformedResponse(
            f"unicorn {self.endpoint} for {self.symbol} session {self.session.isoformat()} {problem}"
        )


class _Truncated(Exception):
    """A filter combination with more rows than `page[offset]` can reach: slice it."""


def _split(filters: Mapping[str, str], session: date) -> list[dict[str, str]] | None:
    """Narrower filter combinations covering `filters`: the expiration window halved (an open-ended
    one cut at a year), then the two types, then the strike band halved; None when nothing is left."""
    first = _date(filters.get("filter[exp_date_from]")) or session
    last = _date(filters.get("filter[exp_date_to]"))
    if last is None:
        cut = first + timedelta(days=365)
        return [
            {**filters, "filter[exp_date_from]": first.isoformat(), "filter[exp_date_to]": cut.isoformat()},
            {**filters, "filter[exp_date_from]": (cut + timedelta(days=1)).isoformat()},
        ]
    if first < last:
        middle = first + (last - first) // 2
        return [
            {**filters, "filter[exp_date_to]": middle.isoformat()},
            {**filters, "filter[exp_date_from]": (middle + timedelta(days=1)).isoformat()},
        ]
    if "filter[type]" not in filters:
        return [{**filters, "filter[type]": "call"}, {**filters, "filter[type]": "put"}]
    low = Decimal(filters.get("filter[strike_from]", "0"))
    high = Decimal(filters.get("filter[strike_to]", str(STRIKE_CEILING)))
    if high - low < Decimal("0.002"):
        return None
    middle = ((low + high) / 2).quantize(Decimal("0.001"))
    return [
        {**filters, "filter[strike_from]": str(low), "filter[strike_to]": str(middle)},
        {**filters, "filter[strike_from]": str(middle + Decimal("0.001")), "filter[strike_to]": str(high)},
    ]


# ---- one fetch of one symbol-day ----------------------------------------------------------------


class _Fetch:
    def __init__(self, provider: UnicornProvider, symbol: str, session: date, large: bool) -> None:
        self.provider = provider
        self.symbol = symbol.strip().upper()
        self.api_symbol = _api_symbol(self.symbol)
        self.session = session
        self.large = large

    def call(self, endpoint: str) -> _Call:
        return _Call(self.provider, self.symbol, self.session, endpoint, self.large)

    def current(self) -> ChainSnapshot:
        """The current session from `/contracts`, each row checked against the session's date."""
        spent_before = self.provider.api_calls
        call = self.call(CONTRACTS_PATH)
        filters = {"filter[underlying_symbol]": self.api_symbol, "filter[exp_date_from]": self.session.isoformat()}
        rows, unreadable, requests = call.collect(CONTRACTS_PATH, filters)
        if not rows:
            raise EmptyChain(
                f"unicorn returned an empty chain for {self.symbol} (session {self.session.isoformat()},"
                f" {CONTRACTS_PATH}): no listed contracts, or the symbol has no options"
            )
        kept: dict[str, list[Mapping[str, Any]]] = {}
        other_dates: dict[date, int] = {}
        undated = duplicates = 0
        for ident, attributes in rows:
            observed = _quote_date(attributes)
            if observed is None:
                undated += 1
                continue
            if observed != self.session:
                other_dates[observed] = other_dates.get(observed, 0) + 1
                continue
            duplicates += _file(kept, ident, attributes)
        other = sum(other_dates.values())
        if not kept:
            latest = max(other_dates) if other_dates else None
            raise SessionUnavailable(
                f"unicorn cannot serve {self.symbol} for {self.session.isoformat()} from {CONTRACTS_PATH}: none of"
                f" its {len(rows)} rows is dated that session"
                + (f" (latest {latest.isoformat()})" if latest else "")
                + ": the session's data is not published yet (EODHD updates 22:00-00:00 New York); try later"
            )
        quotes, unusable = _quotes(kept)
        closes = self.provider.underlying_closes(self.symbol, self.session, self.session, large=self.large)
        counts = {
            "dropped_other_date": other,
            "dropped_undated": undated,
            "dropped_unreadable": unreadable + unusable,
            "duplicate_rows": duplicates,
        }
        return self.snapshot(
            quotes,
            closes.get(self.session),
            source=f"EODHD Unicorn Bay {CONTRACTS_PATH} (latest state, checked against the session's date)",
            dropped=other + undated + unreadable + unusable,
            counts=counts,
            requests=requests,
            api_calls=self.provider.api_calls - spent_before,
        )

    def past(self) -> ChainSnapshot:
        """A past session from the `/eod` rows whose `id` names it (never a `tradetime` match)."""
        spent_before = self.provider.api_calls
        pulled = self.provider.eod_rows_for_sessions(self.symbol, [self.session], large=self.large)
        contracts = pulled.by_session.get(self.session, {})
        if not contracts:
            raise SessionUnavailable(
                f"unicorn has no {EOD_PATH} rows of {self.symbol} observed on {self.session.isoformat()}: the"
                " session is not published yet, is before the API's history (about two years), or the symbol"
                " had no listed options then"
            )
        quotes, unusable = _quotes(contracts)
        closes = self.provider.underlying_closes(self.symbol, self.session, self.session, large=self.large)
        counts = {**pulled.counts, "dropped_unreadable": pulled.counts.get("dropped_unreadable", 0) + unusable}
        # (rows dated on a non-session are counted in the notes, but were never this session's rows)
        dropped = sum(counts.get(name, 0) for name in ("dropped_unreadable", "dropped_mismatch"))
        return self.snapshot(
            quotes,
            closes.get(self.session) or _parity_close(quotes, self.session),
            source=f"EODHD Unicorn Bay {EOD_PATH} rows observed on the session (id date)",
            dropped=dropped,
            counts=counts,
            requests=counts.pop("requests", 0),
            api_calls=self.provider.api_calls - spent_before,
        )

    def snapshot(
        self,
        quotes: tuple[OptionQuote, ...],
        close: float | EstimatedClose | None,
        *,
        source: str,
        dropped: int,
        counts: Mapping[str, int],
        requests: int,
        api_calls: int,
    ) -> ChainSnapshot:
        estimated = isinstance(close, EstimatedClose)
        if estimated:
            close_source = (
                f"forward from put-call parity at the strikes nearest the money (ESTIMATED: "
                f"{STOCK_EOD_PATH.format(ticker=self.api_symbol)} not available on this plan)"
            )
            close = close.value
        elif close is not None:
            close_source = f"{STOCK_EOD_PATH.format(ticker=self.api_symbol)} close (raw, not adjusted_close)"
        else:
            close_source = "unavailable"
        logger.info(
            "event=chain_fetched provider=unicorn symbol=%s session=%s contracts=%d requests=%d api_calls=%d"
            " dropped=%d underlying_close=%s",
            self.symbol,
            self.session.isoformat(),
            len(quotes),
            requests,
            api_calls,
            dropped,
            close,
        )
        return ChainSnapshot(
            symbol=self.symbol,
            session=self.session,
            underlying_close=close,
            quotes=quotes,
            provider=PROVIDER_NAME,
            source=source,
            missing_fields=tuple(name for name in QUOTE_FIELDS if all(getattr(q, name) is None for q in quotes)),
            dropped_rows=dropped,
            close_estimated=estimated,
            notes={
                "requests": str(requests),
                "api_calls": str(api_calls),
                "underlying_close_source": close_source,
                **{name: str(count) for name, count in counts.items() if count},
            },
        )


class _EodPull:
    """The hybrid route for one symbol over a set of sessions (see `eod_rows_for_sessions`)."""

    def __init__(self, provider: UnicornProvider, symbol: str, sessions: list[date], large: bool) -> None:
        self.provider = provider
        self.symbol = symbol.strip().upper()
        self.api_symbol = _api_symbol(self.symbol)
        self.sessions = sessions
        self.wanted = frozenset(sessions)
        self.large = large
        first, last = sessions[0], sessions[-1]
        self.first, self.last = first, last
        self.by_session: dict[date, dict[str, list[Mapping[str, Any]]]] = {day: {} for day in sessions}
        self.counts: dict[str, int] = {}
        # day → whether the calendar has a session on it (holiday-dated rows exist, and are dropped)
        self.is_session: dict[date, bool] = {day: True for day in sessions}

    def call(self, endpoint: str) -> _Call:
        return _Call(self.provider, self.symbol, self.first, endpoint, self.large)

    def count(self, name: str, amount: int = 1) -> None:
        if amount:
            self.counts[name] = self.counts.get(name, 0) + amount

    def run(self) -> EodRows:
        first = self.first.isoformat()
        listed, unreadable, requests = self.call(CONTRACTS_PATH).collect(
            CONTRACTS_PATH,
            {
                "filter[underlying_symbol]": self.api_symbol,
                "filter[exp_date_from]": first,
                "fields[options-contracts]": "contract,underlying_symbol,exp_date,type,strike",
            },
        )
        self.count("requests", requests)
        self.count("dropped_unreadable", unreadable)
        universe: dict[str, date | None] = {}
        for ident, attributes in listed:
            universe[ident] = _date(attributes.get("exp_date")) or _occ_expiration(ident)
        bulk, unreadable, requests = self.call(EOD_PATH).collect(
            EOD_PATH,
            {
                "filter[underlying_symbol]": self.api_symbol,
                "filter[exp_date_from]": first,
                "filter[tradetime_from]": (self.first - self.provider.bulk_window).isoformat(),
                "filter[tradetime_to]": self.last.isoformat(),
            },
        )
        self.count("requests", requests)
        self.count("bulk_rows", len(bulk))
        self.count("dropped_unreadable", unreadable)
        for ident, attributes in bulk:
            self.file(ident, attributes, expected_contract=None)
        missing = [
            contract
            for contract, expiration in sorted(universe.items())
            if any(
                contract not in self.by_session[day] for day in self.sessions if expiration is None or day <= expiration
            )
        ]
        self.count("contracts_fetched_one_by_one", len(missing))
        for contract in missing:
            rows, unreadable, requests = self.call(EOD_PATH).collect(EOD_PATH, {"filter[contract]": contract})
            self.count("requests", requests)
            self.count("dropped_unreadable", unreadable)
            for ident, attributes in rows:
                self.file(ident, attributes, expected_contract=contract)
        return EodRows(by_session=self.by_session, counts=self.counts)

    def file(self, ident: str, attributes: Mapping[str, Any], *, expected_contract: str | None) -> None:
        """Keep a row under the session its `id` names, if that is one of ours and it is consistent."""
        contract, observed = _split_eod_id(ident)
        if observed is None:
            self.count("dropped_unreadable")
            return
        if observed not in self.is_session:
            self.is_session[observed] = self.provider._is_session(observed)
        if not self.is_session[observed]:
            self.count("dropped_non_session")
            return
        if observed not in self.wanted:
            return  # another session's row: not ours to keep (a window caller asks for it)
        underlying = attributes.get("underlying_symbol")
        if expected_contract is not None and contract != expected_contract:
            self.count("dropped_mismatch")
            return
        if expected_contract is None and isinstance(underlying, str) and underlying.upper() != self.api_symbol:
            self.count("dropped_mismatch")
            return
        quoted = _quote_date(attributes, allow_dte=False)
        if quoted is not None and quoted != observed:
            # The id and the quote times disagree on the day: trust neither.
            self.count("dropped_mismatch")
            return
        self.count("duplicate_rows", _file(self.by_session[observed], contract, attributes))


def _file(kept: dict[str, list[Mapping[str, Any]]], contract: str, attributes: Mapping[str, Any]) -> int:
    """Add a row to its contract's distinct rows; 1 if it repeats one already there, else 0."""
    copies = kept.setdefault(contract, [])
    if attributes in copies:
        return 1
    copies.append(attributes)
    return 0


# ---- rows to quotes -----------------------------------------------------------------------------

_TYPES: dict[str, Literal["C", "P"]] = {"call": "C", "put": "P"}
_GREEKS = ("delta", "gamma", "theta", "vega")


def _quotes(contracts: Mapping[str, list[Mapping[str, Any]]]) -> tuple[tuple[OptionQuote, ...], int]:
    """Quotes of every contract's rows (copies that disagree are all passed on, for the validator to
    drop as a conflict), and the number of rows without a usable identity."""
    quotes: list[OptionQuote] = []
    unusable = 0
    for contract, rows in contracts.items():
        for attributes in rows:
            option_quote = _quote(contract, attributes)
            if option_quote is None:
                unusable += 1
            else:
                quotes.append(option_quote)
    return tuple(quotes), unusable


def _quote(contract: str, attributes: Mapping[str, Any]) -> OptionQuote | None:
    """One row as a quote. Zero IV and all-zero greeks mean "not computed" at this source (its
    documented examples show them on illiquid contracts), so they are stored as unknown."""
    try:
        occ = parse_occ_ticker(contract)
    except InvalidOccTicker:
        occ = None
    kind = attributes.get("type")
    option_type = _TYPES.get(kind.lower()) if isinstance(kind, str) else None
    option_type = option_type or (occ.option_type if occ else None)
    expiration = _date(attributes.get("exp_date")) or (occ.expiration_date if occ else None)
    strike = _strike(attributes.get("strike")) or (occ.strike_price if occ else None)
    if option_type is None or expiration is None or strike is None:
        return None
    greeks_unknown = all(attributes.get(name) in (0, None) for name in _GREEKS)
    volatility = _reported(attributes.get("volatility"))
    last = _number(attributes.get("last"))
    return OptionQuote(
        expiration_date=expiration,
        strike_price=strike,
        option_type=option_type,
        bid=_reported(attributes.get("bid")),
        ask=_reported(attributes.get("ask")),
        last=last if last else None,
        volume=_count(attributes.get("volume")),
        open_interest=_count(attributes.get("open_interest")),
        implied_volatility=None if volatility == 0 else volatility,
        delta=None if greeks_unknown else _reported(attributes.get("delta")),
        gamma=None if greeks_unknown else _reported(attributes.get("gamma")),
        theta=None if greeks_unknown else _reported(attributes.get("theta")),
        vega=None if greeks_unknown else _reported(attributes.get("vega")),
    )


# ---- value readers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EstimatedClose:
    """An underlying price that is an estimate, never to be stored or used as an exact close."""

    value: float


def _parity_close(quotes: tuple[OptionQuote, ...], session: date) -> EstimatedClose | None:
    """The forward implied by the chain's own mid prices (the plan has no stock prices)."""
    mids: dict[tuple[date, Decimal], dict[str, float]] = {}
    for option in quotes:
        if option.bid is not None and option.ask is not None and 0 < option.bid <= option.ask:
            mids.setdefault((option.expiration_date, option.strike_price), {})[option.option_type] = (
                option.bid + option.ask
            ) / 2
    pairs = [
        QuotedPair(expiration, strike, sides["C"], sides["P"])
        for (expiration, strike), sides in mids.items()
        if "C" in sides and "P" in sides
    ]
    forward = forward_from_parity(pairs, session)
    return EstimatedClose(forward) if forward is not None else None


def _query(params: Mapping[str, str]) -> str:
    """A query string, values encoded. The names' brackets are written literally, but urllib3 (under
    requests) percent-encodes them on the wire whatever we write: that is how the trading system's
    requests-based client sends them, and it gets filtered answers live (fact sheet §10)."""
    return "&".join(f"{name}={quote(str(value), safe='-._~:,')}" for name, value in params.items())


def _offset_of(target: str, otherwise: int) -> int:
    for name, value in parse_qsl(urlsplit(target).query):
        if name == "page[offset]":
            try:
                return int(value)
            except ValueError:
                return otherwise
    return otherwise


def _split_eod_id(ident: str) -> tuple[str, date | None]:
    """`AAPL270115P00450000-2025-08-12` → (`AAPL270115P00450000`, 2025-08-12)."""
    if len(ident) < 12 or ident[-11] != "-":
        return ident, None
    return ident[:-11], _date(ident[-10:])


def _quote_date(attributes: Mapping[str, Any], *, allow_dte: bool = True) -> date | None:
    """The New York date a row's quotes were taken (`bid_date`, else `ask_date`, both UTC), else
    (`allow_dte`) the observation date `dte` implies from `exp_date`."""
    for name in ("bid_date", "ask_date"):
        moment = _utc_moment(attributes.get(name))
        if moment is not None:
            return moment.astimezone(NEW_YORK).date()
    if allow_dte:
        expiration = _date(attributes.get("exp_date"))
        dte = attributes.get("dte")
        if expiration is not None and isinstance(dte, int) and not isinstance(dte, bool):
            return expiration - timedelta(days=dte)
    return None


def _utc_moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value.strip()) < 19:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _occ_expiration(contract: str) -> date | None:
    try:
        return parse_occ_ticker(contract).expiration_date
    except InvalidOccTicker:
        return None


def _api_symbol(symbol: str) -> str:
    """The API's form of an underlying: bare, class shares with a dash (`BRK.B` → `BRK-B`)."""
    return symbol.strip().upper().removesuffix(".US").replace(".", "-")


def _error_text(answer: ApiResponse) -> str:
    """The API's own words: `message`/`error`, a 422's `errors` by field, else the plain body."""
    body = answer.body
    if isinstance(body, dict) and isinstance(body.get("errors"), dict):
        parts = []
        for name, messages in body["errors"].items():
            listed = messages if isinstance(messages, list) else [messages]
            parts.append(f"{name}: {' '.join(str(message) for message in listed)}")
        return "; ".join(parts)[:300]
    return answer.error_text or answer.text


def _reset_text(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    for name in ("timeToReset", "time_to_reset", "reset", "resetAt", "reset_at"):
        value = body.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()[:40]
    return None


def _next_reset(text: str, now: datetime) -> datetime | None:
    """The next moment after `now` that a reset time like `19:01 GMT+0000` names."""
    parts = text.split()
    try:
        hour, minute = (int(part) for part in parts[0].split(":")[:2])
        offset = timedelta()
        if len(parts) > 1 and parts[1].upper().startswith(("GMT", "UTC")) and len(parts[1]) >= 8:
            sign = -1 if parts[1][3] == "-" else 1
            offset = sign * timedelta(hours=int(parts[1][4:6]), minutes=int(parts[1][6:8]))
        candidate = datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), tzinfo=UTC)
        candidate += timedelta(hours=hour, minutes=minute) - offset
    except (ValueError, IndexError):
        return None
    while candidate <= now:
        candidate += timedelta(days=1)
    return candidate


def _missing_key_message() -> str:
    return f"unicorn needs an API token: pass --api-key or set {' / '.join(UNICORN_API_KEYS)} (EODHD dashboard)"
