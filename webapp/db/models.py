"""Database tables (SQLAlchemy 2.x typed mappings).

All login-attempt state lives here, not in worker memory, so any gunicorn worker can take
any frame of any attempt. Times are naive UTC from the server clock (:func:`utcnow`); no
client-supplied time is ever stored as a fact.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.db import clock
from webapp.db.extensions import db

ROLE_USER = "user"
ROLE_ADMIN = "admin"

STATE_COLLECTING = "collecting"
STATE_GRANTED = "granted"
STATE_DENIED = "denied"


def utcnow() -> datetime:
    """Server-clock now (indirect, so that tests moving webapp.db.clock also move defaults)."""
    return clock.utcnow()


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored normalised (stripped, lower-case): "Alice" and "alice" are one account.
    username: Mapped[str] = mapped_column(sa.String(64), unique=True, index=True)
    display_name: Mapped[str] = mapped_column(sa.String(128))
    # Optional; given to OpenID Connect clients granted the "email" scope (webapp/oidc).
    email: Mapped[str | None] = mapped_column(sa.String(254))
    role: Mapped[str] = mapped_column(sa.String(16), default=ROLE_USER)
    # Only admins have a password (they sign in to the admin pages with it).
    password_hash: Mapped[str | None] = mapped_column(sa.String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    templates: Mapped[list[FaceTemplate]] = relationship(back_populates="user", cascade="all, delete-orphan", passive_deletes=True)

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN


class FaceTemplate(db.Model):  # type: ignore[name-defined,misc]
    """One enrolled face: the dlib encoding, plus reference embeddings of identity-aware
    liveness models. No face image is stored (privacy): only these vectors."""

    __tablename__ = "face_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    encoding: Mapped[bytes] = mapped_column(sa.LargeBinary)  # 128 x float64, see webapp/accounts/templates.py
    encoding_model: Mapped[str] = mapped_column(sa.String(64))
    source: Mapped[str] = mapped_column(sa.String(16))  # "upload" | "webcam" | "cli"
    quality: Mapped[float] = mapped_column(sa.Float)
    quality_detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # {model_name: {"version": str, "vector": base64 float32}} for Siamese liveness models.
    liveness_refs: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="templates")


class Consent(db.Model):  # type: ignore[name-defined,misc]
    """The biometric consent a person gave before their face was enrolled (GDPR art. 9(2)(a),
    BIPA 15(b)): who recorded it, when, and the exact text they agreed to."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(sa.Text)
    text_sha256: Mapped[str] = mapped_column(sa.String(64))
    recorded_by: Mapped[str] = mapped_column(sa.String(64))  # the admin (or "cli") who enrolled the face
    given_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginAttempt(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The opaque, unguessable id clients see (secrets.token_urlsafe); never the row id.
    public_id: Mapped[str] = mapped_column(sa.String(64), unique=True, index=True)
    # The username as claimed (normalised), kept even when no such user exists: lockout
    # counts per claimed name so that it behaves the same for unknown accounts.
    username: Mapped[str] = mapped_column(sa.String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    client_addr: Mapped[str] = mapped_column(sa.String(64), index=True)
    # SHA-256 (hex, 32 characters) of the signed device cookie's id (webapp/login/device.py):
    # failures are counted per account *and* client (address + device), so a stranger's
    # failures never lock the owner's device out (webapp/login/throttle.py).
    device_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    user_agent: Mapped[str] = mapped_column(sa.String(256), default="")
    challenge: Mapped[list[str]] = mapped_column(sa.JSON)
    state: Mapped[str] = mapped_column(sa.String(16), default=STATE_COLLECTING, index=True)
    reason: Mapped[str | None] = mapped_column(sa.String(32))
    # The fine-grained reason for audits (e.g. "step 2 turn_left not done in 20 frames").
    detail: Mapped[str | None] = mapped_column(sa.String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    expires_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    last_frame_at: Mapped[datetime | None]
    frames_received: Mapped[int] = mapped_column(default=0)
    # Frames with exactly one usable face: an attempt that never had one is not a failed
    # authentication (nobody's face was judged), only a start counted against the client's rate.
    face_frames: Mapped[int] = mapped_column(default=0)
    # Per-signal summary shown to admins: identity distances, liveness score, steps...
    scores: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # The attempt's evolving analysis state (webapp/login/state.py), serialised.
    progress: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # Optimistic locking: two workers updating one attempt at once -> one retries.
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    frames: Mapped[list[AttemptFrame]] = relationship(
        back_populates="attempt", cascade="all, delete-orphan", passive_deletes=True, order_by="AttemptFrame.seq"
    )


class AttemptFrame(db.Model):  # type: ignore[name-defined,misc]
    """What the server saw in one frame of an attempt (never the image itself)."""

    __tablename__ = "attempt_frames"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("login_attempts.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int]  # server-side order of arrival, 1-based
    # What the client sent as `seq`: any signed 64-bit integer (uploads.optional_int), so BIGINT
    # (PostgreSQL's INTEGER is 32-bit; SQLite's is 64-bit either way).
    client_seq: Mapped[int | None] = mapped_column(sa.BigInteger)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # sha256 of the uploaded bytes: byte-identical frames within and across attempts = replay.
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    # Perceptual hashes and block fingerprint (webapp/replay/hashes.py): re-encoded copies.
    phash: Mapped[str | None] = mapped_column(sa.String(16))
    dhash: Mapped[str | None] = mapped_column(sa.String(16))
    fingerprint: Mapped[str | None] = mapped_column(sa.Text)
    faces: Mapped[int] = mapped_column(default=0)
    outcome: Mapped[str] = mapped_column(sa.String(32))  # "ok" | "no_face" | "multiple_faces" | ...
    signals: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)  # distance, live score, ear, yaw...

    attempt: Mapped[LoginAttempt] = relationship(back_populates="frames")


class UserSession(db.Model):  # type: ignore[name-defined,misc]
    """A server-side login session: the cookie carries only a random id whose hash is here,
    so logout (or an admin) can revoke it for good."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True, index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(sa.String(16))  # "face" | "password"
    attempt_id: Mapped[int | None] = mapped_column(sa.ForeignKey("login_attempts.id", ondelete="SET NULL"))
    client_addr: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class ApiToken(db.Model):  # type: ignore[name-defined,misc]
    """An admin API token; only its sha256 is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True, index=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))  # first characters, to tell tokens apart
    label: Mapped[str] = mapped_column(sa.String(128), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class AuditEvent(db.Model):  # type: ignore[name-defined,misc]
    """Security-relevant events besides login attempts: throttling, admin actions."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(sa.String(32), index=True)
    actor: Mapped[str | None] = mapped_column(sa.String(64))  # admin username, or None
    subject: Mapped[str | None] = mapped_column(sa.String(64))  # affected username
    client_addr: Mapped[str] = mapped_column(sa.String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
