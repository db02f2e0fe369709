"""The server clock. Every expiry, lockout and timestamp reads time through ``utcnow`` here,
so tests can move time (monkeypatch ``webapp.db.clock.utcnow``) without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, as naive UTC (SQLite stores no zone; every column is UTC by convention)."""
    return datetime.now(UTC).replace(tzinfo=None)
