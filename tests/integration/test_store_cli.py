"""`python -m store`: the URL in use and the watchlist commands, as a user runs them."""

import subprocess
import sys
from pathlib import Path

from store.watchlist import list_entries

ROOT = Path(__file__).resolve().parents[2]


def store_cli(*argv: str, env_url: str | None = None, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    if env_url:
        env["DATABASE_URL"] = env_url
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "store", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_watchlist_add_load_show_deactivate(database_url, db, tmp_path):
    assert store_cli("watchlist", "add", "spy", "qqq", env_url=database_url).returncode == 0
    watchlist_file = tmp_path / "symbols.txt"
    watchlist_file.write_text("# mine\nAAPL\n\nmsft  # software\nAAPL\n")
    loaded = store_cli("watchlist", "load", str(watchlist_file), env_url=database_url)
    assert loaded.returncode == 0
    assert "2 symbols read" in loaded.stdout
    assert store_cli("watchlist", "deactivate", "QQQ", env_url=database_url).returncode == 0
    shown = store_cli("watchlist", "show", env_url=database_url)
    assert "QQQ\tinactive" in shown.stdout and "SPY\tactive" in shown.stdout
    assert {entry.symbol: entry.active for entry in list_entries(db)} == {
        "AAPL": True,
        "MSFT": True,
        "QQQ": False,
        "SPY": True,
    }


def test_a_bad_symbol_in_a_file_loads_nothing(database_url, db, tmp_path):
    watchlist_file = tmp_path / "symbols.txt"
    watchlist_file.write_text("SPY\nDROP TABLE;\n")
    result = store_cli("watchlist", "load", str(watchlist_file), env_url=database_url)
    assert result.returncode == 2
    assert result.stderr.startswith("error: line 2")
    assert list_entries(db) == []


def test_url_prints_database_url_and_starts_the_embedded_server(tmp_path):
    pgdata = tmp_path / "pgdata"
    env = {"KAPMAN_PGDATA": str(pgdata)}
    started = store_cli("url", extra_env=env)
    assert started.returncode == 0
    url = started.stdout.strip()
    assert url.startswith("postgresql://") and str(pgdata) in url
    import psycopg2

    connection = psycopg2.connect(url)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    connection.close()
    stopped = store_cli("stop", extra_env=env)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not (pgdata / "postmaster.pid").exists()


def test_url_is_database_url_when_set(database_url):
    assert store_cli("url", env_url=database_url).stdout.strip() == database_url
