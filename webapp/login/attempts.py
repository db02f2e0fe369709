"""Looking attempts up: by public id (login and admin) and the newest first (admin)."""

from __future__ import annotations

import sqlalchemy as sa

from webapp.accounts.users import normalise_username_query
from webapp.db.extensions import db
from webapp.db.models import LoginAttempt
from webapp.errors import UnknownAttempt


def get_attempt(public_id: str) -> LoginAttempt:
    attempt = db.session.scalar(sa.select(LoginAttempt).where(LoginAttempt.public_id == public_id))
    if attempt is None:
        raise UnknownAttempt()
    return attempt


def recent_attempts(limit: int, username: str | None = None) -> list[LoginAttempt]:
    """The newest attempts first (admin API and pages), optionally of one username."""
    query = sa.select(LoginAttempt).order_by(LoginAttempt.created_at.desc(), LoginAttempt.id.desc()).limit(limit)
    if username:
        query = query.where(LoginAttempt.username == normalise_username_query(username))
    return list(db.session.scalars(query))
