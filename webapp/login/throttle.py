"""Lockout per account and rate limits per client address, derived from the audit trail.

Both are computed from rows the service writes anyway (login attempts, audit events), so
they hold across every worker without shared memory, and they count the *claimed* username:
an unknown account locks exactly like a real one, so throttling reveals nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from webapp.db.extensions import db
from webapp.db.models import STATE_COLLECTING, STATE_GRANTED, AuditEvent, LoginAttempt
from webapp.errors import Locked, RateLimited
from webapp.settings import ThrottleSettings


def _seconds(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() + 0.999))


def check_client_rate(client_addr: str, now: datetime, cfg: ThrottleSettings) -> None:
    """Raise RateLimited when this address started too many attempts in the window."""
    limit = cfg.rate_limit_attempts
    if limit <= 0:
        return
    window = timedelta(seconds=cfg.rate_limit_window_seconds)
    since = now - window
    count, oldest = db.session.execute(
        sa.select(sa.func.count(LoginAttempt.id), sa.func.min(LoginAttempt.created_at)).where(
            LoginAttempt.client_addr == client_addr, LoginAttempt.created_at > since
        )
    ).one()
    if count >= limit and oldest is not None:
        raise RateLimited(retry_after=_seconds(oldest + window - now))


def check_account_lock(username: str, now: datetime, cfg: ThrottleSettings) -> None:
    """Raise Locked when the last LOCKOUT_THRESHOLD finished attempts on ``username`` all
    failed and the newest failure is younger than LOCKOUT_SECONDS."""
    threshold = cfg.lockout_threshold
    if threshold <= 0:
        return
    # An abandoned attempt (still "collecting" after expiry) counts as a failure too. Only the
    # three columns the rule reads: the rows also hold each attempt's frame-by-frame progress.
    rows = db.session.execute(
        sa.select(LoginAttempt.state, LoginAttempt.finished_at, LoginAttempt.expires_at)
        .where(
            LoginAttempt.username == username,
            sa.or_(LoginAttempt.state != STATE_COLLECTING, LoginAttempt.expires_at < now),
        )
        .order_by(LoginAttempt.created_at.desc(), LoginAttempt.id.desc())
        .limit(threshold)
    ).all()
    if len(rows) < threshold or any(r.state == STATE_GRANTED for r in rows):
        return
    last_failure = max((r.finished_at or r.expires_at) for r in rows)
    until = last_failure + timedelta(seconds=cfg.lockout_seconds)
    if now < until:
        raise Locked(retry_after=_seconds(until - now))


def check_password_lock(username: str, now: datetime, cfg: ThrottleSettings) -> None:
    """The same lockout for admin password sign-in, counted from audit events."""
    threshold = cfg.lockout_threshold
    if threshold <= 0:
        return
    window = timedelta(seconds=cfg.lockout_seconds)
    events = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.subject == username, AuditEvent.kind.in_(("admin_login", "admin_login_failed")))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(threshold)
    ).all()
    if len(events) < threshold or any(e.kind == "admin_login" for e in events):
        return
    until = events[0].at + window
    if now < until:
        raise Locked(retry_after=_seconds(until - now))
