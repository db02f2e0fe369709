"""The admin users table: each account's faces, enrollment quality, lock status and last
sign-in, with a search. Read-only; the lock comes from the same rule the login applies
(login/throttle.py), so the table never disagrees with what the user meets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from webapp.accounts.users import normalise_username_query, template_counts
from webapp.db.extensions import db
from webapp.db.models import FaceTemplate, User, UserSession, utcnow
from webapp.login.throttle import active_locks
from webapp.settings import settings


@dataclass(frozen=True)
class UserRow:
    user: User
    faces: int
    mean_quality: float | None
    locked_for: int | None  # seconds left of the longest lock or slowdown on the account, None when none
    last_sign_in: datetime | None  # last face sign-in (a granted attempt's session)

    @property
    def needs_faces(self) -> bool:
        return self.faces < settings().enroll.min_faces


def user_rows(search: str = "") -> list[UserRow]:
    query = sa.select(User).order_by(User.username)
    term = normalise_username_query(search)
    if term:
        like = f"%{term.replace('%', '').replace('_', '')}%"
        query = query.where(sa.or_(User.username.like(like), sa.func.lower(User.display_name).like(like)))
    users = list(db.session.scalars(query))
    counts = template_counts()
    quality_rows = db.session.execute(sa.select(FaceTemplate.user_id, sa.func.avg(FaceTemplate.quality)).group_by(FaceTemplate.user_id))
    quality: dict[int, float] = {int(uid): float(q) for uid, q in quality_rows}
    face_sessions = sa.select(UserSession.user_id, sa.func.max(UserSession.created_at)).where(UserSession.method == "face")
    last: dict[int, datetime] = {int(uid): at for uid, at in db.session.execute(face_sessions.group_by(UserSession.user_id))}
    now = utcnow()
    # Locks are per account and client (login/throttle.py): the table shows the longest one in
    # force on the account; the locks section lists each and clears them.
    left: dict[str, int] = {}
    for lock in active_locks(now, settings().throttle):
        seconds = max(1, int((lock.until - now).total_seconds()))
        left[lock.username] = max(seconds, left.get(lock.username, 0))
    return [UserRow(u, counts.get(u.id, 0), quality.get(u.id), left.get(u.username), last.get(u.id)) for u in users]
