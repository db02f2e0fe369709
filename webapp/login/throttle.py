"""Throttling that an attacker cannot turn against a user.

Two layers (NIST SP 800-63B-4 5.2.2; AWS Face Liveness' "5 failures per device"):

* **Per address and route**, counted by Flask-Limiter (memory, or Redis when ``REDIS_URL`` is
  set): attempts started, frames sent, admin password posts. Every start counts here, including
  those that never send a frame.
* **Per account**, derived from the rows the service writes anyway (attempts, audit events), so
  it holds across workers without shared memory:

  - failed authentications on an account *from one client* (address + signed device cookie,
    webapp/login/device.py) lock that client out of that account for LOCKOUT_SECONDS after
    LOCKOUT_THRESHOLD in a row. An attempt that never received a face frame is not a failed
    authentication: five empty starts with a victim's name lock nobody.
  - failures over *all* clients slow the account down (a growing delay with Retry-After, never a
    lock) after ACCOUNT_SLOWDOWN_AFTER, except for devices that signed in to it before.

Both count the *claimed* username: an unknown account throttles exactly like a real one. An
admin clears an account's locks (``flask locks clear``, ``DELETE /api/v1/admin/locks/<name>``),
recorded as a ``locks_cleared`` audit event from which counting starts afresh.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, request
from flask_limiter import Limiter, RequestLimit

from webapp.db.audit import audit
from webapp.db.extensions import db
from webapp.db.models import STATE_COLLECTING, STATE_GRANTED, AuditEvent, LoginAttempt
from webapp.errors import Locked, RateLimited
from webapp.settings import ThrottleSettings

REPLAY = "replay"  # the policy's deny reason for replayed frames (webapp/login/policy.py)
# Audit kinds read here (besides the attempts table).
PASSWORD_OK = "admin_login"
PASSWORD_FAILED = "admin_login_failed"
LOCKS_CLEARED = "locks_cleared"
# How many recent outcomes of one account the per-account rules read (bounded work per start).
_HISTORY = 500


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


# --- the per-account rules (pure) ------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One finished authentication on an account: when, whether it failed, and from where."""

    at: datetime
    failed: bool
    client_addr: str
    device: str | None


@dataclass(frozen=True)
class LockState:
    """What the rules say about a client on an account right now."""

    client_failures: int  # failures in a row from this client
    client_locked_until: datetime | None
    account_failures: int  # failures since the last success, all clients, within the window
    account_wait_until: datetime | None  # None for known devices and below the threshold


def judge(
    history: Sequence[Outcome], client_addr: str, device: str | None, known_device: bool, now: datetime, cfg: ThrottleSettings
) -> LockState:
    """Apply both per-account rules to ``history`` (newest first, since the last lock clear)."""
    own = [o for o in history if o.client_addr == client_addr and o.device == device]
    streak = 0
    for o in own:
        if not o.failed:
            break
        streak += 1
    locked_until = None
    if cfg.lockout_threshold > 0 and streak >= cfg.lockout_threshold:
        until = own[0].at + timedelta(seconds=cfg.lockout_seconds)
        locked_until = until if now < until else None

    since = now - timedelta(seconds=cfg.account_failure_window_seconds)
    failures: list[Outcome] = []
    for o in history:
        if not o.failed:
            break
        if o.at > since:
            failures.append(o)
    wait_until = None
    if cfg.account_slowdown_after > 0 and len(failures) >= cfg.account_slowdown_after and not known_device:
        excess = len(failures) - cfg.account_slowdown_after
        delay = min(cfg.account_slowdown_max_seconds, cfg.account_slowdown_base_seconds * 2 ** min(excess, 30))
        until = failures[0].at + timedelta(seconds=delay)
        wait_until = until if now < until else None
    return LockState(streak, locked_until, len(failures), wait_until)


