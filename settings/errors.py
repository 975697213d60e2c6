"""The one base class of errors that make a whole run unusable.

Every entry point renders a `SetupError` as one line on stderr and exits 2, so a module that finds
a problem no run can get past (a bad flag value, garbage in an environment variable, an unreachable
database, a missing API key) raises a subclass, and nobody has to keep a list of them by hand.
"""

from __future__ import annotations


class SetupError(Exception):
    """A run cannot start as configured; the message is one line a user can act on."""

    def __str__(self) -> str:
        # Messages built from server or library errors may span lines; the contract is one line.
        text = super().__str__()
        return " / ".join(line.strip() for line in text.splitlines() if line.strip()) or type(self).__name__
