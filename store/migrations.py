"""Apply the ordered, idempotent `.sql` migrations once per database, recording each."""

from __future__ import annotations

from pathlib import Path

import psycopg2.extensions

from store.connection import transaction

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Serialises concurrent first runs (two backfills started at once on a fresh database).
_MIGRATION_LOCK_KEY = 7_311_942_001


def migration_files() -> list[Path]:
    return sorted(MIGRATIONS_DIR.glob("*.sql"))


def migrate(connection: psycopg2.extensions.connection) -> list[str]:
    """Apply pending migrations; returns the versions applied by this call."""
    applied_now: list[str] = []
    with transaction(connection) as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_KEY,))
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor.execute("SELECT version FROM schema_migrations")
        done = {row[0] for row in cursor.fetchall()}
        for path in migration_files():
            if path.stem in done:
                continue
            cursor.execute(path.read_text())
            cursor.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (path.stem,))
            applied_now.append(path.stem)
    return applied_now