def enforce(state: LockState, now: datetime) -> None:
    """Raise Locked (this client, 423) or RateLimited (account slowed, 429) with Retry-After."""
    if state.client_locked_until is not None:
        raise Locked(retry_after=_seconds(state.client_locked_until - now))
    if state.account_wait_until is not None:
        raise RateLimited(
            "Too many failed sign-ins on this account; wait before trying again.", retry_after=_seconds(state.account_wait_until - now)
        )


# --- histories from the database -------------------------------------------------------------


def _cleared_at(username: str) -> datetime | None:
    return db.session.scalar(sa.select(sa.func.max(AuditEvent.at)).where(AuditEvent.kind == LOCKS_CLEARED, AuditEvent.subject == username))


def face_history(username: str, now: datetime) -> list[Outcome]:
    """Finished face attempts on ``username`` that judged a face (or caught a replayed frame),
    newest first. An attempt abandoned while collecting counts from its expiry; one that never
    saw a face (no frame, or only empty ones) is skipped."""
    query = (
        sa.select(
            LoginAttempt.state,
            LoginAttempt.face_frames,
            LoginAttempt.reason,
            LoginAttempt.finished_at,
            LoginAttempt.expires_at,
            LoginAttempt.client_addr,
            LoginAttempt.device_id,
        )
        .where(LoginAttempt.username == username, sa.or_(LoginAttempt.state != STATE_COLLECTING, LoginAttempt.expires_at < now))
        .order_by(LoginAttempt.created_at.desc(), LoginAttempt.id.desc())
        .limit(_HISTORY)
    )
    cleared = _cleared_at(username)
    if cleared is not None:
        query = query.where(LoginAttempt.created_at > cleared)
    out = []
    for r in db.session.execute(query):
        if r.state == STATE_GRANTED:
            out.append(Outcome(r.finished_at or r.expires_at, False, r.client_addr, r.device_id))
        elif r.face_frames > 0 or r.reason == REPLAY:  # a replayed frame is a judged one too
            out.append(Outcome(r.finished_at or r.expires_at, True, r.client_addr, r.device_id))
    out.sort(key=lambda o: o.at, reverse=True)
    return out


def face_known_device(username: str, device: str | None) -> bool:
    if device is None:
        return False
    return (
        db.session.scalar(
            sa.select(LoginAttempt.id).where(
                LoginAttempt.username == username, LoginAttempt.device_id == device, LoginAttempt.state == STATE_GRANTED
            )
        )
        is not None
    )


def password_history(username: str) -> list[Outcome]:
    """Admin password sign-ins of ``username`` (audit events), newest first."""
    query = (
        sa.select(AuditEvent)
        .where(AuditEvent.subject == username, AuditEvent.kind.in_((PASSWORD_OK, PASSWORD_FAILED)))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(_HISTORY)
    )
    cleared = _cleared_at(username)
    if cleared is not None:
        query = query.where(AuditEvent.at > cleared)
    return [Outcome(e.at, e.kind == PASSWORD_FAILED, e.client_addr, (e.detail or {}).get("device")) for e in db.session.scalars(query)]


def check_face_login(username: str, client_addr: str, device: str | None, now: datetime, cfg: ThrottleSettings) -> None:
    """Before a face attempt starts: raise Locked/RateLimited when the rules say so."""
    state = judge(face_history(username, now), client_addr, device, face_known_device(username, device), now, cfg)
    enforce(state, now)


def check_password_login(username: str, client_addr: str, device: str | None, now: datetime, cfg: ThrottleSettings) -> None:
    """The same rules for the admin password form, counted from its audit events."""
    history = password_history(username)
    known = device is not None and any(not o.failed and o.device == device for o in history)
    enforce(judge(history, client_addr, device, known, now, cfg), now)


# --- admin view of locks ---------------------------------------------------------------------


@dataclass(frozen=True)
class LockReport:
    username: str
    method: str  # "face" | "password"
    scope: str  # "client" (one address + device) | "account" (slowed for unknown devices)
    client_addr: str | None
    device: str | None
    failures: int
    until: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "method": self.method,
            "scope": self.scope,
            "client_addr": self.client_addr,
            "device": self.device,
            "failures": self.failures,
            "until": self.until.isoformat() + "Z",
        }


