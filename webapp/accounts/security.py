"""Secrets, tokens, CSRF and request-origin checks.

Browser sessions live server-side (:class:`webapp.db.models.UserSession`): the cookie holds a
random session token whose SHA-256 is stored, so logging out revokes the session for good
(a copied cookie stops working), and every login issues a new token (session fixation).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import request, session
from flask_login import UserMixin, login_user, logout_user
from werkzeug.security import check_password_hash

from webapp.db.extensions import db, login_manager
from webapp.db.models import ApiToken, User, UserSession, utcnow
from webapp.errors import CsrfFailed, Forbidden
from webapp.settings import settings

CSRF_SESSION_KEY = "_csrf"
TOKEN_PREFIX = "lg_"
# Endpoints other sites' servers and scripts call without cookies (client credentials or a
# bearer token instead): the OpenID Connect token and userinfo endpoints (webapp/oidc).
CROSS_SITE_ENDPOINTS: set[str] = set()


def token_hash(token: str) -> str:
    """Tokens are 32 random bytes: a plain SHA-256 is enough (no salt or slow hash needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


# argon2id with argon2-cffi's defaults (RFC 9106's second recommended option: t=3, 64 MiB,
# p=4), above OWASP's minimum (19 MiB, t=2). Hashes made before (werkzeug scrypt, N=2^15) still
# verify and are replaced on the next successful sign-in (needs_rehash).
_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    if not stored:
        # Burn the same time as a real check so timing does not reveal a missing account.
        _verify_argon2(_dummy_hash(), password)
        return False
    if stored.startswith("$argon2"):
        return _verify_argon2(stored, password)
    return check_password_hash(stored, password)


def needs_rehash(stored: str | None) -> bool:
    """True for a hash to replace after a successful sign-in: an older scheme or parameters."""
    if not stored or not stored.startswith("$argon2"):
        return True
    return _HASHER.check_needs_rehash(stored)


def _verify_argon2(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash("livegate-timing-equaliser")


# --- browser sessions --------------------------------------------------------------------


class SessionUser(UserMixin):
    """What Flask-Login sees: a user *and* the server-side session that authenticated them."""

    def __init__(self, user: User, record: UserSession, token: str) -> None:
        self.user = user
        self.record = record
        self._token = token

    def get_id(self) -> str:
        return self._token

    @property
    def is_admin_session(self) -> bool:
        """Admin pages need an admin who signed in with the admin password, not by face."""
        return self.user.is_admin and self.record.method == "password"


@login_manager.user_loader
def _load_session(token: str) -> SessionUser | None:
    record = db.session.scalar(sa.select(UserSession).where(UserSession.token_hash == token_hash(token)))
    now = utcnow()
    if record is None or record.revoked_at is not None or record.expires_at <= now:
        return None
    # Refresh "last seen" at most once a minute to keep writes off the hot path.
    if (now - record.last_seen_at).total_seconds() > 60:
        record.last_seen_at = now
        db.session.commit()
    return SessionUser(record.user, record, token)


def start_session(user: User, method: str, client_addr: str, attempt_id: int | None = None) -> SessionUser:
    """Sign ``user`` in with a brand-new session id (any previous session is ended first)."""
    end_session()
    token = secrets.token_urlsafe(32)
    record = UserSession(
        token_hash=token_hash(token),
        user_id=user.id,
        method=method,
        attempt_id=attempt_id,
        client_addr=client_addr,
        expires_at=utcnow() + timedelta(seconds=settings().session_lifetime_seconds),
    )
    db.session.add(record)
    db.session.commit()
    principal = SessionUser(user, record, token)
    session.clear()
    session.permanent = True
    login_user(principal)
    return principal


def end_session() -> None:
    """Revoke the current server-side session, if any, and clear the cookie session."""
    from flask_login import current_user

    if getattr(current_user, "is_authenticated", False):
        record = current_user.record  # type: ignore[attr-defined]
        if record.revoked_at is None:
            record.revoked_at = utcnow()
            db.session.commit()
        logout_user()
    session.clear()


# --- API tokens --------------------------------------------------------------------------


def issue_api_token(user: User, label: str = "") -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=token_hash(token), prefix=token[:10], label=label))
    db.session.commit()
    return token


def bearer_user() -> User | None:
    """The admin behind ``Authorization: Bearer <token>``, or None if no such header."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    token = header[7:].strip()
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    row.last_used_at = utcnow()
    db.session.commit()
    return row.user


# --- CSRF and origin ---------------------------------------------------------------------


def csrf_token() -> str:
    """The per-session CSRF token (created on first use), for forms and the X-CSRF-Token header."""
    token = session.get(CSRF_SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return str(token)


def check_csrf() -> None:
    expected = session.get(CSRF_SESSION_KEY)
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token")
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        raise CsrfFailed()


def check_same_origin() -> None:
    """Refuse state-changing browser requests sent from another site.

    Browsers attach ``Origin`` to cross-site POSTs; scripts and same-origin fetches either
    omit it or send ours. Together with SameSite=Lax cookies this stops login CSRF (someone
    else's page signing a victim into the attacker's account) without tokens on the public
    login API; admin requests additionally carry a CSRF token.
    """
    if request.method in ("GET", "HEAD", "OPTIONS") or request.endpoint in CROSS_SITE_ENDPOINTS:
        return
    origin = request.headers.get("Origin")
    if origin is None:
        return
    here = urlsplit(request.host_url)
    there = urlsplit(origin)
    if (there.scheme, there.netloc) != (here.scheme, here.netloc):
        raise Forbidden("Cross-site requests are not allowed.")


def client_address() -> str:
    """The client's IP (ProxyFix already applied TRUSTED_PROXIES when configured)."""
    return (request.remote_addr or "unknown")[:64]
