"""Security events besides login attempts (throttling, admin actions), one call each."""

from __future__ import annotations

from typing import Any

from webapp.db.extensions import db
from webapp.db.models import AuditEvent


def audit(kind: str, *, subject: str | None = None, actor: str | None = None, client_addr: str = "", **detail: Any) -> None:
    """Record an event in the current transaction (it commits with the action it describes)."""
    db.session.add(AuditEvent(kind=kind, subject=subject, actor=actor, client_addr=client_addr, detail=detail))
