"""What the service holds about a person, for how long, and how it goes away.

* **Consent** (GDPR art. 9(2)(a), BIPA 15(b)): recorded when a face is first enrolled under
  a consent text: who recorded it, when, the exact text and its hash.
* **Retention** (:func:`prune`, ``flask prune``): landmarks, per-frame signals and frame hashes
  are kept only while an attempt is reviewable (RETAIN_SIGNALS_DAYS, 30 by default); attempts,
  audit events and ended sessions go after their own ages.
* **Access** (:func:`export_person`, ``flask users export``) and **erasure**
  (:func:`erase_person`, ``flask users erase``): templates, consents, attempts and their frames,
  sessions and tokens are deleted; audit events about the person keep only a pseudonym (an HMAC
  of the username under the secret key), and one ``user_erased`` event records that it happened.

Nothing here commits: the CLI audits and commits once.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from webapp.accounts.templates import Owner, ref_vector, unpack_encoding
from webapp.db.extensions import db
from webapp.db.models import ApiToken, AttemptFrame, AuditEvent, Consent, FaceTemplate, LoginAttempt, User, UserSession, utcnow
from webapp.settings import RetentionSettings


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() + "Z" if moment else None


# --- consent ---------------------------------------------------------------------------------


def record_consent(user: User, text: str, recorded_by: str) -> Consent | None:
    """Record the person's consent to ``text`` unless it is already on file (same text)."""
    digest = hashlib.sha256(text.encode()).hexdigest()
    existing = db.session.scalar(sa.select(Consent.id).where(Consent.user_id == user.id, Consent.text_sha256 == digest))
    if existing is not None:
        return None
    consent = Consent(user_id=user.id, text=text, text_sha256=digest, recorded_by=recorded_by[:64], given_at=utcnow())
    db.session.add(consent)
    return consent


# --- retention -------------------------------------------------------------------------------


def prune(now: datetime, cfg: RetentionSettings) -> dict[str, int]:
    """Apply the retention policy; returns how many rows each rule touched."""
    signals_before = now - timedelta(days=cfg.signals_days)
    attempts_before = now - timedelta(days=cfg.attempts_days)
    old_attempts = sa.select(LoginAttempt.id).where(LoginAttempt.created_at < attempts_before)
    counts: dict[str, int] = {}
    counts["frames_deleted"] = _rowcount(db.session.execute(sa.delete(AttemptFrame).where(AttemptFrame.attempt_id.in_(old_attempts))))
    db.session.execute(sa.update(UserSession).where(UserSession.attempt_id.in_(old_attempts)).values(attempt_id=None))
    counts["attempts_deleted"] = _rowcount(db.session.execute(sa.delete(LoginAttempt).where(LoginAttempt.created_at < attempts_before)))
    # Past review: the landmark points, per-frame signals and hashes go; the decision, its
    # reason and the per-signal summary stay until the attempt itself goes.
    reviewable = sa.select(LoginAttempt.id).where(LoginAttempt.created_at < signals_before, LoginAttempt.state != "collecting")
    counts["frames_stripped"] = _rowcount(
        db.session.execute(
            sa.update(AttemptFrame)
            .where(AttemptFrame.attempt_id.in_(reviewable))
            .where(
                sa.or_(
                    AttemptFrame.phash.is_not(None),
                    AttemptFrame.fingerprint.is_not(None),
                    sa.cast(AttemptFrame.signals, sa.String) != "{}",
                )
            )
            .values(signals={}, phash=None, dhash=None, fingerprint=None)
            .execution_options(synchronize_session=False)
        )
    )
    counts["attempts_stripped"] = _rowcount(
        db.session.execute(
            sa.update(LoginAttempt)
            .where(LoginAttempt.id.in_(reviewable), sa.cast(LoginAttempt.progress, sa.String) != "{}")
            .values(progress={})
            .execution_options(synchronize_session=False)
        )
    )
    counts["audit_deleted"] = _rowcount(
        db.session.execute(sa.delete(AuditEvent).where(AuditEvent.at < now - timedelta(days=cfg.audit_days)))
    )
    ended = sa.or_(UserSession.expires_at < now, UserSession.revoked_at.is_not(None))
    counts["sessions_deleted"] = _rowcount(
        db.session.execute(sa.delete(UserSession).where(ended, UserSession.last_seen_at < now - timedelta(days=cfg.sessions_days)))
    )
    return counts


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# --- access and erasure ----------------------------------------------------------------------


def _person_attempts(user: User) -> sa.Select[tuple[LoginAttempt]]:
    return sa.select(LoginAttempt).where(sa.or_(LoginAttempt.user_id == user.id, LoginAttempt.username == user.username))