def _reports(username: str, method: str, history: list[Outcome], now: datetime, cfg: ThrottleSettings) -> Iterable[LockReport]:
    clients = dict.fromkeys((o.client_addr, o.device) for o in history if o.failed)
    for addr, device in clients:
        state = judge(history, addr, device, True, now, cfg)
        if state.client_locked_until is not None:
            yield LockReport(username, method, "client", addr, device, state.client_failures, state.client_locked_until)
    account = judge(history, "", None, False, now, cfg)
    if account.account_wait_until is not None:
        yield LockReport(username, method, "account", None, None, account.account_failures, account.account_wait_until)


def active_locks(now: datetime, cfg: ThrottleSettings) -> list[LockReport]:
    """Every lock and slowdown in force now, for the admin CLI, API and page."""
    horizon = now - timedelta(seconds=max(cfg.lockout_seconds, cfg.account_failure_window_seconds, cfg.account_slowdown_max_seconds))
    face_names = db.session.scalars(
        sa.select(LoginAttempt.username).where(LoginAttempt.created_at > horizon, LoginAttempt.state != STATE_GRANTED).distinct()
    ).all()
    password_names = db.session.scalars(
        sa.select(AuditEvent.subject).where(AuditEvent.at > horizon, AuditEvent.kind == PASSWORD_FAILED).distinct()
    ).all()
    out: list[LockReport] = []
    for name in sorted(set(face_names)):
        out.extend(_reports(name, "face", face_history(name, now), now, cfg))
    for name in sorted({n for n in password_names if n}):
        out.extend(_reports(name, "password", password_history(name), now, cfg))
    return out


def clear_locks(username: str, actor: str, client_addr: str = "") -> None:
    """Lift every lock and slowdown on ``username`` (face and password); the caller commits."""
    audit(LOCKS_CLEARED, subject=username, actor=actor, client_addr=client_addr)


# --- per-address limits (Flask-Limiter) ------------------------------------------------------

LIMITER_KEY = "livegate.limiter"


def _client_key() -> str:
    from webapp.accounts.security import client_address

    return client_address()


def _on_breach(limit: RequestLimit) -> None:
    """Audit the breach and answer 429 rate_limited with Retry-After (one error shape)."""
    from webapp.accounts.security import client_address

    body = request.get_json(silent=True) if request.is_json else None
    subject = body.get("username") if isinstance(body, dict) and isinstance(body.get("username"), str) else None
    retry = max(1, math.ceil(limit.window[0] - time.time()))  # window[0]: when the oldest hit expires
    audit(
        "rate_limited",
        subject=(subject or None) and subject[:64],
        client_addr=client_address(),
        endpoint=request.endpoint,
        limit=str(limit.limit),
    )
    db.session.commit()
    raise RateLimited(retry_after=retry)


def init_limits(app: Flask, cfg: ThrottleSettings) -> Limiter:
    """One Limiter per app (its own storage: tests build many apps), wrapping the endpoints that
    have a per-address limit. Called after the blueprints are registered."""
    limiter = Limiter(key_func=_client_key, storage_uri=cfg.storage_uri, strategy="moving-window", headers_enabled=False)
    limiter.init_app(app)
    limits: dict[str, str] = {
        "api.login_start": f"{cfg.rate_limit_attempts} per {cfg.rate_limit_window_seconds} second" if cfg.rate_limit_attempts > 0 else "",
        "api.login_frame": cfg.rate_limit_frames,
        "admin.login": cfg.rate_limit_admin_login,
    }
    for endpoint, value in limits.items():
        if not value or endpoint not in app.view_functions:
            continue
        view: Callable[..., Any] = app.view_functions[endpoint]
        methods = ["POST"]  # the pages' GETs (the admin form) are not limited
        app.view_functions[endpoint] = limiter.limit(value, methods=methods, on_breach=_on_breach)(view)
    app.extensions[LIMITER_KEY] = limiter
    return limiter
