"""`redact_connection_strings`: every libpq form of a password, anywhere in a text, is masked."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from settings.redaction import REDACTED, redact_connection_strings

# Passwords a person really uses, with every character that breaks a naive pattern.
NASTY_PASSWORDS = [
    "s3cr3t",
    "p@ss",
    "p@ss@word",
    "pa:ss",
    "pa/ss",
    "pa?ss",
    "pa&ss",
    "pa=ss",
    "p#ss",
    "a:b@c/d?e&f=g",
]


@pytest.mark.parametrize("password", NASTY_PASSWORDS)
@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "POSTGRESQL", "postgresql+psycopg2"])
def test_uri_userinfo_password_is_masked_and_user_host_and_database_kept(scheme, password):
    text = f"connect failed: {scheme}://kapman:{password}@db.example.com:5432/options?sslmode=require (timeout)"

    redacted = redact_connection_strings(text)

    assert redacted == (
        f"connect failed: {scheme}://kapman:{REDACTED}@db.example.com:5432/options?sslmode=require (timeout)"
    )


@pytest.mark.parametrize("password", ["p@ss", "pa ss", "s3cr3t", "a&b", "x=y", "q?r"])
def test_uri_password_percent_encoded_is_masked(password):
    from urllib.parse import quote

    text = f"url=postgresql://kapman:{quote(password, safe='')}@h/db"

    assert redact_connection_strings(text) == f"url=postgresql://kapman:{REDACTED}@h/db"


def test_uri_password_with_a_raw_blank_is_masked_up_to_its_at_sign():
    assert redact_connection_strings("postgresql://u:pa ss@h:5432/db failed") == (
        f"postgresql://u:{REDACTED}@h:5432/db failed"
    )


def test_uri_password_without_a_host_is_masked_to_the_end_of_the_word():
    assert redact_connection_strings("bad url postgresql://u:s3cr3t and more") == (
        f"bad url postgresql://u:{REDACTED} and more"
    )


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://localhost/db",
        "postgresql://localhost:5432/db",
        "postgresql://h1:5432,h2:5433/db?target_session_attrs=any",
        "postgresql://user@localhost:5432/db",
        "postgresql://[::1]:5432/db",
        "postgresql:///db?host=/var/run/postgresql",
        "host=db.example.com port=5432 dbname=options user=kapman sslmode=require",
        "the password was wrong for user kapman",
        "",
    ],
)
def test_texts_without_a_password_are_unchanged(text):
    assert redact_connection_strings(text) == text


@pytest.mark.parametrize("key", ["password", "PASSWORD", "Password"])
@pytest.mark.parametrize("password", ["s3cr3t", "p@ss", "pa:ss", "pa/ss", "p%40ss", "pa=ss"])
def test_password_in_a_uri_query_is_masked_and_other_parameters_kept(key, password):
    text = f"postgresql://h/db?sslmode=require&{key}={password}&application_name=kapman"

    assert redact_connection_strings(text) == (
        f"postgresql://h/db?sslmode=require&{key}={REDACTED}&application_name=kapman"
    )


def test_password_as_the_first_query_parameter_and_the_last_one():
    assert redact_connection_strings("postgres://u@h/db?password=x1 and postgres://h/db?a=1&password=x2") == (
        f"postgres://u@h/db?password={REDACTED} and postgres://h/db?a=1&password={REDACTED}"
    )


def test_userinfo_and_query_passwords_in_one_uri_are_both_masked():
    text = "postgresql://u:first@h/db?password=second@x&sslmode=disable"

    assert redact_connection_strings(text) == f"postgresql://u:{REDACTED}@h/db?password={REDACTED}&sslmode=disable"


@pytest.mark.parametrize("password", ["s3cr3t", "p@ss", "pa:ss/x?y&z=1", "p#ss"])
def test_key_value_dsn_password_is_masked(password):
    text = f"host=h password={password} dbname=d"

    assert redact_connection_strings(text) == f"host=h password={REDACTED} dbname=d"


def test_key_value_dsn_with_blanks_around_the_equals_sign():
    assert redact_connection_strings("host=h password = s3cr3t dbname=d") == f"host=h password = {REDACTED} dbname=d"


@pytest.mark.parametrize(
    ("quoted", "rest"),
    [
        ("'se cret'", " dbname=d"),
        (r"'it\'s a \\ secret'", " dbname=d"),
        ("'p@ss word=x host=evil'", " user=u"),
        ("''", " dbname=d"),
        ('"double quoted secret"', " dbname=d"),
    ],
)
def test_quoted_key_value_password_is_masked_with_its_escapes(quoted, rest):
    text = f"host=h password={quoted}{rest}"

    quote_char = quoted[0]
    assert redact_connection_strings(text) == f"host=h password={quote_char}{REDACTED}{quote_char}{rest}"


def test_unterminated_quoted_password_is_masked_to_the_end_of_the_line():
    assert redact_connection_strings("host=h password='never closed\nnext line") == (
        f"host=h password='{REDACTED}'\nnext line"
    )


@pytest.mark.parametrize("key", ["PGPASSWORD", "sslpassword", "pgpassword"])
def test_related_password_keys_are_masked_too(key):
    assert redact_connection_strings(f"env {key}=s3cr3t user=u") == f"env {key}={REDACTED} user=u"


def test_words_that_only_end_in_password_are_not_mistaken_for_it():
    assert redact_connection_strings("nopassword=1 mypassword_hint=x") == "nopassword=1 mypassword_hint=x"


def test_every_form_in_one_multi_line_text_with_quotes_around_uris():
    text = (
        'error: could not connect to "postgresql://a:pw1@h1/db"\n'
        "dsn: host=h2 password='pw 2' dbname=d\n"
        "retrying postgres://b:pw3@h3/db?password=pw4 then host=h4 password=pw5\n"
        '["postgresql://c:pw6@h5/x","postgresql://d:pw7@h6/y"]'
    )

    redacted = redact_connection_strings(text)

    for number in range(1, 8):
        assert f"pw{number}" not in redacted
    assert redacted == (
        f'error: could not connect to "postgresql://a:{REDACTED}@h1/db"\n'
        f"dsn: host=h2 password='{REDACTED}' dbname=d\n"
        f"retrying postgres://b:{REDACTED}@h3/db?password={REDACTED} then host=h4 password={REDACTED}\n"
        f'["postgresql://c:{REDACTED}@h5/x","postgresql://d:{REDACTED}@h6/y"]'
    )


@pytest.mark.parametrize("secret", ["pg-pass-9a1", "p@ss w/rd?&=", 'it\'s "quoted"'])
def test_explicit_secrets_are_replaced_wherever_they_occur(secret):
    from urllib.parse import quote

    text = f"key {secret} in prose; encoded {quote(secret, safe='')}; header Bearer {secret}"

    redacted = redact_connection_strings(text, [secret])

    assert secret not in redacted and quote(secret, safe="") not in redacted
    assert redacted == f"key {REDACTED} in prose; encoded {REDACTED}; header Bearer {REDACTED}"


def test_a_secret_containing_another_is_masked_whole():
    assert redact_connection_strings("token=abcdef", ["abc", "abcdef"]) == f"token={REDACTED}"


def test_blank_secrets_are_ignored():
    assert redact_connection_strings("a b c", ["", "   "]) == "a b c"


def test_explicit_secret_and_connection_string_together():
    text = "PGPASSWORD is hunter2; url postgresql://u:other@h/db; key api-KEY-123"

    assert redact_connection_strings(text, ("hunter2", "api-KEY-123")) == (
        f"PGPASSWORD is {REDACTED}; url postgresql://u:{REDACTED}@h/db; key {REDACTED}"
    )


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://u:p@ss@h/db?password=x&a=1",
        "host=h password='a b' dbname=d",
        "postgresql://u:pa ss@h/db",
        "postgresql://u:s3cr3t",
    ],
)
def test_redacting_twice_changes_nothing_more(text):
    once = redact_connection_strings(text)

    assert redact_connection_strings(once) == once


def test_the_module_imports_nothing_of_the_project():
    source = Path(__file__).resolve().parents[2] / "settings" / "redaction.py"
    imported = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])

    assert imported <= {"__future__", "re", "collections", "urllib"}
