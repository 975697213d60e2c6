"""One redaction for every form a PostgreSQL password can take inside a text.

libpq accepts a password in three places, and a log line, an exception or a traceback can quote
any of them, whole or in part:

- URI userinfo: `postgresql://user:secret@host/db` (also `postgres://`, and SQLAlchemy's
  `postgresql+psycopg2://`);
- a URI query parameter: `postgresql://host/db?sslmode=require&password=secret`;
- a key/value DSN: `host=h password=secret dbname=d`, or quoted: `password='se cret'`, with `\\'`
  and `\\\\` escapes inside the quotes.

`redact_connection_strings` masks each of them wherever it appears in the text, and replaces any
secret the caller names explicitly (the value of PGPASSWORD, an API key), also in its
percent-encoded form, since that is how a password with `@` or `/` appears inside a URI.

The rules lean towards masking too much: a password is supposed to be percent-encoded inside a URI,
but people paste `@`, `/`, `?` and even spaces raw, so the userinfo runs to the *last* `@` of the
URI. What cannot be told apart from ordinary text (a raw space in a URI password followed by no
`@` at all) is masked to the end of that word. Pure function: no I/O, nothing of the project.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "***"

# `postgresql://` and friends, then the user name (no `:`, `@`, `/`, `?`, `#`, `,`, brackets or
# whitespace in it), then the `:` that starts a password.
_URI_USER = re.compile(r"(?i)\b(postgres(?:ql)?(?:\+[a-z0-9_]+)?://)([^\s:@/?#,\[\]]*):")
# Where the next URI starts: a password never runs into it.
_NEXT_URI = re.compile(r"(?i)[a-z][a-z0-9+.\-]*://")
# After `user:`, a port (and the next host, path or end) instead of a password: `host:5432/db`.
_PORT = re.compile(r"\d*(?:[/?#,]|$)")
# `password=`, `PGPASSWORD=`, `sslpassword=` (any case), with optional blanks around `=` as libpq
# allows in key/value DSNs. Group 1 is the character before it: `?` or `&` means a URI query.
_PASSWORD_KEY = re.compile(r"(?i)(^|[^a-z0-9_])((?:pg|ssl)?password[ \t]*=[ \t]*)")
_QUOTED = {"'": re.compile(r"'(?:[^'\\\n]|\\.)*'?"), '"': re.compile(r'"(?:[^"\\\n]|\\.)*"?')}
_URI_QUERY_VALUE = re.compile(r"[^\s&#]*")
_DSN_VALUE = re.compile(r"\S*")


def redact_connection_strings(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every connection-string password and every given secret replaced by `***`.

    User names, hosts, ports, database names and other parameters are kept, so the result still
    says where a connection went. Blank secrets are ignored. Applying it twice changes nothing more.
    """
    text = _replace_secrets(text, secrets)
    text = _mask_password_parameters(text)
    return _mask_uri_userinfo(text)


def _replace_secrets(text: str, secrets: Iterable[str]) -> str:
    forms: set[str] = set()
    for secret in secrets:
        if secret and secret.strip():
            forms.update({secret, quote(secret, safe=""), quote_plus(secret, safe="")})
    # Longest first: a secret that contains another must not be left half-masked.
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text


def _mask_password_parameters(text: str) -> str:
    pieces: list[str] = []
    position = 0
    while match := _PASSWORD_KEY.search(text, position):
        start = match.end()
        opening = text[start : start + 1]
        if opening in _QUOTED:
            value = _QUOTED[opening].match(text, start)
            replacement = f"{opening}{REDACTED}{opening}"
        elif match.group(1) in ("?", "&"):
            value = _URI_QUERY_VALUE.match(text, start)
            replacement = REDACTED
        else:
            value = _DSN_VALUE.match(text, start)
            replacement = REDACTED
        end = value.end() if value else start
        pieces.append(text[position:start])
        pieces.append(replacement if end > start else "")
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _mask_uri_userinfo(text: str) -> str:
    pieces: list[str] = []
    position = 0
    while match := _URI_USER.search(text, position):
        start = match.end()
        end = _password_end(text, start)
        pieces.append(text[position:start])
        if end is None:
            position = start
            continue
        pieces.append(REDACTED)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _password_end(text: str, start: int) -> int | None:
    """Where the password that starts at `start` ends (at its `@`), or None if there is none."""
    line_end = text.find("\n", start)
    line_end = len(text) if line_end < 0 else line_end
    next_uri = _NEXT_URI.search(text, start, line_end)
    limit = next_uri.start() if next_uri else line_end
    word_end = start
    while word_end < limit and not text[word_end].isspace():
        word_end += 1
    at = text.rfind("@", start, word_end)
    if at >= 0:
        return at
    if _PORT.match(text[start:word_end]):
        return None
    # A raw blank inside the password (not a valid URI, but pasted anyway): the userinfo ends at the
    # first `@` further along the line, extended to the last `@` of the word holding it.
    at = text.find("@", word_end, limit)
    if at < 0:
        return word_end if word_end > start else None
    following_end = at
    while following_end < limit and not text[following_end].isspace():
        following_end += 1
    return text.rfind("@", at, following_end)
