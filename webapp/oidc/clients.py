"""Registering relying parties, for the CLI and the admin pages.

Nothing here commits: each caller writes its audit event and commits once, as for accounts.
A client secret is shown once, when it is created or rotated; only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa

from webapp.db.extensions import db
from webapp.db.models import utcnow
from webapp.errors import ApiError, InvalidRequest
from webapp.oidc.models import OidcClient

SCOPES = ("openid", "profile", "email")
CLIENT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


class ClientExists(ApiError):
    code, error, description = 409, "client_exists", "A client with this id already exists."


class UnknownClient(ApiError):
    code, error, description = 404, "unknown_client", "There is no such client."


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_secret(client: OidcClient, secret: str) -> bool:
    if client.secret_hash is None:
        return False
    return hmac.compare_digest(client.secret_hash, secret_hash(secret))


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def normalise_client_id(raw: str) -> str:
    name = (raw or "").strip().lower()
    if not CLIENT_ID_RE.match(name):
        raise InvalidRequest("The client id must be 1-64 characters: lower-case letters, digits, . _ - (e.g. 'grafana').")
    return name


def check_redirect_uri(uri: str) -> str:
    """An absolute https URL (http only on the loopback host, for development), no fragment.
    Relying parties are matched on exactly this string later, never on a prefix."""
    uri = uri.strip()
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise InvalidRequest(f"Not a URL: {uri!r}.")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidRequest(f"A redirect URI must be an absolute http(s) URL: {uri!r}.")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise InvalidRequest(f"Plain http is allowed only on localhost/127.0.0.1: {uri!r}.")
    if parts.fragment or "#" in uri:
        raise InvalidRequest(f"A redirect URI may not have a fragment: {uri!r}.")
    if parts.username or parts.password:
        raise InvalidRequest(f"A redirect URI may not carry credentials: {uri!r}.")
    return uri


def check_scopes(scopes: Iterable[str]) -> list[str]:
    wanted = [s for raw in scopes for s in raw.replace(",", " ").split()]
    unknown = sorted(set(wanted) - set(SCOPES))
    if unknown:
        raise InvalidRequest(f"Unknown scopes {unknown}; this provider offers {list(SCOPES)}.")
    if "openid" not in wanted:
        wanted.insert(0, "openid")
    return [s for s in SCOPES if s in wanted]


@dataclass(frozen=True)
class Registered:
    client: OidcClient
    secret: str | None  # shown once; None for a public client


def add_client(
    client_id: str,
    *,
    name: str | None = None,
    redirect_uris: Iterable[str],
    post_logout_redirect_uris: Iterable[str] = (),
    scopes: Iterable[str] = SCOPES,
    public: bool = False,
    skip_consent: bool = False,
) -> Registered:
    cid = normalise_client_id(client_id)
    uris = list(dict.fromkeys(check_redirect_uri(u) for u in redirect_uris if u.strip()))
    if not uris:
        raise InvalidRequest("A client needs at least one redirect URI.")
    logout_uris = list(dict.fromkeys(check_redirect_uri(u) for u in post_logout_redirect_uris if u.strip()))
    display = (name or cid).strip()
    if not display or len(display) > 128:
        raise InvalidRequest("The client name must be 1-128 characters.")
    if db.session.scalar(sa.select(OidcClient.id).where(OidcClient.client_id == cid)) is not None:
        raise ClientExists()
    secret = None if public else new_secret()
    client = OidcClient(
        client_id=cid,
        name=display,
        secret_hash=secret_hash(secret) if secret else None,
        redirect_uris=uris,
        post_logout_redirect_uris=logout_uris,
        scopes=check_scopes(scopes),
        skip_consent=skip_consent,
    )
    db.session.add(client)
    db.session.flush()
    return Registered(client, secret)


def find_client(client_id: str) -> OidcClient:
    client = db.session.scalar(sa.select(OidcClient).where(OidcClient.client_id == (client_id or "").strip().lower()))
    if client is None:
        raise UnknownClient()
    return client


def list_clients() -> list[OidcClient]:
    return list(db.session.scalars(sa.select(OidcClient).order_by(OidcClient.client_id)))


def rotate_secret(client: OidcClient) -> str:
    """A new secret for a confidential client; the old one stops working at once."""
    if client.is_public:
        raise InvalidRequest("A public client has no secret to rotate.")
    secret = new_secret()
    client.secret_hash = secret_hash(secret)
    client.secret_rotated_at = utcnow()
    return secret


def delete_client(client: OidcClient) -> None:
    """Delete the client with its codes and tokens (cascade): its users are signed out of it."""
    db.session.delete(client)
    db.session.flush()
