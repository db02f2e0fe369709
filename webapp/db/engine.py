"""Database engine settings that depend on the backend."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine


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