def export_person(user: User, with_vectors: bool = False) -> dict[str, Any]:
    """Everything held about ``user`` as JSON-ready data (the vectors only when asked)."""
    owner = Owner.of(user)
    templates = []
    for t in db.session.scalars(sa.select(FaceTemplate).where(FaceTemplate.user_id == user.id).order_by(FaceTemplate.id)):
        entry: dict[str, Any] = {
            "created_at": _iso(t.created_at),
            "source": t.source,
            "model": t.encoding_model,
            "quality": t.quality,
            "quality_detail": t.quality_detail,
            "sealed_sha256": hashlib.sha256(t.encoding).hexdigest(),
            "liveness_models": {name: e.get("version") for name, e in (t.liveness_refs or {}).items()},
        }
        if with_vectors:
            entry["encoding"] = [round(float(v), 8) for v in unpack_encoding(t.encoding, owner)]
            entry["liveness_refs"] = {
                name: [round(float(v), 6) for v in ref_vector(name, e, owner)] for name, e in (t.liveness_refs or {}).items()
            }
        templates.append(entry)
    attempts = []
    for a in db.session.scalars(_person_attempts(user).order_by(LoginAttempt.created_at)):
        attempts.append(
            {
                "attempt_id": a.public_id,
                "created_at": _iso(a.created_at),
                "finished_at": _iso(a.finished_at),
                "client_addr": a.client_addr,
                "user_agent": a.user_agent,
                "challenge": a.challenge,
                "state": a.state,
                "reason": a.reason,
                "scores": a.scores,
                "frames": [
                    {"seq": f.seq, "received_at": _iso(f.received_at), "outcome": f.outcome, "signals": f.signals} for f in a.frames
                ],
            }
        )
    return {
        "exported_at": _iso(utcnow()),
        "user": {"username": user.username, "display_name": user.display_name, "role": user.role, "created_at": _iso(user.created_at)},
        "consents": [
            {"given_at": _iso(c.given_at), "recorded_by": c.recorded_by, "text": c.text}
            for c in db.session.scalars(sa.select(Consent).where(Consent.user_id == user.id).order_by(Consent.id))
        ],
        "templates": templates,
        "attempts": attempts,
        "sessions": [
            {
                "method": s.method,
                "client_addr": s.client_addr,
                "created_at": _iso(s.created_at),
                "expires_at": _iso(s.expires_at),
                "revoked_at": _iso(s.revoked_at),
            }
            for s in db.session.scalars(sa.select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id))
        ],
        "api_tokens": [
            {"prefix": t.prefix, "label": t.label, "created_at": _iso(t.created_at), "revoked_at": _iso(t.revoked_at)}
            for t in db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
        ],
        "audit_events": [
            {"at": _iso(e.at), "kind": e.kind, "actor": e.actor, "client_addr": e.client_addr, "detail": e.detail}
            for e in db.session.scalars(
                sa.select(AuditEvent)
                .where(sa.or_(AuditEvent.subject == user.username, AuditEvent.actor == user.username))
                .order_by(AuditEvent.id)
            )
        ],
    }


def pseudonym(username: str) -> str:
    """A stable stand-in for an erased username (HMAC under the secret key): the audit trail can
    still tell that events concerned one person, not who."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return "erased:" + hmac.new(key, b"livegate-erased:" + username.encode(), hashlib.sha256).hexdigest()[:16]


def erase_person(user: User) -> dict[str, int]:
    """Delete everything held about ``user``; audit events keep a pseudonym. The caller audits
    (``user_erased``, with the pseudonym) and commits."""
    name, alias = user.username, pseudonym(user.username)
    attempt_ids = sa.select(LoginAttempt.id).where(sa.or_(LoginAttempt.user_id == user.id, LoginAttempt.username == name))
    counts = {
        "templates": _rowcount(db.session.execute(sa.delete(FaceTemplate).where(FaceTemplate.user_id == user.id))),
        "consents": _rowcount(db.session.execute(sa.delete(Consent).where(Consent.user_id == user.id))),
        "sessions": _rowcount(db.session.execute(sa.delete(UserSession).where(UserSession.user_id == user.id))),
        "api_tokens": _rowcount(db.session.execute(sa.delete(ApiToken).where(ApiToken.user_id == user.id))),
    }
    db.session.execute(sa.update(UserSession).where(UserSession.attempt_id.in_(attempt_ids)).values(attempt_id=None))
    counts["frames"] = _rowcount(db.session.execute(sa.delete(AttemptFrame).where(AttemptFrame.attempt_id.in_(attempt_ids))))
    counts["attempts"] = _rowcount(
        db.session.execute(sa.delete(LoginAttempt).where(sa.or_(LoginAttempt.user_id == user.id, LoginAttempt.username == name)))
    )
    counts["audit_pseudonymised"] = _rowcount(
        db.session.execute(sa.update(AuditEvent).where(AuditEvent.subject == name).values(subject=alias, detail={}))
    ) + _rowcount(db.session.execute(sa.update(AuditEvent).where(AuditEvent.actor == name).values(actor=alias)))
    db.session.execute(sa.delete(User).where(User.id == user.id))
    db.session.expunge(user)
    return counts


def checkpoint() -> None:
    """SQLite: move the WAL into the file now (secure_delete zeroed the rows there), so an
    erased person's bytes do not wait in the -wal file for the next automatic checkpoint."""
    if db.engine.dialect.name == "sqlite":
        db.session.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
