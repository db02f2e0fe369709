"""Account administration used by the admin API, the admin pages and the CLI.

Nothing here commits: each caller records its audit event and commits once, so an action and
its audit land together or not at all (``webapp/db/audit.py``).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from webapp.accounts.security import hash_password
from webapp.db.extensions import db
from webapp.db.models import ROLE_ADMIN, ROLE_USER, FaceTemplate, User, UserSession, utcnow
from webapp.errors import InvalidRequest, UnknownUser, UserExists

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
# A plausible address (one @, a dot in the domain, no spaces); nobody verifies it.
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def normalise_username_query(raw: str) -> str:
    """The form every stored username has (trimmed, lower case): for filters and lookups that
    must not refuse what a user typed, such as the admin attempts search."""
    return raw.strip().lower()


def normalise_username(raw: Any) -> str:
    """Usernames are case-insensitive and trimmed; refuse anything outside a safe alphabet."""
    if not isinstance(raw, str):
        raise InvalidRequest("username must be a string")
    name = normalise_username_query(raw)
    if not USERNAME_RE.match(name):
        raise InvalidRequest("username must be 1-64 characters: letters, digits, . _ @ -")
    return name


def check_email(raw: str) -> str:
    email = raw.strip()
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise InvalidRequest(f"Not an email address: {raw!r}.")
    return email


def find_user(username: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.username == normalise_username(username)))
    if user is None:
        raise UnknownUser()
    return user


def create_user(username: Any, display_name: Any, role: str = ROLE_USER, password: str | None = None) -> User:
    name = normalise_username(username)
    if not isinstance(display_name, str) or not display_name.strip() or len(display_name.strip()) > 128:
        raise InvalidRequest("display_name must be 1-128 characters")
    if role not in (ROLE_USER, ROLE_ADMIN):
        raise InvalidRequest("role must be 'user' or 'admin'")
    if db.session.scalar(sa.select(User.id).where(User.username == name)) is not None:
        raise UserExists()
    user = User(username=name, display_name=display_name.strip(), role=role, password_hash=hash_password(password) if password else None)
    db.session.add(user)
    db.session.flush()  # the id, for templates enrolled in the same transaction
    return user


def delete_templates(user: User) -> int:
    result = db.session.execute(sa.delete(FaceTemplate).where(FaceTemplate.user_id == user.id))
    return int(getattr(result, "rowcount", 0) or 0)


def delete_user(user: User) -> None:
    """Remove the account, its templates, tokens and sessions; login attempts stay for the
    audit trail with the user link cleared (they keep only the claimed username)."""
    db.session.execute(sa.update(UserSession).where(UserSession.user_id == user.id).values(revoked_at=utcnow()))
    db.session.delete(user)


def template_counts() -> dict[int, int]:
    rows = db.session.execute(sa.select(FaceTemplate.user_id, sa.func.count(FaceTemplate.id)).group_by(FaceTemplate.user_id)).all()
    return {int(uid): int(n) for uid, n in rows}


def users_with_counts() -> list[tuple[User, int]]:
    """Every account by username, with its number of enrolled faces (admin API, pages, CLI)."""
    counts = template_counts()
    return [(u, counts.get(u.id, 0)) for u in db.session.scalars(sa.select(User).order_by(User.username))]
