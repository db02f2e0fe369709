"""The replay lookups that need the database: a frame's bytes in another attempt, and a
re-encoded copy of a frame of this attempt or of the same username's recent attempts."""

from __future__ import annotations

import sqlalchemy as sa

from webapp.db.extensions import db
from webapp.db.models import AttemptFrame, LoginAttempt
from webapp.replay.hashes import FrameHash, NearDuplicateSettings, nearest_duplicate


def seen_in_other_attempt(sha256: str, attempt_id: int) -> bool:
    """Byte-identical to a frame another attempt received (a recorded submission re-sent)."""
    found = db.session.scalar(
        sa.select(AttemptFrame.id).where(AttemptFrame.sha256 == sha256, AttemptFrame.attempt_id != attempt_id).limit(1)
    )
    return found is not None


def is_near_duplicate(hashes: FrameHash, username: str, lookback_attempts: int, near: NearDuplicateSettings) -> bool:
    """Is this frame a re-encoded copy of an earlier frame of this attempt, or of one of the
    same username's ``lookback_attempts`` previous attempts?"""
    recent = (
        sa.select(LoginAttempt.id)
        .where(LoginAttempt.username == username)
        .order_by(LoginAttempt.created_at.desc(), LoginAttempt.id.desc())
        .limit(lookback_attempts + 1)
    )
    rows = db.session.execute(
        sa.select(AttemptFrame.phash, AttemptFrame.dhash, AttemptFrame.fingerprint).where(
            AttemptFrame.attempt_id.in_(recent), AttemptFrame.phash.is_not(None)
        )
    ).all()
    return nearest_duplicate(hashes, [(p, d, f or "") for p, d, f in rows], near) is not None
