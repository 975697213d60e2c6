"""Provider plugin for tests that run the CLI in another process (KAPMAN_PROVIDER_MODULES=tests.plugins.tiny_providers).

`tiny`: the small deterministic chain of tests.doubles. `tiny-failing`: the same, but sessions listed in
KAPMAN_TEST_FAIL_SESSIONS (comma-separated ISO dates) fail with a transient error.
"""

from __future__ import annotations

import os
from datetime import date

from providers.base import TransientProviderError
from providers.registry import register_provider
from tests.doubles import FailingProvider, TinyChainProvider


def _failing_sessions() -> set[date]:
    raw = os.environ.get("KAPMAN_TEST_FAIL_SESSIONS", "")
    return {date.fromisoformat(part) for part in raw.split(",") if part.strip()}


register_provider("tiny", lambda settings: TinyChainProvider())
register_provider(
    "tiny-failing",
    lambda settings: FailingProvider(
        TinyChainProvider(),
        should_fail=lambda symbol, session: session in _failing_sessions(),
        error=lambda symbol, session: TransientProviderError(f"injected failure for {session.isoformat()}"),
        name="tiny-failing",
    ),
)
