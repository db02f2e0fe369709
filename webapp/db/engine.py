"""Which database, and engine settings that depend on the backend.

SQLite (a file in the instance folder) is the default: embedded, nothing to run. ``DATABASE_URL``
(the usual variable of hosting platforms and compose files) or ``SQLALCHEMY_DATABASE_URI``
selects another database; PostgreSQL URLs are served with psycopg 3, whatever driver they name.
All state a frame needs lives in the database (the attempt row and its JSON progress), so any
worker on any machine sharing the database can take any frame.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

_POSTGRES_PREFIXES = ("postgres://", "postgresql://", "postgresql+psycopg2://", "postgresql+psycopg://")


def database_uri(configured: str | None, environ: Mapping[str, str], instance: Path) -> str:
    """The SQLAlchemy URL: the configured one, else ``DATABASE_URL``, else the instance's SQLite
    file; PostgreSQL URLs are rewritten to the psycopg 3 driver (``postgresql+psycopg://``)."""
    raw = configured or environ.get("DATABASE_URL") or f"sqlite:///{instance / 'livegate.sqlite'}"
    for prefix in _POSTGRES_PREFIXES:
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw.removeprefix(prefix)
    return raw


def engine_options(uri: str) -> dict[str, Any]:
    """Pool settings per backend: PostgreSQL connections are checked before use (a restarted
    server or a proxy's idle cut must not fail a login) and recycled every 30 minutes."""
    if uri.startswith("postgresql"):
        return {"pool_pre_ping": True, "pool_recycle": 1800, "pool_size": 5, "max_overflow": 5}
    return {}


def secure_sqlite_files(database: str) -> None:
    """Create the database file 0600 (SQLite gives its -wal and -shm files the database file's
    mode) and tighten an existing one: it holds sealed templates, sessions and the audit trail."""
    path = Path(database)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists() and p.stat().st_mode & 0o077:
            p.chmod(0o600)


def configure_engine(engine: Engine) -> None:
    """SQLite: enforce foreign keys (cascades), WAL so readers don't block the writer, a busy
    timeout so two gunicorn workers writing at once wait instead of failing, and secure_delete
    so a deleted row's bytes (an erased user's templates) are zeroed, not left in free pages."""
    if engine.dialect.name != "sqlite":
        return
    if engine.url.database not in (None, "", ":memory:"):
        secure_sqlite_files(str(engine.url.database))

    @sa.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA secure_delete=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
