"""Tables of the OpenID Connect provider.

Secrets, codes and access tokens are stored as SHA-256 digests only (they are 32+ random
bytes, so a plain hash is enough, as for API tokens): a copy of the database signs nobody in.
Times are naive UTC from the server clock, like every other table.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.db.extensions import db
from webapp.db.models import User, utcnow

AUTH_PUBLIC = "none"
AUTH_CONFIDENTIAL = ("client_secret_basic", "client_secret_post")


class OidcClient(db.Model):  # type: ignore[name-defined,misc]
    """A relying party: an application that signs its users in with LiveGate."""

    __tablename__ = "oidc_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(sa.String(128))
    # None for a public client (a browser or mobile app that cannot keep a secret: PKCE only).
    secret_hash: Mapped[str | None] = mapped_column(sa.String(64))
    # Matched exactly, character for character (no prefix, no wildcard).
    redirect_uris: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # The scopes this client may ask for (a subset of openid, profile, email).
    scopes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # First-party applications the admin trusts: no consent screen.
    skip_consent: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    secret_rotated_at: Mapped[datetime | None]

    @property
    def is_public(self) -> bool:
        return self.secret_hash is None


class OidcCode(db.Model):  # type: ignore[name-defined,misc]
    """An authorization code: single-use, short-lived, bound to its client, redirect URI and
    PKCE challenge, and carrying what the face login proved (auth_time, acr, amr)."""

    __tablename__ = "oidc_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True, index=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("oidc_clients.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(sa.Text)
    scope: Mapped[str] = mapped_column(sa.String(256))
    nonce: Mapped[str | None] = mapped_column(sa.String(256))
    code_challenge: Mapped[str | None] = mapped_column(sa.String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(sa.String(16))
    auth_time: Mapped[datetime]
    acr: Mapped[str] = mapped_column(sa.String(64))
    amr: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    # Set by the first exchange; any later one is a replay (its tokens are revoked).
    used_at: Mapped[datetime | None]

    client: Mapped[OidcClient] = relationship()
    user: Mapped[User] = relationship()


class OidcToken(db.Model):  # type: ignore[name-defined,misc]
    """An access token (bearer, opaque) for the userinfo endpoint, with the refresh token
    issued beside it. One row per issuance; all rows from one code are a family (code_id):
    a refresh rotates (this row revoked, a new one issued), a reused refresh token revokes
    the whole family."""

    __tablename__ = "oidc_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True, index=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("oidc_clients.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_id: Mapped[int | None] = mapped_column(sa.ForeignKey("oidc_codes.id", ondelete="SET NULL"), index=True)
    scope: Mapped[str] = mapped_column(sa.String(256))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    refresh_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True, index=True)
    # Fixed at the face login's first code exchange: rotation never extends it.
    refresh_expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    client: Mapped[OidcClient] = relationship()
    user: Mapped[User] = relationship()


class OidcSubject(db.Model):  # type: ignore[name-defined,misc]
    """The ``sub`` claim of a user: random, never reused. Not the username or the row id:
    a user deleted and re-created under the same name (or a reused SQLite rowid) must not
    inherit the old account at every relying party."""

    __tablename__ = "oidc_subjects"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    subject: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
