"""What Authlib leaves to the application: its model interfaces over our tables, and the
grant, PKCE, token-validator and endpoint subclasses with our rules.

Rules enforced here (on top of Authlib's own checks):
- authorization codes are stored as hashes, live ``OIDC_CODE_SECONDS``, and are claimed by one
  atomic UPDATE on first exchange: a second exchange of the same code fails and revokes the
  access tokens the first one obtained (RFC 6749 section 4.1.2);
- a code is bound to its client (the claim is filtered by it), its redirect URI (Authlib
  compares it) and its PKCE challenge (only S256; required for public clients);
- a nonce may be used once per client; the ID token carries it back;
- refresh tokens are single-use and rotate, bound to their client, limited to
  ``OIDC_REFRESH_TOKEN_SECONDS`` after the login's code exchange; a reused one revokes every
  token of that login;
- every code and token issued, and every replay, writes an audit event.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    InvalidRequestError,
    OAuth2Request,
    TokenMixin,
)
from authlib.oauth2.rfc6749 import grants as oauth2_grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest
from joserfc.jwk import KeySet

from webapp.db.audit import audit
from webapp.db.extensions import db
from webapp.db.models import User, utcnow
from webapp.oidc import claims
from webapp.oidc.clients import check_secret
from webapp.oidc.models import AUTH_CONFIDENTIAL, AUTH_PUBLIC, OidcClient, OidcCode, OidcToken
from webapp.oidc.settings import OidcSettings
from webapp.settings import settings


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def cfg() -> OidcSettings:
    return settings().oidc


# --- Authlib's model interfaces over our rows ----------------------------------------------


class RelyingParty(ClientMixin):
    """An :class:`OidcClient` row as Authlib sees a client."""

    def __init__(self, row: OidcClient) -> None:
        self.row = row
        self.client_id = row.client_id

    @property
    def client_metadata(self) -> dict[str, Any]:
        return {"post_logout_redirect_uris": list(self.row.post_logout_redirect_uris)}

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # OpenID Connect requires redirect_uri in every authorization request

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The requested scope when this client may have all of it, else None (invalid_scope):
        a request for more than the admin allowed is refused, not silently narrowed."""
        wanted = (scope or "").split()
        if "openid" not in wanted or not set(wanted) <= set(self.row.scopes):
            return None
        return " ".join(dict.fromkeys(wanted))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.row.redirect_uris  # exact string match, nothing else

    def check_client_secret(self, client_secret: str) -> bool:
        return check_secret(self.row, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint != "token":
            return True
        return method == AUTH_PUBLIC if self.row.is_public else method in AUTH_CONFIDENTIAL

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "refresh_token":
            return cfg().refresh_token_seconds > 0
        return grant_type == "authorization_code"


@dataclass
class EndUser:
    """The person an authorization is for, with what their face login proved."""

    user: User
    proof: claims.FaceProof

    @property
    def id(self) -> int:
        return self.user.id


class CodeRecord(AuthorizationCodeMixin):
    def __init__(self, row: OidcCode) -> None:
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return claims.epoch(self.row.auth_time)

    def get_acr(self) -> str:
        return self.row.acr

    def get_amr(self) -> list[str]:
        return list(self.row.amr)


class TokenRecord(TokenMixin):
    def __init__(self, row: OidcToken) -> None:
        self.row = row
        self.scope = row.scope

    def check_client(self, client: RelyingParty) -> bool:
        return self.row.client_id == client.row.id

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return int((self.row.expires_at - self.row.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return utcnow() >= self.row.expires_at

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None

    def get_user(self) -> User:
        return self.row.user

    def get_client(self) -> RelyingParty:
        return RelyingParty(self.row.client)


def query_client(client_id: str | None) -> RelyingParty | None:
    if not client_id or not isinstance(client_id, str):
        return None
    row = db.session.scalar(sa.select(OidcClient).where(OidcClient.client_id == client_id))
    return RelyingParty(row) if row else None


def save_token(token: dict[str, Any], request: OAuth2Request) -> None:
    """Store the access (and refresh) token, hashes only; audit the issuance; commit.

    A first issuance (code exchange) starts a family whose refresh limit is fixed from now;
    a refresh continues the family of the token it rotates, with the same limit."""
    client: RelyingParty = request.client
    user: User = request.user
    now = utcnow()
    if request.authorization_code is not None:
        code_id: int | None = request.authorization_code.row.id
        refresh_until: datetime | None = now + timedelta(seconds=cfg().refresh_token_seconds)
    else:
        previous: TokenRecord = request.refresh_token
        code_id, refresh_until = previous.row.code_id, previous.row.refresh_expires_at
    refresh = token.get("refresh_token")
    db.session.add(
        OidcToken(
            token_hash=digest(token["access_token"]),
            client_id=client.row.id,
            user_id=user.id,
            code_id=code_id,
            scope=token["scope"],
            issued_at=now,
            expires_at=now + timedelta(seconds=int(token["expires_in"])),
            refresh_token_hash=digest(refresh) if refresh else None,
            refresh_expires_at=refresh_until if refresh else None,
        )
    )
    audit(
        "oidc_token_issued",
        subject=user.username,
        client_addr=_addr(),
        client_id=client.row.client_id,
        grant_type=request.payload.grant_type,
        scope=token["scope"],
        id_token="openid" in token["scope"].split() and request.authorization_code is not None,
        refresh_token=bool(refresh),
        code=code_id,
    )
    db.session.commit()


def _addr() -> str:
    from webapp.accounts.security import client_address

    return client_address()


# --- grants ----------------------------------------------------------------------------------


class AuthorizationCodeGrant(oauth2_grants.AuthorizationCodeGrant):
    # "none" is for public clients; RelyingParty.check_endpoint_auth_method keeps each client
    # to its own kind (a confidential client cannot skip its secret).
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        end_user: EndUser = request.user
        client: RelyingParty = request.client
        now = utcnow()
        data = request.payload.data
        claims.subject_of(end_user.user)  # created now, so the token exchange only reads it
        db.session.add(
            OidcCode(
                code_hash=digest(code),
                client_id=client.row.id,
                user_id=end_user.user.id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                auth_time=end_user.proof.auth_time,
                acr=end_user.proof.acr,
                amr=end_user.proof.amr,
                created_at=now,
                expires_at=now + timedelta(seconds=cfg().code_seconds),
            )
        )
        audit("oidc_code_issued", subject=end_user.user.username, client_addr=_addr(), client_id=client.row.client_id, scope=request.scope)
        db.session.commit()

    def query_authorization_code(self, code: str, client: RelyingParty) -> CodeRecord | None:
        """Claim the code (one atomic UPDATE: of two concurrent exchanges only one wins), or
        treat a second use as a replay and revoke what the first use obtained."""
        now = utcnow()
        h = digest(code)
        claimed = db.session.execute(
            sa.update(OidcCode)
            .where(OidcCode.code_hash == h, OidcCode.client_id == client.row.id, OidcCode.used_at.is_(None), OidcCode.expires_at > now)
            .values(used_at=now)
        )
        db.session.commit()  # burnt now, whatever the rest of the exchange says
        row = db.session.scalar(sa.select(OidcCode).where(OidcCode.code_hash == h, OidcCode.client_id == client.row.id))
        if claimed.rowcount == 1 and row is not None:  # type: ignore[attr-defined]
            return CodeRecord(row)
        if row is not None and row.used_at is not None:
            revoked = db.session.execute(
                sa.update(OidcToken).where(OidcToken.code_id == row.id, OidcToken.revoked_at.is_(None)).values(revoked_at=now)
            )
            audit(
                "oidc_code_replayed",
                subject=row.user.username,
                client_addr=_addr(),
                client_id=client.row.client_id,
                tokens_revoked=revoked.rowcount,  # type: ignore[attr-defined]
            )
            db.session.commit()
        elif row is not None:
            audit("oidc_code_expired", subject=row.user.username, client_addr=_addr(), client_id=client.row.client_id)
            db.session.commit()
        return None

    def delete_authorization_code(self, authorization_code: CodeRecord) -> None:
        """Nothing left to do: the code was claimed (used_at) when it was looked up."""

    def authenticate_user(self, authorization_code: CodeRecord) -> User:
        return authorization_code.row.user


class RefreshTokenGrant(oauth2_grants.RefreshTokenGrant):
    """Refresh tokens rotate: each is good for one use (claimed by one atomic UPDATE, which
    also retires the access token issued with it) and is answered with a new pair. Presenting
    a used one again means it leaked: every live token of that login is revoked."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> TokenRecord | None:
        now = utcnow()
        h = digest(refresh_token)
        client: RelyingParty = self.request.client  # authenticated before this is called
        mine = sa.and_(OidcToken.refresh_token_hash == h, OidcToken.client_id == client.row.id)
        claimed = db.session.execute(
            sa.update(OidcToken).where(mine, OidcToken.revoked_at.is_(None), OidcToken.refresh_expires_at > now).values(revoked_at=now)
        )
        db.session.commit()
        row = db.session.scalar(sa.select(OidcToken).where(mine))
        if row is None:
            return None
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            return TokenRecord(row)
        if row.revoked_at is not None and (row.refresh_expires_at is None or row.refresh_expires_at > now):
            family = sa.and_(OidcToken.code_id == row.code_id, OidcToken.code_id.is_not(None))
            revoked = db.session.execute(sa.update(OidcToken).where(family, OidcToken.revoked_at.is_(None)).values(revoked_at=now))
            audit(
                "oidc_refresh_replayed",
                subject=row.user.username,
                client_addr=_addr(),
                client_id=row.client.client_id,
                tokens_revoked=revoked.rowcount,  # type: ignore[attr-defined]
            )
            db.session.commit()
        return None

    def authenticate_user(self, refresh_token: TokenRecord) -> User:
        return refresh_token.row.user

    def revoke_old_credential(self, refresh_token: TokenRecord) -> None:
        """Nothing left to do: the old pair was revoked when its refresh token was claimed."""


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only ("plain" protects nothing the redirect does not already show), and
    required for public clients, which have no secret to bind the code to them otherwise."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        if grant.request.client.row.is_public and not data.get("code_challenge"):
            raise InvalidRequestError("A public client must send a PKCE 'code_challenge' (S256).")


class LiveGateOpenIDCode(OpenIDCode):
    """ID tokens: signed with the current key of the instance's key ring, our issuer, the
    client as audience, lifetimes on the server clock, and the user claims for the scope."""

    def __init__(self) -> None:
        super().__init__(require_nonce=False)

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        client = query_client(request.payload.client_id)
        if client is None:
            return False
        found = db.session.scalar(sa.select(OidcCode.id).where(OidcCode.client_id == client.row.id, OidcCode.nonce == nonce))
        return found is not None

    def resolve_client_private_key(self, client: RelyingParty) -> Any:
        from webapp.oidc.server import signing_key

        return signing_key().key

    def get_client_algorithm(self, client: RelyingParty) -> str:
        from webapp.oidc.server import signing_key

        return signing_key().alg

    def get_encode_header(self, client: RelyingParty) -> dict[str, str]:
        from webapp.oidc.server import signing_key

        key = signing_key()
        return {"alg": key.alg, "kid": key.kid, "typ": "JWT"}

    def get_client_claims(self, client: RelyingParty) -> dict[str, Any]:
        from webapp.oidc.server import issuer

        now = claims.epoch(utcnow())
        return {"iss": issuer(), "aud": client.row.client_id, "iat": now, "exp": now + cfg().id_token_seconds}

    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        return claims.user_info(user, scope)


# --- endpoints -------------------------------------------------------------------------------


class AccessTokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> TokenRecord | None:
        row = db.session.scalar(sa.select(OidcToken).where(OidcToken.token_hash == digest(token_string)))
        return TokenRecord(row) if row else None


class LiveGateUserInfo(UserInfoEndpoint):
    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        return claims.user_info(user, scope)

    def get_issuer(self) -> str:
        from webapp.oidc.server import issuer

        return issuer()


class LiveGateEndSession(EndSessionEndpoint):
    """RP-initiated logout: ends the LiveGate session; redirects back only to a registered
    post-logout URI, and only with a valid ``id_token_hint`` (never an open redirect)."""

    def get_server_jwks(self) -> KeySet:
        from webapp.oidc.server import published_jwks

        return KeySet.import_key_set(published_jwks())  # type: ignore[arg-type]

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        from flask_login import current_user

        from webapp.accounts.security import end_session

        username = current_user.user.username if getattr(current_user, "is_authenticated", False) else None
        client = end_session_request.client
        audit("oidc_logout", subject=username, client_addr=_addr(), client_id=client.get_client_id() if client else None)
        db.session.commit()
        end_session()
