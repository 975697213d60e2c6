"""The only reader of environment variables: each is read and validated here, before a run starts.

Everything else receives values (a database URL, an API key, a request budget) as arguments, so a
module's behaviour can be read off its call site, and garbage in any variable is one clear line and
exit 2 before anything starts, never a traceback half-way through a run.

Values are read at call time (not at import), so tests and long-lived workers see the current
environment.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from settings.errors import SetupError

DATABASE_URL = "DATABASE_URL"
PGDATA = "KAPMAN_PGDATA"
CHART_DIR = "KAPMAN_CHART_DIR"
# Where the local Prefect server kept warm between runs keeps its home (default .kapman/prefect).
PREFECT_HOME = "KAPMAN_PREFECT_HOME"
PROVIDER = "OPTIONS_PROVIDER"
MAX_REQUESTS_PER_MINUTE = "KAPMAN_MAX_REQUESTS_PER_MINUTE"
PROVIDER_MODULES = "KAPMAN_PROVIDER_MODULES"
POLYGON_API_KEY = "POLYGON_API_KEY"
POLYGON_BASE_URL = "POLYGON_BASE_URL"
# The trading system's names for the EODHD (Unicorn Bay) token, in the order they are looked up.
UNICORN_API_KEYS = ("UNICORN_API_TOKEN", "UNICORN_API_KEY", "EODHD_API_TOKEN")
UNICORN_BASE_URL = "UNICORN_BASE_URL"

# A request budget above this is a typo (Massive asks clients to stay under 100 requests/second).
MAX_REQUESTS_PER_MINUTE_LIMIT = 60_000
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_PROVIDER_NAME = re.compile(r"[a-z][a-z0-9_\-]{0,39}")


class InvalidEnvironment(SetupError):
    """An environment variable the project reads holds a value no run can use."""


@dataclass(frozen=True)
class ProviderCredentials:
    """Where a provider's HTTP API is and the key it takes (the key never shown)."""

    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None


@dataclass(frozen=True)
class Environment:
    """Every setting the project takes from the environment, validated."""

    database_url: str | None = field(default=None, repr=False)
    pgdata: Path | None = None
    # Where runs write their charts (coverage heatmaps); None: `.kapman/charts` of the checkout.
    chart_dir: Path | None = None
    prefect_home: Path | None = None
    provider: str | None = None
    max_requests_per_minute: int | None = None
    provider_modules: tuple[str, ...] = ()
    credentials: Mapping[str, ProviderCredentials] = field(default_factory=dict)

    # `--api-key` given on the command line, for a provider without a variable of its own here.
    api_key: str | None = field(default=None, repr=False)

    def credentials_for(self, provider: str) -> ProviderCredentials:
        return self.credentials.get(provider, ProviderCredentials(api_key=self.api_key))


# Variables whose values are secrets wherever they appear in text (libpq reads PGPASSWORD itself).
SECRET_VARIABLES = ("PGPASSWORD", POLYGON_API_KEY, *UNICORN_API_KEYS)


