"""Helpers for the OpenID Connect tests: clients, a face session without the face models,
PKCE pairs, and the authorization-code round trip through the test client."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

RP_REDIRECT = "http://127.0.0.1:5001/callback"
RP_LOGOUT = "http://127.0.0.1:5001/"


@dataclass
class Registered:
    client_id: str
    secret: str | None


def add_client(app: Flask, client_id: str = "demo", *extra: str, public: bool = False, skip_consent: bool = True) -> Registered:
    """`flask clients add` (skip-consent by default, so flows go straight to the code)."""
    args = ["clients", "add", client_id, "--redirect-uri", RP_REDIRECT, "--post-logout-redirect-uri", RP_LOGOUT, *extra]
    if public:
        args.append("--public")
    if skip_consent:
        args.append("--skip-consent")
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    fields = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    return Registered(fields["client_id"], fields.get("client_secret"))


def pkce() -> tuple[str, str]:
    """(verifier, S256 challenge), computed here with hashlib, not with the server's code."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def face_login(
    app: Flask, username: str = "alice", *, challenge: tuple[str, ...] = ("blink", "turn_left"), ago_seconds: float = 5.0
) -> tuple[str, dict[str, Any]]:
    """The rows a granted face login leaves (the attempt, and a UserSession with method
    "face" pointing at it), written as the policy and the login API would, without the face
    models. Returns (session token for Flask-Login's ``_user_id``, facts)."""
    from webapp.accounts.security import token_hash
    from webapp.db.extensions import db
    from webapp.db.models import STATE_GRANTED, LoginAttempt, User, UserSession, utcnow

    with app.app_context():
        user = db.session.query(User).filter_by(username=username).one_or_none()
        if user is None:
            user = User(username=username, display_name=username.title(), email=f"{username}@example.org")
            db.session.add(user)
            db.session.flush()
        granted = utcnow() - timedelta(seconds=ago_seconds)
        attempt = LoginAttempt(
            public_id=secrets.token_urlsafe(24),
            username=username,
            user_id=user.id,
            client_addr="127.0.0.1",
            challenge=list(challenge),
            state=STATE_GRANTED,
            created_at=granted - timedelta(seconds=4),
            expires_at=granted + timedelta(seconds=56),
            finished_at=granted,
            scores={"live_frames": 12, "steps_done": list(challenge), "motion": {"turned": 3}},
            progress={},
        )
        db.session.add(attempt)
        db.session.flush()
        token = secrets.token_urlsafe(32)
        db.session.add(
            UserSession(
                token_hash=token_hash(token),
                user_id=user.id,
                method="face",
                attempt_id=attempt.id,
                client_addr="127.0.0.1",
                created_at=granted,
                last_seen_at=granted,
                expires_at=granted + timedelta(hours=1),
            )
        )
        db.session.commit()
        return token, {"user_id": user.id, "attempt_id": attempt.id, "granted_at": granted}


def face_session(
    app: Flask,
    client: FlaskClient,
    username: str = "alice",
    *,
    challenge: tuple[str, ...] = ("blink", "turn_left"),
    ago_seconds: float = 5.0,
) -> dict[str, Any]:
    """Sign the test ``client`` in as ``username`` by a granted face login (see face_login)."""
    token, info = face_login(app, username, challenge=challenge, ago_seconds=ago_seconds)
    with client.session_transaction() as sess:
        sess["_user_id"] = token
        sess["_fresh"] = True
    return info


def session_cookie(app: Flask, data: dict[str, Any]) -> str:
    """A signed Flask session cookie value of ``app`` (for a browser other than the test client)."""
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return str(serializer.dumps(data))


def authorize_params(reg: Registered, challenge: str | None, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": reg.client_id,
        "redirect_uri": RP_REDIRECT,
        "scope": "openid profile email",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
    }
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return params


def authorize(client: FlaskClient, params: dict[str, str]) -> TestResponse:
    return client.get("/oidc/authorize?" + urlencode(params))


def redirect_params(resp: TestResponse) -> dict[str, str]:
    """The query of a redirect to the relying party (asserts it goes there)."""
    assert resp.status_code == 302, (resp.status_code, resp.get_data(as_text=True)[:300])
    location = resp.headers["Location"]
    assert location.startswith(RP_REDIRECT + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def get_code(client: FlaskClient, reg: Registered, challenge: str | None, **extra: str) -> tuple[str, dict[str, str]]:
    """Authorize (the client must already have a face session) and return (code, params sent)."""
    params = authorize_params(reg, challenge, **extra)
    back = redirect_params(authorize(client, params))
    assert back.get("state") == params["state"], back
    assert "code" in back, back
    return back["code"], params


def exchange(
    client: FlaskClient, reg: Registered, code: str, verifier: str | None, redirect_uri: str = RP_REDIRECT, **extra: str
) -> TestResponse:
    """POST /oidc/token: client_secret_basic for a confidential client, client_id for a public one."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, **extra}
    if verifier:
        form["code_verifier"] = verifier
    headers = {}
    if reg.secret:
        basic = base64.b64encode(f"{reg.client_id}:{reg.secret}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    else:
        form["client_id"] = reg.client_id
    return client.post("/oidc/token", data=form, headers=headers)


class LateApp:
    """A WSGI app set after its server has a port (the relying party's redirect URI needs
    the port, and the app needs its registered client)."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


def relying_party(livegate_url: str, rp_url: str, reg: Registered) -> Flask:
    """The sample relying party (examples/relying_party) pointed at a running LiveGate."""
    from examples.relying_party.app import create_app

    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "rp-test-secret",
            "LIVEGATE_ISSUER": livegate_url,
            "LIVEGATE_CLIENT_ID": reg.client_id,
            "LIVEGATE_CLIENT_SECRET": reg.secret,
            "SERVER_NAME": rp_url.removeprefix("http://"),
        }
    )


def rp_session(rp: Flask, cookie: str) -> dict[str, Any]:
    """The relying party's session (signed, not encrypted), read back to check its ID token."""
    serializer = rp.session_interface.get_signing_serializer(rp)  # type: ignore[attr-defined]
    return dict(serializer.loads(cookie))
