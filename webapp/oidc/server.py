"""The app's one Authlib ``AuthorizationServer`` and ``ResourceProtector``, and its keys.

Each app gets its own server (``app.extensions``), so apps built side by side (tests, the
CLI) never share grants or keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from flask import Flask, current_app, request

from webapp.db.models import utcnow
from webapp.oidc.clients import SCOPES
from webapp.oidc.grants import (
    AccessTokenValidator,
    AuthorizationCodeGrant,
    LiveGateEndSession,
    LiveGateOpenIDCode,
    LiveGateUserInfo,
    RefreshTokenGrant,
    S256CodeChallenge,
    query_client,
    save_token,
)
from webapp.oidc.keys import KEY_FILE, KeyCache, StoredKey
from webapp.settings import EXTENSION_KEY as SETTINGS_KEY
from webapp.settings import settings

SERVER_KEY = "livegate.oidc.server"
KEYS_KEY = "livegate.oidc.keys"


def key_path(app: Flask) -> Path:
    return settings().oidc.key_file or Path(app.instance_path) / KEY_FILE


def init_server(app: Flask) -> None:
    server = AuthorizationServer(query_client=query_client, save_token=save_token)
    server.init_app(app)

    def expires_in(client: Any, grant_type: str) -> int:
        return settings().oidc.access_token_seconds

    def access_token(*args: Any, **kwargs: Any) -> str:
        return str(generate_token(42))

    def refresh_token(*args: Any, **kwargs: Any) -> str:
        return str(generate_token(48))

    oidc_cfg = app.extensions[SETTINGS_KEY].oidc  # no app context yet: settings() would need one
    refresh = refresh_token if oidc_cfg.refresh_token_seconds > 0 else None
    server.register_token_generator("default", BearerTokenGenerator(access_token, refresh, expires_in))
    server.scopes_supported = list(SCOPES)
    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True), LiveGateOpenIDCode()])
    server.register_grant(RefreshTokenGrant)
    protector = ResourceProtector()
    protector.register_token_validator(AccessTokenValidator())
    server.register_endpoint(LiveGateUserInfo(resource_protector=protector))
    server.register_endpoint(LiveGateEndSession)
    app.extensions[SERVER_KEY] = server
    with app.app_context():
        app.extensions[KEYS_KEY] = KeyCache(key_path(app), settings().oidc.signing_alg)


def generate_token(length: int) -> str:
    from authlib.common.security import generate_token as _generate

    return str(_generate(length))


def authorization_server() -> AuthorizationServer:
    return current_app.extensions[SERVER_KEY]  # type: ignore[no-any-return]


def key_cache() -> KeyCache:
    return current_app.extensions[KEYS_KEY]  # type: ignore[no-any-return]


def signing_key() -> StoredKey:
    return key_cache().ring(utcnow()).current


def published_jwks() -> dict[str, Any]:
    """The JWKS: the current key and those retired less than one ID-token lifetime ago."""
    return key_cache().ring(utcnow()).jwks(utcnow(), settings().oidc.id_token_seconds)


def issuer() -> str:
    """``OIDC_ISSUER``, or the URL this request came in on (ProxyFix applied)."""
    return settings().oidc.issuer or request.url_root.rstrip("/")
