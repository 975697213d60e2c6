"""Massive (formerly Polygon.io) option chains: the live snapshot for the current session, daily
history endpoints for past sessions.

The chain snapshot has no date parameter and silently answers with today's chain whatever date it
is asked for, so it is used only for the current session. Past sessions come from
`/options/v1/analytics` (greeks, IV, underlying price as of 15:45 ET) joined on the contract ticker
with `/options/v1/open-interest` (OPRA open interest at the end of that session). Those two endpoints
are not in any published spec: their parameter and field names are assumptions kept in one place
(`HISTORY_QUERY`, `ANALYTICS`, `OPEN_INTEREST` below), and a field missing from every row fails
loudly instead of becoming a column of NULLs.

See /work/shared/providers/massive-api.md for what is confirmed and what is not.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

from markets.calendar import DEFAULT_CALENDAR, NEW_YORK, get_calendar, latest_completed_session
from markets.occ import InvalidOccTicker, OccContract, parse_occ_ticker
from providers.base import (
    QUOTE_FIELDS,
    AuthError,
    ChainSnapshot,
    EmptyChain,
    MalformedResponse,
    OptionQuote,
    ProviderError,
    ProviderSettings,
    SessionUnavailable,
    SymbolNotFound,
    WindowNotServed,
)
from providers.http import ApiClient, ApiResponse, HttpSettings, RequestBudget, next_page_path, settings_for_run
from providers.values import count as _count
from providers.values import number as _number
from providers.values import reported as _reported
from providers.values import strike as _strike
from providers.window import ASSUMED_SLICE_SESSIONS
from settings.environment import POLYGON_API_KEY

logger = logging.getLogger("kapman.providers.polygon")

PROVIDER_NAME = "polygon"
DEFAULT_BASE_URL = "https://api.massive.com"

# Index options: the snapshot and /v1/open-close take `I:SPX`; the history endpoints take `SPX`
# (their documented examples use the bare symbol; whether `I:SPX` also works is unconfirmed).
INDEX_UNDERLYINGS = frozenset({"SPX", "NDX", "RUT", "VIX", "XSP", "DJX"})
INDEX_PREFIX = "I:"

SNAPSHOT_PATH = "/v3/snapshot/options/{asset}"
SNAPSHOT_PAGE_LIMIT = 250  # the documented maximum
OPEN_CLOSE_PATH = "/v1/open-close/{asset}/{session}"
# Daily bars over a range, one request (CONFIRMED: fact sheet §6.1); `t` is New York midnight in ms.
AGGREGATES_PATH = "/v2/aggs/ticker/{asset}/range/1/day/{first}/{last}"
# A runaway-pagination guard beyond the repeated-cursor check: 1000 pages is 250k snapshot rows.
MAX_PAGES = 1000
# The calendar protocol knows closes, not opens; US equity options open at 09:30 New York.
REGULAR_OPEN_NY = time(9, 30)


# ---- Massive daily-history schema: every UNCONFIRMED name lives here ---------------------------


@dataclass(frozen=True)
class HistoryQuery:
    """Query parameter names of the v1 history endpoints (fact sheet §2.2, §3.2)."""

    underlying: str = "underlying_ticker"  # CONFIRMED on analytics
    root: str = "root"  # CONFIRMED on open-interest
    date: str = "date"  # UNCONFIRMED (described, name not shown)
    # A date range is CONFIRMED as described ("a single day or a range"); its names are not.
    date_from: str = "date.gte"  # UNCONFIRMED
    date_to: str = "date.lte"  # UNCONFIRMED
    limit: str = "limit"  # UNCONFIRMED
    # UNCONFIRMED: sibling v1 endpoints document max 50000 (49999 for some); 49999 fits both.
    page_limit: int = 49_999


@dataclass(frozen=True)
class HistoryEndpoint:
    """One history endpoint: its path, and for each value we read, the response keys that may hold
    it (first one present in any row wins; dotted keys reach into nested objects)."""

    path: str
    fields: Mapping[str, tuple[str, ...]]
    # Fields whose absence from every row means our mapping is wrong (not that values are null).
    required: tuple[str, ...]


HISTORY_QUERY = HistoryQuery()

ANALYTICS = HistoryEndpoint(
    path="/options/v1/analytics",
    fields={
        "ticker": ("ticker",),
        # ISO date or datetime, or epoch seconds/ms/us/ns: every form is checked (`_session_of`).
        "date": ("date", "timestamp"),
        "implied_volatility": ("implied_volatility", "iv"),
        "delta": ("delta", "greeks.delta"),
        "gamma": ("gamma", "greeks.gamma"),
        "theta": ("theta", "greeks.theta"),
        "vega": ("vega", "greeks.vega"),
        "underlying_price": ("underlying_price", "underlying_asset.price", "underlying_asset.value"),
        # The model inputs each row was priced with (CONFIRMED to exist: "the model inputs used ...
        # dividend yield and risk-free rate"; the names and units are UNCONFIRMED, see `_pricing_input`).
        "risk_free_rate": ("risk_free_rate", "interest_rate", "model_inputs.risk_free_rate"),
        "dividend_yield": ("dividend_yield", "model_inputs.dividend_yield"),
    },
    required=("ticker", "implied_volatility", "delta", "gamma", "theta", "vega"),
)
# Fields that describe how a session was priced, not one contract: left out of a row's identity.
PRICING_FIELDS = ("risk_free_rate", "dividend_yield")

OPEN_INTEREST = HistoryEndpoint(
    path="/options/v1/open-interest",
    fields={
        "ticker": ("ticker",),
        "date": ("date", "timestamp"),
        "open_interest": ("open_interest",),
    },
    required=("ticker", "open_interest"),
)

# ---------------------------------------------------------------------------------------------------

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PolygonProvider:
    """Massive/Polygon chain source. One instance per process: it owns the request budget."""

    name = PROVIDER_NAME
    simulated = False

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        calendar: str = DEFAULT_CALENDAR,
        clock: Clock | None = None,
        http_settings: HttpSettings | None = None,
        budget: RequestBudget | None = None,
    ) -> None:
        if not api_key or not api_key.strip():
            raise AuthError(_missing_key_message())
        self._http = ApiClient(
            base_url or DEFAULT_BASE_URL, api_key.strip(), http_settings, provider=self.name, budget=budget
        )
        self._calendar = get_calendar(calendar)
        self._clock = clock or _utc_now

    @classmethod
    def from_settings(
        cls,
        settings: ProviderSettings,
        *,
        calendar: str = DEFAULT_CALENDAR,
        clock: Clock | None = None,
        http_settings: HttpSettings | None = None,
    ) -> PolygonProvider:
        """Build from the run's settings: key, base URL (default Massive's), request budget and gate."""
        if not settings.api_key:
            raise AuthError(_missing_key_message())
        provider = cls(
            settings.api_key,
            base_url=settings.base_url or DEFAULT_BASE_URL,
            calendar=calendar,
            clock=clock,
            http_settings=settings_for_run(settings, http_settings or HttpSettings()),
        )
        provider.budget.share_with(settings.request_gate)
        return provider

    @property
    def budget(self) -> RequestBudget:
        return self._http.budget

    def close(self) -> None:
        self._http.close()

    def current_session(self) -> date:
        """The session the live snapshot describes: today's once it has opened, else the latest one
        that closed (before the open, the snapshot still holds the previous session's end state)."""
        now = self._clock()
        today = now.astimezone(NEW_YORK).date()
        opened = now >= datetime.combine(today, REGULAR_OPEN_NY, tzinfo=NEW_YORK)
        if opened and self._calendar.sessions(today, today):
            return today
        return latest_completed_session(self._calendar, now)

    def fetch_chain(self, symbol: str, session: date, *, large: bool = False) -> ChainSnapshot:
        """`symbol`'s chain for `session`: the snapshot if it is the current session, history if past."""
        symbol = _bare_symbol(symbol)
        current = self.current_session()
        if session > current:
            raise SessionUnavailable(
                f"polygon cannot serve {symbol} for {session.isoformat()}: that session has not started"
                f" or closed yet (current session {current.isoformat()})"
            )
        if session == current:
            return _SnapshotFetch(self._http, symbol, session, large, self._clock()).run()
        if not self._calendar.sessions(session, session):
            raise SessionUnavailable(
                f"polygon cannot serve {symbol} for {session.isoformat()}: not a {self._calendar.name} trading session"
            )
        return _HistoryFetch(self._http, symbol, session, large).run()

    def fetch_window(self, symbol: str, sessions: Sequence[date], *, large: bool = False) -> Iterator[ChainSnapshot]:
        """Past `sessions` of `symbol` from the daily history in one pass per endpoint (date-range
        filters), one snapshot per session the answer covers. A session it does not cover is simply
        not yielded (the caller asks for it day by day). Raises `WindowNotServed` when the answer
        looks like the range filter was ignored (rows outside the window, or of one date only):
        the caller then asks day by day, and no row is ever stored under another session."""
        symbol = _bare_symbol(symbol)
        current = self.current_session()
        past = [session for session in sessions if session < current and self._calendar.sessions(session, session)]
        if len(past) < 2:
            return iter(())
        return _HistoryWindow(self._http, symbol, sorted(past), large).run()

    def estimated_requests(self, sessions_by_symbol: Mapping[str, Sequence[date]], *, window: bool) -> int:
        """Requests a run will make at the fewest pages: per symbol-day (analytics, open interest,
        close) day by day, or per symbol window (the same three, once) when fetching by window."""
        per_fetch = 3  # analytics + open interest (one root; indices list more) + the close
        if window:
            # A first slice spans ASSUMED_SLICE_SESSIONS; later ones are longer for smaller chains.
            return sum(
                per_fetch * -(-len(sessions) // ASSUMED_SLICE_SESSIONS) for sessions in sessions_by_symbol.values()
            )
        return sum(per_fetch * len(sessions) for sessions in sessions_by_symbol.values())


# ---- shared plumbing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    """Who asked for what, so every error can name the symbol, session and endpoint."""

    http: ApiClient
    symbol: str
    session: date
    endpoint: str
    large: bool

    def pages(self, path: str, params: Mapping[str, Any]) -> Iterator[list[Any]]:
        """Yield each page's `results`, following `next_url` until it is absent.

        Only next_url's path and query are sent, to our own base URL (a response body never decides
        where the key goes): a next_url naming another scheme, host or port, carrying user info, or
        with a path that does not start with `/` is refused as malformed, never followed. An `apiKey`
        in it is dropped, since auth travels in the header; a cursor seen before means the server is
        looping, which is reported instead of followed forever.
        """
        answer = self.get(path, params)
        seen: set[str] = set()
        for page_number in range(1, MAX_PAGES + 1):
            body = answer.body
            if not isinstance(body, dict):
                raise self.malformed(f"answered {type(body).__name__} instead of a JSON object")
            results = body.get("results")
            if results is None:
                results = []
            if not isinstance(results, list):
                raise self.malformed(f"answered 'results' as {type(results).__name__}, not a list")
            yield results
            next_url = body.get("next_url")
            if not next_url:
                return
            if not isinstance(next_url, str):
                raise self.malformed("answered a next_url that is not text")
            try:
                next_path = next_page_path(next_url, self.http.base_url, drop_params=("apiKey",))
            except ValueError as refused:
                shown = self.http.redact(repr(next_url[:120]))
                raise self.malformed(
                    f"answered a next_url {shown} that {refused}; refused to follow it (requests and the API"
                    f" key go only to {self.http.base_url})"
                ) from None
            cursor = _cursor_of(next_path)
            if cursor in seen:
                raise self.malformed(
                    f"repeated the same next_url cursor after {page_number} pages; stopped instead of"
                    " looping (known Massive pagination issue; retry later)"
                )
            seen.add(cursor)
            answer = self.get(next_path, None)
        raise self.malformed(f"kept paginating past {MAX_PAGES} pages; stopped")

    def get(self, path: str, params: Mapping[str, Any] | None) -> ApiResponse:
        answer = self.http.get(path, params, large=self.large)
        if not answer.ok:
            raise self.error_for(answer)
        return answer

    def error_for(self, answer: ApiResponse) -> ProviderError:
        """The typed error for a non-2xx answer; messages are one line and say what to do."""
        said = self.http.redact(answer.error_text)
        detail = f"HTTP {answer.status}" + (f" {answer.body_status}" if answer.body_status else "")
        detail += f' "{said}"' if said else ""
        detail += f"; request_id={answer.request_id}" if answer.request_id else ""
        what = f"{self.symbol} for session {self.session.isoformat()}"
        if answer.status == 401:
            return AuthError(
                f"polygon rejected the API key ({self.endpoint} answered {detail}): check {POLYGON_API_KEY}"
            )
        if answer.status == 403:
            return SessionUnavailable(
                f"polygon cannot serve {what}: {self.endpoint} answered {detail}; the Massive plan is not"
                " entitled to this data: upgrade the plan or ingest this session with another provider"
            )
        if answer.status == 404 and self.endpoint in (ANALYTICS.path, OPEN_INTEREST.path):
            return SessionUnavailable(
                f"polygon cannot serve {what}: {self.endpoint} answered {detail}; this session's history"
                " is not published yet (analytics land after the close, open interest the next morning)"
            )
        if answer.status == 404:
            return SymbolNotFound(f"polygon does not know the underlying {self.symbol}: {answer.url} answered {detail}")
        return ProviderError(f"polygon cannot serve {what}: {answer.url} answered {detail}")

    def malformed(self, problem: str) -> MalformedResponse:
        return MalformedResponse(
            f"polygon {self.endpoint} for {self.symbol} session {self.session.isoformat()} {problem}"
        )


def _cursor_of(path: str) -> str:
    cursors = parse_qs(urlsplit(path).query).get("cursor")
    return cursors[0] if cursors else path


def _bare_symbol(symbol: str) -> str:
    symbol = symbol.strip().upper()
    return symbol[len(INDEX_PREFIX) :] if symbol.startswith(INDEX_PREFIX) else symbol


def _asset(symbol: str) -> str:
    """The path form of an underlying: `I:SPX` for indices, `AAPL` for the rest."""
    return INDEX_PREFIX + symbol if symbol in INDEX_UNDERLYINGS else symbol


def _missing_fields(quotes: tuple[OptionQuote, ...]) -> tuple[str, ...]:
    return tuple(name for name in QUOTE_FIELDS if all(getattr(quote, name) is None for quote in quotes))


def _counts(**counts: int) -> dict[str, str]:
    return {name: str(count) for name, count in counts.items() if count}


# ---- current session: the chain snapshot ----------------------------------------------------------


class _SnapshotFetch:
    """Pages the live chain snapshot into quotes for the current session."""

    def __init__(self, http: ApiClient, symbol: str, session: date, large: bool, now: datetime) -> None:
        self.request = _Request(http, symbol, session, "/v3/snapshot/options", large)
        self.now = now

    def run(self) -> ChainSnapshot:
        request = self.request
        path = SNAPSHOT_PATH.format(asset=quote(_asset(request.symbol), safe=":"))
        # identity → its distinct copies: exact repeats are dropped here, copies that disagree are all
        # passed on, for the validator to drop as a conflict (tasks/chain_rows.py)
        quotes: dict[Any, list[OptionQuote]] = {}
        underlying_close: float | None = None
        rows = pages = duplicates = conflicting = missing_identity = other_type = 0
        for results in request.pages(path, {"limit": SNAPSHOT_PAGE_LIMIT}):
            pages += 1
            for row in results:
                rows += 1
                if not isinstance(row, dict):
                    missing_identity += 1
                    continue
                if underlying_close is None:
                    underlying_close = _underlying_price(row.get("underlying_asset"))
                parsed = _snapshot_quote(row)
                if parsed == "other":
                    other_type += 1
                elif parsed is None:
                    missing_identity += 1
                else:
                    identity, option_quote = parsed
                    copies = quotes.setdefault(identity, [])
                    if option_quote in copies:
                        duplicates += 1
                    else:
                        conflicting += bool(copies)
                        copies.append(option_quote)
        if rows == 0:
            raise EmptyChain(
                f"polygon returned an empty chain for {request.symbol} (session {request.session.isoformat()},"
                f" {path}): no listed contracts, or the symbol has no options"
            )
        if not quotes:
            raise request.malformed(f"returned {rows} rows but none had an expiration, strike and type")
        chain = tuple(option_quote for copies in quotes.values() for option_quote in copies)
        logger.info(
            "event=chain_fetched provider=polygon mode=snapshot symbol=%s session=%s contracts=%d rows=%d"
            " pages=%d duplicates=%d dropped=%d underlying_close=%s",
            request.symbol,
            request.session.isoformat(),
            len(chain),
            rows,
            pages,
            duplicates,
            missing_identity + other_type,
            underlying_close,
        )
        return ChainSnapshot(
            symbol=request.symbol,
            session=request.session,
            underlying_close=underlying_close,
            quotes=chain,
            provider=PROVIDER_NAME,
            source="Massive (Polygon) option chain snapshot /v3/snapshot/options",
            missing_fields=_missing_fields(chain),
            dropped_rows=missing_identity + other_type,
            notes={
                "captured_at": self.now.astimezone(UTC).isoformat(),
                "pages": str(pages),
                # The snapshot's OI refreshes once a day (~06:30 ET): after the close it still
                # describes the end of the previous session.
                "open_interest_as_of": "snapshot value at capture (refreshed each morning, ~06:30 ET)",
                "last_source": "last_trade.price, else day.close when positive",
                **_counts(
                    duplicate_rows=duplicates,
                    conflicting_rows=conflicting,
                    dropped_missing_identity=missing_identity,
                    dropped_other_type=other_type,
                ),
            },
        )


_CONTRACT_TYPES: dict[str, Literal["C", "P"]] = {"call": "C", "put": "P"}


def _snapshot_quote(row: Mapping[str, Any]) -> tuple[Any, OptionQuote] | Literal["other"] | None:
    """(identity, quote) for one snapshot row; "other" for non call/put contracts; None if unusable.

    Identity comes from `details`, each missing part falling back to the OCC ticker; rows are
    de-duplicated on the ticker (the contract's true identity) when there is one.
    """
    details = _mapping(row.get("details"))
    ticker = details.get("ticker") if isinstance(details.get("ticker"), str) else None
    occ = _occ_or_none(ticker)
    contract_type = details.get("contract_type")
    if isinstance(contract_type, str) and contract_type.lower() == "other":
        return "other"
    option_type = _CONTRACT_TYPES.get(contract_type.lower()) if isinstance(contract_type, str) else None
    option_type = option_type or (occ.option_type if occ else None)
    expiration = _date(details.get("expiration_date")) or (occ.expiration_date if occ else None)
    strike = _strike(details.get("strike_price")) or (occ.strike_price if occ else None)
    if option_type is None or expiration is None or strike is None:
        return None
    last_quote = _mapping(row.get("last_quote"))
    day = _mapping(row.get("day"))
    greeks = _mapping(row.get("greeks"))
    last = _number(_mapping(row.get("last_trade")).get("price"))
    if last is None:
        # The daily bar's close is that bar's last trade; 0 means the contract has not traded.
        day_close = _number(day.get("close"))
        last = day_close if day_close else None
    option_quote = OptionQuote(
        expiration_date=expiration,
        strike_price=strike,
        option_type=option_type,
        bid=_reported(last_quote.get("bid")),
        ask=_reported(last_quote.get("ask")),
        last=last,
        volume=_count(day.get("volume")),
        open_interest=_count(row.get("open_interest")),
        implied_volatility=_reported(row.get("implied_volatility")),
        delta=_reported(greeks.get("delta")),
        gamma=_reported(greeks.get("gamma")),
        theta=_reported(greeks.get("theta")),
        vega=_reported(greeks.get("vega")),
    )
    return (ticker or option_quote.key), option_quote


def _underlying_price(underlying_asset: Any) -> float | None:
    """`price` for equities, `value` (the index level) for indices."""
    asset = _mapping(underlying_asset)
    price = _number(asset.get("price"))
    return price if price is not None else _number(asset.get("value"))


# ---- past sessions: daily history ---------------------------------------------------------------


class _HistoryFetch:
    """Joins a past session's analytics (greeks, IV) with its open interest, per contract ticker."""

    def __init__(self, http: ApiClient, symbol: str, session: date, large: bool) -> None:
        self.http = http
        self.symbol = symbol
        self.session = session
        self.large = large
        # Rows dropped because their own date is another session, or is in no form we can read.
        self.wrong_session = 0
        self.unreadable_date = 0

    def request(self, endpoint: HistoryEndpoint | str) -> _Request:
        path = endpoint.path if isinstance(endpoint, HistoryEndpoint) else endpoint
        return _Request(self.http, self.symbol, self.session, path, self.large)

    def run(self) -> ChainSnapshot:
        analytics_rows, analytics_pages = self.rows(
            ANALYTICS, {HISTORY_QUERY.underlying: self.symbol}, expected_root=None
        )
        if not analytics_rows:
            raise SessionUnavailable(
                f"polygon has no {ANALYTICS.path} rows for {self.symbol} on {self.session.isoformat()}:"
                " the session's history is not published yet, or the symbol has no listed options"
            )
        roots = self.roots(analytics_rows)
        all_oi_rows: list[Mapping[str, Any]] = []
        oi_pages = 0
        for root in roots:
            rows, pages = self.rows(OPEN_INTEREST, {HISTORY_QUERY.root: root}, expected_root=root)
            all_oi_rows.extend(rows)
            oi_pages += pages
        if not all_oi_rows:
            raise SessionUnavailable(
                f"polygon has no {OPEN_INTEREST.path} rows for {self.symbol} (roots {', '.join(roots)}) on"
                f" {self.session.isoformat()}: open interest is published the morning after the session"
            )
        analytics = _resolve_fields(ANALYTICS, analytics_rows, self.request(ANALYTICS))
        close, close_source = self.underlying_close(analytics_rows, analytics["underlying_price"])
        return self.assemble(analytics_rows, all_oi_rows, close, close_source, analytics_pages + oi_pages)

    def roots(self, analytics_rows: list[Mapping[str, Any]]) -> list[str]:
        """The OCC roots of the contracts listed (one underlying may list several: SPX and SPXW)."""
        analytics = _resolve_fields(ANALYTICS, analytics_rows, self.request(ANALYTICS))
        return sorted({occ.root for row in analytics_rows if (occ := _occ_or_none(_lookup(row, analytics["ticker"])))})

    def assemble(
        self,
        analytics_rows: list[Mapping[str, Any]],
        all_oi_rows: list[Mapping[str, Any]],
        close: float | None,
        close_source: str,
        pages: int,
    ) -> ChainSnapshot:
        """This session's chain from its analytics and open-interest rows, joined per contract ticker."""
        analytics = _resolve_fields(ANALYTICS, analytics_rows, self.request(ANALYTICS))
        # ticker → its contract and its distinct analytics rows (a ticker whose rows disagree keeps
        # every version, so the validator drops them all as a conflict instead of picking one)
        contracts: dict[str, tuple[OccContract, list[Mapping[str, Any]]]] = {}
        unparseable = duplicates = 0
        for row in analytics_rows:
            ticker = _lookup(row, analytics["ticker"])
            occ = _occ_or_none(ticker)
            if occ is None:
                unparseable += 1
                continue
            versions = contracts.setdefault(ticker, (occ, []))[1]
            values = _values(row, analytics)
            if any(_values(seen, analytics) == values for seen in versions):
                duplicates += 1
            else:
                versions.append(row)

        # ticker → its distinct open interest figures (more than one is a conflict, as above)
        open_interest: dict[str, list[int | float | None]] = {}
        oi_rows_seen = 0
        oi_fields = _resolve_fields(OPEN_INTEREST, all_oi_rows, self.request(OPEN_INTEREST))
        oi_only: dict[str, OccContract] = {}
        for row in all_oi_rows:
            oi_rows_seen += 1
            ticker = _lookup(row, oi_fields["ticker"])
            occ = _occ_or_none(ticker)
            if occ is None:
                unparseable += 1
                continue
            figures = open_interest.setdefault(ticker, [])
            figure = _count(_lookup(row, oi_fields["open_interest"]))
            if figure in figures:
                duplicates += 1
            else:
                figures.append(figure)
            if ticker not in contracts:
                oi_only[ticker] = occ

        quotes: list[OptionQuote] = []
        for ticker, (occ, versions) in contracts.items():
            figures = open_interest.get(ticker) or [None]
            quotes += [self.quote(occ, row, analytics, figures[0]) for row in versions]
            quotes += [self.quote(occ, versions[0], analytics, figure) for figure in figures[1:]]
        # Listed contracts with OPRA open interest but no analytics row keep their OI, greeks unknown.
        for ticker, occ in oi_only.items():
            quotes += [self.quote(occ, {}, analytics, figure) for figure in open_interest[ticker]]
        chain = tuple(quotes)
        dropped = unparseable + self.wrong_session + self.unreadable_date
        logger.info(
            "event=chain_fetched provider=polygon mode=history symbol=%s session=%s contracts=%d"
            " analytics_rows=%d oi_rows=%d pages=%d dropped=%d underlying_close=%s",
            self.symbol,
            self.session.isoformat(),
            len(chain),
            len(analytics_rows),
            oi_rows_seen,
            pages,
            dropped,
            close,
        )
        return ChainSnapshot(
            symbol=self.symbol,
            session=self.session,
            underlying_close=close,
            quotes=chain,
            provider=PROVIDER_NAME,
            source=f"Massive (Polygon) daily history {ANALYTICS.path} + {OPEN_INTEREST.path}",
            missing_fields=_missing_fields(chain),
            dropped_rows=dropped,
            risk_free_rate=_pricing_input(analytics_rows, analytics["risk_free_rate"]),
            dividend_yield=_pricing_input(analytics_rows, analytics["dividend_yield"]),
            notes={
                "greeks_as_of": "15:45 ET model snapshot (12:45 ET on early closes)",
                "open_interest_as_of": f"end of session {self.session.isoformat()} (OPRA)",
                "underlying_close_source": close_source,
                "pages": str(pages),
                **_counts(
                    dropped_unparseable_ticker=unparseable,
                    dropped_other_session=self.wrong_session,
                    dropped_unreadable_date=self.unreadable_date,
                    duplicate_rows=duplicates,
                    contracts_without_analytics=len(oi_only),
                    contracts_without_open_interest=sum(
                        1 for t in contracts if (open_interest.get(t) or [None])[0] is None
                    ),
                ),
            },
        )

    def rows(
        self, endpoint: HistoryEndpoint, filters: Mapping[str, str], *, expected_root: str | None
    ) -> tuple[list[Mapping[str, Any]], int]:
        """Every row of one history query for this session, each page checked against the filters
        (an ignored filter would otherwise page through the whole market)."""
        request = self.request(endpoint)
        params = {
            **filters,
            HISTORY_QUERY.date: self.session.isoformat(),
            HISTORY_QUERY.limit: HISTORY_QUERY.page_limit,
        }
        collected: list[Mapping[str, Any]] = []
        pages = 0
        for results in request.pages(endpoint.path, params):
            pages += 1
            kept: list[Mapping[str, Any]] = []
            # (row date or the unreadable value) of the rows this page dated elsewhere
            elsewhere: list[date | str] = []
            for row in results:
                if not isinstance(row, dict):
                    shown = self.http.redact(str(row)[:80])
                    raise request.malformed(f"answered a row that is not an object: {shown!r}")
                self.check_row(request, endpoint, row, expected_root)
                row_session = self.row_session(endpoint, row)
                if row_session is None or row_session == self.session:
                    kept.append(row)
                else:
                    elsewhere.append(row_session)
            if elsewhere and not kept:
                # Not one row of the session on this page: the filter was ignored (or the date is in a
                # form we do not know); paging on would walk the whole market.
                first = elsewhere[0]
                said = f"dated {first.isoformat()}" if isinstance(first, date) else f"with the date {first}"
                raise request.malformed(
                    f"answered a row {said} when asked for {HISTORY_QUERY.date}={self.session.isoformat()}"
                    f" (and no row of that session on the page): the date filter may have another name"
                )
            self.wrong_session += sum(isinstance(found, date) for found in elsewhere)
            self.unreadable_date += sum(not isinstance(found, date) for found in elsewhere)
            collected.extend(kept)
        return collected, pages

    def row_session(self, endpoint: HistoryEndpoint, row: Mapping[str, Any]) -> date | str | None:
        """The session a row says it describes; None when it carries no date; the value, shown
        redacted, when it carries one in no form we can read (such a row is never stored)."""
        value = _first_present(row, endpoint.fields["date"])
        if value is None:
            return None
        session = _session_of(value)
        return session if session is not None else self.http.redact(repr(value)[:40])

    def check_row(
        self, request: _Request, endpoint: HistoryEndpoint, row: Mapping[str, Any], expected_root: str | None
    ) -> None:
        if expected_root is not None:
            occ = _occ_or_none(_first_present(row, endpoint.fields["ticker"]))
            if occ is not None and occ.root != expected_root:
                raise request.malformed(
                    f"answered contract root {occ.root!r} when asked for {HISTORY_QUERY.root}={expected_root}:"
                    " the root filter may have another name"
                )

    def quote(
        self,
        occ: OccContract,
        row: Mapping[str, Any],
        analytics: Mapping[str, str | None],
        open_interest: int | None,
    ) -> OptionQuote:
        return OptionQuote(
            expiration_date=occ.expiration_date,
            strike_price=occ.strike_price,
            option_type=occ.option_type,
            open_interest=open_interest,
            implied_volatility=_reported(_lookup(row, analytics["implied_volatility"])),
            delta=_reported(_lookup(row, analytics["delta"])),
            gamma=_reported(_lookup(row, analytics["gamma"])),
            theta=_reported(_lookup(row, analytics["theta"])),
            vega=_reported(_lookup(row, analytics["vega"])),
        )

    def underlying_close(
        self, analytics_rows: list[Mapping[str, Any]], price_key: str | None
    ) -> tuple[float | None, str]:
        """The session's official close from /v1/open-close (unadjusted, so it matches that day's
        strikes); when the plan or the data does not allow it, the analytics' 15:45 ET underlying
        price, labelled as such."""
        path = OPEN_CLOSE_PATH.format(asset=quote(_asset(self.symbol), safe=":"), session=self.session.isoformat())
        answer = self.http.get(path, {"adjusted": "false"}, large=self.large)
        if answer.status == 401:
            raise self.request("/v1/open-close").error_for(answer)
        if answer.ok and isinstance(answer.body, dict):
            close = _number(answer.body.get("close"))
            if close is not None:
                return close, "/v1/open-close close (unadjusted)"
        else:
            logger.info(
                "event=open_close_unavailable provider=polygon symbol=%s session=%s status=%d request_id=%s",
                self.symbol,
                self.session.isoformat(),
                answer.status,
                answer.request_id,
            )
        return self.analytics_price(analytics_rows, price_key)

    def analytics_price(
        self, analytics_rows: list[Mapping[str, Any]], price_key: str | None
    ) -> tuple[float | None, str]:
        """The analytics' 15:45 ET underlying price, labelled as such (when no close is available)."""
        if price_key is not None:
            for row in analytics_rows:
                price = _number(_lookup(row, price_key))
                if price is not None:
                    return price, f"{ANALYTICS.path} underlying price at 15:45 ET (close unavailable)"
        return None, "unavailable"


class _HistoryWindow:
    """One symbol's daily history over several past sessions, one pass per endpoint.

    Analytics and open interest are asked for with a date range; every answer is checked: each
    row's own date must lie in the window (else the filter was ignored: `WindowNotServed`), rows
    are split by that date, and a window whose answer holds one date only is not trusted either.
    The close of every session comes from one range aggregate. Each covered session is assembled
    exactly as a single-day fetch assembles it (`_HistoryFetch.assemble`).
    """

    def __init__(self, http: ApiClient, symbol: str, sessions: list[date], large: bool) -> None:
        self.http = http
        self.symbol = symbol
        self.sessions = sessions
        self.large = large

    def run(self) -> Iterator[ChainSnapshot]:
        first = self.sessions[0]
        analytics, analytics_pages = self.rows(ANALYTICS, {HISTORY_QUERY.underlying: self.symbol}, None)
        covered = [session for session in self.sessions if analytics.get(session)]
        if not covered:
            return
        roots = _HistoryFetch(self.http, self.symbol, covered[0], self.large).roots(
            [row for session in covered for row in analytics[session]]
        )
        open_interest: dict[date, list[Mapping[str, Any]]] = {}
        oi_pages = 0
        for root in roots:
            rows, pages = self.rows(OPEN_INTEREST, {HISTORY_QUERY.root: root}, root)
            oi_pages += pages
            for session, session_rows in rows.items():
                open_interest.setdefault(session, []).extend(session_rows)
        closes = self.closes(first, self.sessions[-1])
        pages = analytics_pages + oi_pages + 1
        for session in covered:
            if not open_interest.get(session):
                continue
            fetch = _HistoryFetch(self.http, self.symbol, session, self.large)
            fields = _resolve_fields(ANALYTICS, analytics[session], fetch.request(ANALYTICS))
            if session in closes:
                close, source = closes[session], "/v2/aggs daily bar close (unadjusted)"
            else:
                close, source = fetch.analytics_price(analytics[session], fields["underlying_price"])
            yield fetch.assemble(analytics[session], open_interest[session], close, source, pages)

    def rows(
        self, endpoint: HistoryEndpoint, filters: Mapping[str, str], expected_root: str | None
    ) -> tuple[dict[date, list[Mapping[str, Any]]], int]:
        """Every row of one history query over the window, split by the session each row names."""
        first, last = self.sessions[0], self.sessions[-1]
        fetch = _HistoryFetch(self.http, self.symbol, first, self.large)
        request = fetch.request(endpoint)
        params = {
            **filters,
            HISTORY_QUERY.date_from: first.isoformat(),
            HISTORY_QUERY.date_to: last.isoformat(),
            HISTORY_QUERY.limit: HISTORY_QUERY.page_limit,
        }
        wanted = set(self.sessions)
        by_session: dict[date, list[Mapping[str, Any]]] = {}
        pages = 0
        for results in request.pages(endpoint.path, params):
            pages += 1
            for row in results:
                if not isinstance(row, dict):
                    raise request.malformed(
                        f"answered a row that is not an object: {self.http.redact(str(row)[:80])!r}"
                    )
                fetch.check_row(request, endpoint, row, expected_root)
                row_session = fetch.row_session(endpoint, row)
                if not isinstance(row_session, date) or not first <= row_session <= last:
                    # Outside the window, or no date we can place: the range was not applied.
                    raise WindowNotServed(
                        f"polygon {endpoint.path} for {self.symbol} answered a row dated {row_session!s} when asked"
                        f" for {first.isoformat()}..{last.isoformat()}: the range filter seems ignored"
                    )
                if row_session in wanted:
                    by_session.setdefault(row_session, []).append(row)
        if len(self.sessions) > 1 and len(by_session) == 1 and pages >= 1:
            [only] = by_session
            raise WindowNotServed(
                f"polygon {endpoint.path} for {self.symbol} answered rows of {only.isoformat()} only when asked for"
                f" {len(self.sessions)} sessions {first.isoformat()}..{last.isoformat()}:"
                " the range filter seems ignored"
            )
        return by_session, pages

    def closes(self, first: date, last: date) -> dict[date, float]:
        """Each session's unadjusted close from one range aggregate; empty when not available."""
        path = AGGREGATES_PATH.format(
            asset=quote(_asset(self.symbol), safe=":"), first=first.isoformat(), last=last.isoformat()
        )
        answer = self.http.get(path, {"adjusted": "false", "sort": "asc", "limit": 50_000}, large=self.large)
        if answer.status == 401:
            raise _HistoryFetch(self.http, self.symbol, first, self.large).request("/v2/aggs").error_for(answer)
        if not answer.ok or not isinstance(answer.body, dict) or not isinstance(answer.body.get("results"), list):
            logger.info(
                "event=aggregates_unavailable provider=polygon symbol=%s window=%s..%s status=%d",
                self.symbol,
                first.isoformat(),
                last.isoformat(),
                answer.status,
            )
            return {}
        closes: dict[date, float] = {}
        for bar in answer.body["results"]:
            stamp, close = _number(_mapping(bar).get("t")), _number(_mapping(bar).get("c"))
            if stamp is None or close is None:
                continue
            session = datetime.fromtimestamp(stamp / 1000, UTC).astimezone(NEW_YORK).date()
            if first <= session <= last:
                closes[session] = close
        return closes


def _resolve_fields(
    endpoint: HistoryEndpoint, rows: list[Mapping[str, Any]], request: _Request
) -> dict[str, str | None]:
    """For each field, the first candidate key present in any row; a required field present in no
    row raises, naming the field, the keys tried and the endpoint."""
    resolved: dict[str, str | None] = {}
    for name, candidates in endpoint.fields.items():
        found = next((key for key in candidates if any(_has(row, key) for row in rows)), None)
        if found is None and name in endpoint.required:
            sample_keys = sorted(rows[0].keys())[:20] if rows else []
            raise request.malformed(
                f"rows lack the field {name!r} (looked for {', '.join(candidates)} in {len(rows)} rows;"
                f" a row has {', '.join(sample_keys)}): update the field mapping in providers/polygon.py"
            )
        resolved[name] = found
    return resolved


# ---- value readers: every field is optional ---------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _has(row: Mapping[str, Any], dotted: str) -> bool:
    node: Any = row
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _lookup(row: Mapping[str, Any], dotted: str | None) -> Any:
    if dotted is None:
        return None
    node: Any = row
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _first_present(row: Mapping[str, Any], candidates: tuple[str, ...]) -> Any:
    for key in candidates:
        if _has(row, key):
            return _lookup(row, key)
    return None


def _occ_or_none(ticker: Any) -> OccContract | None:
    if not isinstance(ticker, str):
        return None
    try:
        return parse_occ_ticker(ticker)
    except InvalidOccTicker:
        return None


def _values(row: Mapping[str, Any], fields: Mapping[str, str | None]) -> tuple[Any, ...]:
    """What a history row says about its contract: two rows with the same values are one row."""
    return tuple(_lookup(row, key) for name, key in fields.items() if name != "date" and name not in PRICING_FIELDS)


def _pricing_input(rows: list[Mapping[str, Any]], key: str | None) -> float | None:
    """One session's rate or dividend yield from its analytics rows, as a decimal; None when no row has one.

    Each row carries the inputs it was priced with; a rate that varies with the tenor is reduced to
    the median of the rows (one set of inputs per snapshot). Whether Massive sends decimals or
    percents is not documented: no rate or yield a listed market prices with reaches 100%, so a
    magnitude above 1 is read as percent (4.3 → 0.043).
    """
    values = sorted(number for row in rows if (number := _number(_lookup(row, key))) is not None)
    if not values:
        return None
    middle = len(values) // 2
    median = values[middle] if len(values) % 2 else 0.5 * (values[middle - 1] + values[middle])
    return median / 100.0 if abs(median) > 1.0 else median


# Epoch magnitudes: a timestamp of this century is below 1e11 in seconds, 1e14 in ms, 1e17 in us.
_EPOCH_SCALES = ((1e11, 1), (1e14, 1e3), (1e17, 1e6), (1e20, 1e9))
_SECONDS_PER_DAY = 86_400


def _session_of(value: Any) -> date | None:
    """The New York date a history row's date field names, in any form seen in Massive answers: an
    ISO date, an ISO datetime (with an offset: converted to New York; without: as written), or epoch
    seconds, milliseconds, microseconds or nanoseconds (as a number or digits). An epoch at exactly
    UTC midnight is a date, read in UTC (20:00 New York the evening before would be the wrong day).
    None when the value is in none of these forms."""
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            value = int(text)
        else:
            try:
                if len(text) == 10:
                    return date.fromisoformat(text)
                moment = datetime.fromisoformat(text)
            except ValueError:
                return None
            return moment.astimezone(NEW_YORK).date() if moment.tzinfo else moment.date()
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    for bound, per_second in _EPOCH_SCALES:
        if value < bound:
            seconds = value / per_second
            break
    else:
        return None
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    if seconds % _SECONDS_PER_DAY == 0:
        return moment.date()
    return moment.astimezone(NEW_YORK).date()


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _missing_key_message() -> str:
    return f"polygon needs an API key: set {POLYGON_API_KEY} (Massive dashboard > API keys)"
