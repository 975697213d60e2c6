"""How an unusable run's error is shown: one line, with nothing secret in it."""

from __future__ import annotations

from settings.environment import known_secrets
from settings.redaction import redact_connection_strings


def error_line(error: BaseException | str) -> str:
    """The one stderr line of an unusable run: `error: …`, with every connection-string password and
    every secret this process knows of masked, whatever produced the message."""
    return f"error: {redact_connection_strings(str(error), known_secrets())}"
