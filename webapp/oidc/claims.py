"""What a face login proves, as OpenID Connect claims, and the user's own claims.

- ``auth_time``: when the server granted the face login attempt (its ``finished_at`` on the
  server clock), not when the code or token was issued.
- ``amr`` (RFC 8176 authentication method references): ``"face"`` plus each liveness layer the
  granted attempt passed: ``"passive_liveness"`` (the ONNX ensemble's live score), the active
  challenge steps completed (``"blink"``, ``"turn_left"``, ``"turn_right"``, ``"closer"``),
  ``"planar_motion"`` when the parallax check judged turned frames, ``"continuity"`` when the
  scene/pose/face continuity check was on.
- ``acr``: the policy the login ran under: ``ACR_ACTIVE`` with an active challenge, else
  ``ACR_PASSIVE`` (passive-only mode).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from authlib.oidc.core import UserInfo

from webapp.db.extensions import db
from webapp.db.models import STATE_GRANTED, LoginAttempt, User
from webapp.oidc.models import OidcSubject
from webapp.settings import settings

ACR_ACTIVE = "urn:livegate:acr:face-liveness-challenge"
ACR_PASSIVE = "urn:livegate:acr:face-liveness-passive"
ACR_VALUES = (ACR_ACTIVE, ACR_PASSIVE)
AMR_VALUES = ("face", "passive_liveness", "blink", "turn_left", "turn_right", "closer", "planar_motion", "continuity")


def epoch(dt: datetime) -> int:
    """Seconds since the epoch of a naive-UTC server time (JWT NumericDate)."""
    return int(dt.replace(tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class FaceProof:
    """What one granted face login attempt established."""

    auth_time: datetime
    acr: str
    amr: list[str]


def proof_of(attempt: LoginAttempt | None) -> FaceProof | None:
    """The proof of a granted attempt, or None (no attempt, not granted, no grant time)."""
    if attempt is None or attempt.state != STATE_GRANTED or attempt.finished_at is None:
        return None
    scores: dict[str, Any] = attempt.scores or {}
    steps = [s for s in scores.get("steps_done", []) if s in AMR_VALUES]
    amr = ["face"]
    if scores.get("live_frames"):
        amr.append("passive_liveness")
    amr += steps
    knobs = settings().policy_knobs
    turned = (scores.get("motion") or {}).get("turned") or 0
    if knobs.planarity is not None and turned >= knobs.planarity.min_turned_frames:
        amr.append("planar_motion")
    if knobs.continuity is not None:
        amr.append("continuity")
    return FaceProof(auth_time=attempt.finished_at, acr=ACR_ACTIVE if attempt.challenge else ACR_PASSIVE, amr=amr)


def subject_of(user: User) -> str:
    """The user's ``sub``: random, created on first use, never reused (see OidcSubject)."""
    row = db.session.scalar(sa.select(OidcSubject).where(OidcSubject.user_id == user.id))
    if row is None:
        row = OidcSubject(user_id=user.id, subject=secrets.token_urlsafe(18))
        db.session.add(row)
        db.session.flush()
    return row.subject


def user_info(user: User, scope: str) -> UserInfo:
    """The claims for ``scope``: sub always; name and preferred_username with ``profile``;
    email with ``email`` (when the admin recorded one; nobody verified it, so
    email_verified is false)."""
    scopes = set(scope.split())
    info = UserInfo(sub=subject_of(user))
    if "profile" in scopes:
        info["name"] = user.display_name
        info["preferred_username"] = user.username
    if "email" in scopes and user.email:
        info["email"] = user.email
        info["email_verified"] = False
    return info
