"""The authorization request while the user proves who they are with the face login.

Nothing the relying party sends decides where the browser goes after the login: the request
is kept server-side (in the signed session cookie) and the login page continues to one fixed
internal route, ``/oidc/resume``, which sends the browser back to ``/oidc/authorize`` with the
stored query, where Authlib validates it again from scratch. (The session cookie is signed,
not encrypted: it holds only the query the browser itself carried here.)

Three session entries, all bound to the exact query string of the authorization request:
- ``PENDING``: a request waiting for a face login (and since when);
- ``FRESH``: set by the resume route: the face login that request asked for happened after
  it was made, which is what ``prompt=login`` and ``max_age`` need;
- ``CONSENT``: the consent screen shown for that request, to that session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from flask import session, url_for
from flask_login import current_user

from webapp.db.extensions import db
from webapp.db.models import LoginAttempt, utcnow
from webapp.oidc.claims import epoch, proof_of
from webapp.oidc.grants import EndUser
from webapp.settings import settings

PENDING = "oidc_pending"
FRESH = "oidc_fresh"
CONSENT = "oidc_consent"


def face_user() -> EndUser | None:
    """The signed-in user when their session came from a granted face login (an admin's
    password session does not count: relying parties are promised a face check)."""
    if not getattr(current_user, "is_authenticated", False):
        return None
    record = current_user.record
    if record.method != "face" or record.attempt_id is None:
        return None
    proof = proof_of(db.session.get(LoginAttempt, record.attempt_id))
    return EndUser(current_user.user, proof) if proof else None


@dataclass(frozen=True)
class LoginNeed:
    needed: bool
    why: str  # "none" | "no_face_session" | "prompt_login" | "max_age"


def login_need(end_user: EndUser | None, query: str, prompt: str, max_age: int | None) -> LoginNeed:
    """Whether this request needs a (fresh) face login first."""
    if end_user is None:
        return LoginNeed(True, "no_face_session")
    auth_time = epoch(end_user.proof.auth_time)
    fresh = session.get(FRESH)
    if isinstance(fresh, dict) and fresh.get("query") == query and auth_time >= int(fresh.get("not_before", 0)):
        return LoginNeed(False, "none")  # the login this very request sent the user to
    if "login" in prompt.split():
        return LoginNeed(True, "prompt_login")
    if max_age is not None and epoch(utcnow()) - auth_time > max_age:
        return LoginNeed(True, "max_age")
    return LoginNeed(False, "none")


def remember_pending(query: str) -> None:
    session[PENDING] = {"query": query, "at": epoch(utcnow())}


def _live(pending: Any) -> dict[str, Any] | None:
    if not isinstance(pending, dict) or not isinstance(pending.get("query"), str):
        return None
    if epoch(utcnow()) - int(pending.get("at", 0)) > settings().oidc.pending_seconds:
        return None
    return pending


def take_pending() -> dict[str, Any] | None:
    """Remove and return the pending request (call before a login clears the session)."""
    return _live(session.pop(PENDING, None))


def continue_after_login(pending: dict[str, Any] | None) -> str | None:
    """After a granted face login: put the pending request back into the new session and
    return the fixed resume route, or None when no (live) request waits."""
    if pending is None:
        return None
    session[PENDING] = pending
    return url_for("oidc.resume")


def resume() -> str | None:
    """The stored query to send back to the authorization endpoint, marked as satisfied by
    the login that happened after it was made; None when nothing (live) is pending."""
    pending = take_pending()
    if pending is None:
        return None
    session[FRESH] = {"query": pending["query"], "not_before": int(pending["at"])}
    return str(pending["query"])


def pending_client_id() -> str | None:
    """The client a pending request is for (to name it on the login page)."""
    pending = _live(session.get(PENDING))
    if pending is None:
        return None
    values = parse_qs(pending["query"]).get("client_id")
    return values[0] if values else None


def remember_consent(query: str) -> None:
    session[CONSENT] = {"query": query, "session": current_user.record.id}


def take_consent(query: str) -> bool:
    """True when the consent screen was shown for exactly this request to this session."""
    shown = session.pop(CONSENT, None)
    return (
        isinstance(shown, dict)
        and shown.get("query") == query
        and getattr(current_user, "is_authenticated", False)
        and shown.get("session") == current_user.record.id
    )


def finished() -> None:
    """The request got its answer (a code or an error): forget its markers."""
    for key in (PENDING, FRESH, CONSENT):
        session.pop(key, None)