def known_secrets(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The secret values this process knows of (never to be shown): keys, tokens, PGPASSWORD and the
    command line's `--api-key`. Read without validating anything else, so it works on any error path."""
    source = os.environ if environ is None else environ
    with _overrides_lock:
        given = _overrides.get(_API_KEY_OVERRIDE) if environ is None else None
    values = [source.get(name, "").strip() for name in SECRET_VARIABLES] + [given or ""]
    return tuple(value for value in values if value)


# Values a command line gives for this process (`--db-url`, `--api-key`), over the environment's.
_overrides: dict[str, str] = {}
_overrides_lock = threading.Lock()
# The key under which `--api-key` is kept: it stands for whichever provider the run uses.
_API_KEY_OVERRIDE = "--api-key"


@contextmanager
def command_line_overrides(*, database_url: str | None = None, api_key: str | None = None) -> Iterator[None]:
    """Within the block, `--db-url` stands for `DATABASE_URL` and `--api-key` for the chosen provider's
    key variable, for every reader in this process (the flow the command line runs included)."""
    given = {DATABASE_URL: database_url, _API_KEY_OVERRIDE: api_key}
    with _overrides_lock:
        saved = dict(_overrides)
        _overrides.update({name: value for name, value in given.items() if value is not None})
    try:
        yield
    finally:
        with _overrides_lock:
            _overrides.clear()
            _overrides.update(saved)


def read_environment(environ: Mapping[str, str] | None = None) -> Environment:
    """Read and validate the project's variables; raises `InvalidEnvironment` naming the variable."""
    source = os.environ if environ is None else environ
    with _overrides_lock:
        overrides = dict(_overrides) if environ is None else {}

    def text(name: str) -> str | None:
        value = overrides.get(name, source.get(name, "")).strip()
        return value or None

    api_key = text(_API_KEY_OVERRIDE)

    return Environment(
        database_url=_database_url(text(DATABASE_URL)),
        pgdata=Path(pgdata).expanduser().resolve() if (pgdata := text(PGDATA)) else None,
        chart_dir=Path(chart_dir).expanduser().resolve() if (chart_dir := text(CHART_DIR)) else None,
        prefect_home=Path(home).expanduser().resolve() if (home := text(PREFECT_HOME)) else None,
        provider=_provider_name(text(PROVIDER)),
        max_requests_per_minute=_requests_per_minute(text(MAX_REQUESTS_PER_MINUTE)),
        provider_modules=_module_names(text(PROVIDER_MODULES)),
        api_key=api_key,
        credentials={
            "polygon": ProviderCredentials(
                api_key=api_key or text(POLYGON_API_KEY),
                base_url=http_base_url(text(POLYGON_BASE_URL), POLYGON_BASE_URL),
            ),
            "unicorn": ProviderCredentials(
                api_key=api_key or next(filter(None, map(text, UNICORN_API_KEYS)), None),
                base_url=http_base_url(text(UNICORN_BASE_URL), UNICORN_BASE_URL),
            ),
        },
    )


def _database_url(value: str | None) -> str | None:
    """A libpq connection string (URI or key/value form); checked for shape, never echoed."""
    if value is None:
        return None
    from psycopg2.extensions import parse_dsn

    try:
        parse_dsn(value)
    except Exception:  # psycopg2.ProgrammingError; its message quotes the value, password included
        raise InvalidEnvironment(
            f"{DATABASE_URL} is not a PostgreSQL connection string (expected postgresql://user@host:port/db "
            "or 'host=... dbname=...')"
        ) from None
    return value


def _provider_name(value: str | None) -> str | None:
    if value is None:
        return None
    if not _PROVIDER_NAME.fullmatch(value):
        raise InvalidEnvironment(f"{PROVIDER}={value[:40]!r} is not a provider name")
    return value


def _requests_per_minute(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        shown = value[:40]
        raise InvalidEnvironment(f"{MAX_REQUESTS_PER_MINUTE}={shown!r} is not a whole number of requests") from None
    if not 1 <= number <= MAX_REQUESTS_PER_MINUTE_LIMIT:
        raise InvalidEnvironment(
            f"{MAX_REQUESTS_PER_MINUTE} must be between 1 and {MAX_REQUESTS_PER_MINUTE_LIMIT}, got {number}"
        )
    return number


def _module_names(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    for name in names:
        if not _MODULE_NAME.fullmatch(name):
            raise InvalidEnvironment(
                f"{PROVIDER_MODULES} names {name[:60]!r}, which is not a dotted Python module name"
            )
    return names


def http_base_url(value: str | None, variable: str) -> str | None:
    """An http(s) URL with a host and no credentials, or None (then the provider's default)."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidEnvironment(f"{variable} must be an http:// or https:// URL with a host, got {value[:60]!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InvalidEnvironment(f"{variable} must not carry credentials, a query or a fragment")
    return value.rstrip("/")
