"""The OpenID Connect provider through the HTTP API: the authorization-code flow and each
of its rules. ID tokens are checked with PyJWT (an independent JOSE implementation), never
with Authlib or LiveGate's own code."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.support.oidc import (
    RP_LOGOUT,
    RP_REDIRECT,
    Registered,
    add_client,
    authorize,
    authorize_params,
    exchange,
    face_session,
    get_code,
    pkce,
    redirect_params,
)

ISSUER = "http://localhost"


def jwks_keys(client: FlaskClient) -> dict[str, Any]:
    resp = client.get("/oidc/jwks")
    assert resp.status_code == 200
    return {k["kid"]: k for k in resp.get_json()["keys"]}


def verify_id_token(client: FlaskClient, id_token: str, audience: str) -> dict[str, Any]:
    """Verify the signature against the published JWKS and the standard claims, with PyJWT."""
    header = jwt.get_unverified_header(id_token)
    keys = jwks_keys(client)
    assert header["kid"] in keys, (header, list(keys))
    key = jwt.PyJWK(keys[header["kid"]])
    return jwt.decode(
        id_token,
        key.key,
        algorithms=[header["alg"]],
        audience=audience,
        issuer=ISSUER,
        options={"require": ["iss", "sub", "aud", "exp", "iat", "auth_time"]},
        leeway=5,
    )


def audit_kinds(app: Flask) -> list[str]:
    from webapp.db.extensions import db
    from webapp.db.models import AuditEvent

    with app.app_context():
        return [e.kind for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))]


@pytest.fixture
def confidential(app: Flask) -> Registered:
    return add_client(app, "demo")


def full_flow(app: Flask, client: FlaskClient, reg: Registered) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    verifier, challenge = pkce()
    code, params = get_code(client, reg, challenge)
    resp = exchange(client, reg, code, verifier)
    assert resp.status_code == 200, resp.get_json()
    tokens = resp.get_json()
    return tokens, verify_id_token(client, tokens["id_token"], reg.client_id), params


# --- the happy path --------------------------------------------------------------------------


def test_code_flow_with_pkce_issues_a_verifiable_id_token(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    session_info = face_session(app, client)
    tokens, claims, params = full_flow(app, client, confidential)
    assert tokens["token_type"].lower() == "bearer"
    assert 0 < tokens["expires_in"] <= 300
    assert tokens["refresh_token"]
    assert claims["nonce"] == params["nonce"]
    assert claims["aud"] == "demo"
    from webapp.oidc.claims import ACR_ACTIVE, epoch

    assert claims["auth_time"] == epoch(session_info["granted_at"])  # the grant time, not the code's
    assert claims["acr"] == ACR_ACTIVE
    assert claims["amr"] == ["face", "passive_liveness", "blink", "turn_left", "planar_motion", "continuity"]
    assert claims["name"] == "Alice" and claims["preferred_username"] == "alice" and claims["email"] == "alice@example.org"
    assert claims["sub"] not in ("alice", str(session_info["user_id"]))
    # at_hash (OIDC Core 3.1.3.6): the left half of SHA-256 of the access token, computed here.
    digest = hashlib.sha256(tokens["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()

    info = client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200
    assert info.get_json() == {
        "sub": claims["sub"],
        "name": "Alice",
        "preferred_username": "alice",
        "email": "alice@example.org",
        "email_verified": False,
    }
    kinds = audit_kinds(app)
    assert "oidc_code_issued" in kinds and "oidc_token_issued" in kinds


def test_scope_openid_only_gives_no_profile_claims(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    face_session(app, client)
    verifier, challenge = pkce()
    code, _ = get_code(client, confidential, challenge, scope="openid")
    tokens = exchange(client, confidential, code, verifier).get_json()
    claims = verify_id_token(client, tokens["id_token"], "demo")
    assert "name" not in claims and "email" not in claims
    info = client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).get_json()
    assert set(info) == {"sub"}


def test_public_client_uses_pkce_and_no_secret(app: Flask, client: FlaskClient) -> None:
    reg = add_client(app, "spa", public=True)
    assert reg.secret is None
    face_session(app, client)
    # without a PKCE challenge the request goes back to the client as an error
    back = redirect_params(authorize(client, authorize_params(reg, None)))
    assert back["error"] == "invalid_request"
    verifier, challenge = pkce()
    code, _ = get_code(client, reg, challenge)
    resp = exchange(client, reg, code, verifier)
    assert resp.status_code == 200, resp.get_json()
    verify_id_token(client, resp.get_json()["id_token"], "spa")


def test_plain_pkce_is_refused(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    face_session(app, client)
    verifier, _ = pkce()
    back = redirect_params(authorize(client, authorize_params(confidential, None, code_challenge=verifier, code_challenge_method="plain")))
    assert back["error"] == "invalid_request"


# --- the rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:5001/callback/",
        "http://127.0.0.1:5001/callback?x=1",
        "http://evil.example/callback",
        "http://127.0.0.1:5001/callbackx",
    ],
)
def test_wrong_redirect_uri_is_refused_without_a_redirect(
    app: Flask, client: FlaskClient, confidential: Registered, redirect_uri: str
) -> None:
    face_session(app, client)
    params = authorize_params(confidential, pkce()[1], redirect_uri=redirect_uri)
    resp = authorize(client, params)
    assert resp.status_code == 400
    assert "Location" not in resp.headers
    assert "oidc_code_issued" not in audit_kinds(app)


def test_unknown_client_is_refused_without_a_redirect(app: Flask, client: FlaskClient) -> None:
    resp = authorize(client, authorize_params(Registered("nobody", None), pkce()[1]))
    assert resp.status_code == 400 and "Location" not in resp.headers


def test_redirect_uri_must_match_at_the_token_endpoint(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    add_client(app, "other")
    face_session(app, client)
    verifier, challenge = pkce()
    code, _ = get_code(client, confidential, challenge)
    resp = exchange(client, confidential, code, verifier, redirect_uri="http://127.0.0.1:5001/elsewhere")
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_grant"


def test_replayed_code_is_refused_and_revokes_the_first_tokens(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    face_session(app, client)
    verifier, challenge = pkce()
    code, _ = get_code(client, confidential, challenge)
    first = exchange(client, confidential, code, verifier)
    assert first.status_code == 200
    access = first.get_json()["access_token"]
    assert client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {access}"}).status_code == 200
    again = exchange(client, confidential, code, verifier)
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"
    assert "id_token" not in again.get_json()
    after = client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert after.status_code == 401 and "invalid_token" in after.headers.get("WWW-Authenticate", "")
    assert "oidc_code_replayed" in audit_kinds(app)


def test_bad_pkce_verifier_is_refused(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    face_session(app, client)
    _, challenge = pkce()
    code, _ = get_code(client, confidential, challenge)
    other_verifier, _ = pkce()
    resp = exchange(client, confidential, code, other_verifier)
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_grant"
    missing = exchange(client, confidential, code, None)
    assert missing.status_code == 400


def test_code_of_another_client_is_refused(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    other = add_client(app, "other")
    face_session(app, client)
    verifier, challenge = pkce()
    code, _ = get_code(client, confidential, challenge)
    resp = exchange(client, other, code, verifier)
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_grant"


def test_expired_code_is_refused(app: Flask, client: FlaskClient, confidential: Registered, monkeypatch: pytest.MonkeyPatch) -> None:
    from webapp.db import clock

    face_session(app, client)
    verifier, challenge = pkce()
    code, _ = get_code(client, confidential, challenge)
    real = clock.utcnow
    monkeypatch.setattr(clock, "utcnow", lambda: real() + timedelta(seconds=61))  # OIDC_CODE_SECONDS is 60
    resp = exchange(client, confidential, code, verifier)
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_grant"
    assert "oidc_code_expired" in audit_kinds(app)


def test_wrong_client_secret_is_refused(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    face_session(app, client)
    verifier, challenge = pkce()
    code, _ = get_code(client, confidential, challenge)
    resp = exchange(client, Registered("demo", "not-the-secret"), code, verifier)
    assert resp.status_code == 401 and resp.get_json()["error"] == "invalid_client"
    # a confidential client cannot pretend to be public and skip its secret
    resp = exchange(client, Registered("demo", None), code, verifier)
    assert resp.status_code in (400, 401) and resp.get_json()["error"] == "invalid_client"


def test_scope_beyond_the_clients_allowed_scopes_is_refused(app: Flask, client: FlaskClient) -> None:
    reg = add_client(app, "narrow", "--scope", "openid")
    face_session(app, client)
    back = redirect_params(authorize(client, authorize_params(reg, pkce()[1], scope="openid email")))
    assert back["error"] == "invalid_scope"


def test_reused_nonce_is_refused(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    face_session(app, client)
    _, challenge = pkce()
    get_code(client, confidential, challenge, nonce="n-123")
    back = redirect_params(authorize(client, authorize_params(confidential, challenge, nonce="n-123")))
    assert back["error"] == "invalid_request"


def test_userinfo_needs_a_valid_token(app: Flask, client: FlaskClient, confidential: Registered, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.get("/oidc/userinfo").status_code == 401
    assert client.get("/oidc/userinfo", headers={"Authorization": "Bearer nope"}).status_code == 401
    face_session(app, client)
    tokens, _, _ = full_flow(app, client, confidential)
    from webapp.db import clock

    real = clock.utcnow
    monkeypatch.setattr(clock, "utcnow", lambda: real() + timedelta(seconds=301))  # access tokens live 300 s
    assert client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401


# --- refresh tokens ---------------------------------------------------------------------------


def refresh(client: FlaskClient, reg: Registered, refresh_token: str) -> Any:
    basic = base64.b64encode(f"{reg.client_id}:{reg.secret}".encode()).decode()
    return client.post(
        "/oidc/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}, headers={"Authorization": f"Basic {basic}"}
    )


def bearer(client: FlaskClient, access_token: str) -> int:
    return client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {access_token}"}).status_code


def test_refresh_tokens_rotate_and_a_reused_one_revokes_the_family(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    face_session(app, client)
    first, _, _ = full_flow(app, client, confidential)
    second = refresh(client, confidential, first["refresh_token"])
    assert second.status_code == 200, second.get_json()
    second_tokens = second.get_json()
    assert second_tokens["refresh_token"] != first["refresh_token"] and "id_token" not in second_tokens
    assert bearer(client, second_tokens["access_token"]) == 200
    assert bearer(client, first["access_token"]) == 401  # the rotated pair is retired
    # the old refresh token again: refused, and everything of this login is revoked
    replay = refresh(client, confidential, first["refresh_token"])
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    assert bearer(client, second_tokens["access_token"]) == 401
    assert refresh(client, confidential, second_tokens["refresh_token"]).status_code == 400
    assert "oidc_refresh_replayed" in audit_kinds(app)


def test_refresh_is_bound_to_its_client_and_to_the_login_time(
    app: Flask, client: FlaskClient, confidential: Registered, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = add_client(app, "other")
    face_session(app, client)
    tokens, _, _ = full_flow(app, client, confidential)
    assert refresh(client, other, tokens["refresh_token"]).status_code == 400
    # the refresh limit runs from the code exchange and rotation does not extend it
    from webapp.db import clock

    real = clock.utcnow
    monkeypatch.setattr(clock, "utcnow", lambda: real() + timedelta(hours=7))
    later = refresh(client, confidential, tokens["refresh_token"])
    # the first refresh attempt above was by the wrong client: it was refused before any claim
    assert later.status_code == 200, later.get_json()
    monkeypatch.setattr(clock, "utcnow", lambda: real() + timedelta(hours=8, seconds=1))
    assert refresh(client, confidential, later.get_json()["refresh_token"]).status_code == 400


@pytest.mark.parametrize("app_config", [{"OIDC_REFRESH_TOKEN_SECONDS": 0}])
def test_refresh_tokens_can_be_switched_off(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    face_session(app, client)
    tokens, _, _ = full_flow(app, client, confidential)
    assert "refresh_token" not in tokens
    assert "refresh_token" not in client.get("/.well-known/openid-configuration").get_json()["grant_types_supported"]


# --- the face login as the authentication step -----------------------------------------------


def test_without_a_face_session_the_request_waits_for_the_login_page(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    verifier, challenge = pkce()
    params = authorize_params(confidential, challenge)
    resp = authorize(client, params)
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"  # fixed, nothing from the request
    page = client.get("/login").get_data(as_text=True)
    assert 'id="oidc-continue"' in page and "demo" in page
    face_session(app, client, ago_seconds=0)  # the login happens (keeps the pending request)
    resumed = client.get("/oidc/resume")
    assert resumed.status_code == 302 and resumed.headers["Location"].startswith("/oidc/authorize?")
    back = redirect_params(client.get(resumed.headers["Location"]))
    assert back["state"] == params["state"]
    assert exchange(client, confidential, back["code"], verifier).status_code == 200
    assert client.get("/oidc/resume").status_code == 400  # nothing pending any more


def test_the_login_api_continues_to_the_resume_route_after_a_grant(
    app: Flask, client: FlaskClient, confidential: Registered, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The login page follows the grant's `redirect`: with a request pending it is the fixed
    resume route, and the pending request survives the session rotation of the grant."""
    import cv2
    import numpy as np

    from webapp.db.extensions import db
    from webapp.db.models import STATE_GRANTED, LoginAttempt, User, utcnow
    from webapp.login import policy as pol
    from webapp.login import service

    authorize(client, authorize_params(confidential, pkce()[1]))
    with app.app_context():
        user = User(username="bob", display_name="Bob")
        db.session.add(user)
        now = utcnow()
        attempt = LoginAttempt(
            public_id="attempt-bob", username="bob", client_addr="127.0.0.1", challenge=[], state="collecting",
            created_at=now, expires_at=now + timedelta(seconds=60), progress={}, scores={},
        )  # fmt: skip
        db.session.add(attempt)
        db.session.commit()
        user_id, attempt_pk = user.id, attempt.id

    def granted(attempt: LoginAttempt, *args: Any, **kwargs: Any) -> service.FrameOutcome:
        row = db.session.get(LoginAttempt, attempt_pk)
        assert row is not None
        row.state, row.finished_at, row.user_id = STATE_GRANTED, utcnow(), user_id
        db.session.commit()
        return service.FrameOutcome(row, pol.Verdict(STATE_GRANTED), "Welcome.", 1.0, None, db.session.get(User, user_id))

    monkeypatch.setattr(service, "submit_frame", granted)
    _ok, jpeg = cv2.imencode(".jpg", np.full((120, 160, 3), 128, np.uint8))
    import io

    resp = client.post("/api/v1/login/attempt-bob/frames", data={"frame": (io.BytesIO(jpeg.tobytes()), "f.jpg", "image/jpeg")})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["redirect"] == "/oidc/resume"
    resumed = client.get("/oidc/resume")
    assert resumed.status_code == 302
    back = redirect_params(client.get(resumed.headers["Location"]))
    assert "code" in back


def test_without_a_pending_request_the_login_api_goes_to_the_account(app: Flask, client: FlaskClient) -> None:
    from webapp.oidc import flow

    with app.test_request_context():
        assert flow.continue_after_login(flow.take_pending()) is None


def test_an_admin_password_session_is_not_a_face_login(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    from tests.support.api import ADMIN_PASSWORD, create_admin, csrf_of

    create_admin(app.test_cli_runner())
    page = client.get("/admin/login")
    client.post("/admin/login", data={"username": "root", "password": ADMIN_PASSWORD, "csrf_token": csrf_of(page.data)})
    resp = authorize(client, authorize_params(confidential, pkce()[1]))
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"


def test_prompt_login_forces_a_fresh_face_login(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    face_session(app, client, ago_seconds=30)
    params = authorize_params(confidential, pkce()[1], prompt="login")
    resp = authorize(client, params)
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    # resuming without a new login does not count: the old session is older than the request
    with client.session_transaction() as sess:
        pending = dict(sess["oidc_pending"])
    resumed = client.get("/oidc/resume")
    assert client.get(resumed.headers["Location"]).headers["Location"] == "/login"
    # a login after the request does
    with client.session_transaction() as sess:
        sess["oidc_pending"] = pending
    fresh = face_session(app, client, ago_seconds=-1)
    resumed = client.get("/oidc/resume")
    back = redirect_params(client.get(resumed.headers["Location"]))
    assert "code" in back
    verifier_free = exchange(client, confidential, back["code"], None)
    assert verifier_free.status_code == 400  # the request carried a PKCE challenge
    assert fresh["granted_at"]


def test_max_age_forces_a_fresh_face_login_when_exceeded(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    face_session(app, client, ago_seconds=120)
    challenge = pkce()[1]
    resp = authorize(client, authorize_params(confidential, challenge, max_age="60"))
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    back = redirect_params(authorize(client, authorize_params(confidential, challenge, max_age="600")))
    assert "code" in back
    bad = redirect_params(authorize(client, authorize_params(confidential, challenge, max_age="soon")))
    assert bad["error"] == "invalid_request"


def test_prompt_none_without_a_session_answers_login_required(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    back = redirect_params(authorize(client, authorize_params(confidential, pkce()[1], prompt="none")))
    assert back["error"] == "login_required"


# --- consent ---------------------------------------------------------------------------------


def test_third_party_client_asks_for_consent(app: Flask, client: FlaskClient) -> None:
    from tests.support.api import csrf_of

    reg = add_client(app, "thirdparty", "--name", "Third Party", skip_consent=False)
    face_session(app, client)
    params = authorize_params(reg, pkce()[1])
    page = authorize(client, params)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Third Party" in html and 'data-scope="email"' in html
    # The decision redirects to the client: that page's forms may end there (browsers apply
    # form-action to the redirect), and only that page's.
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(params["redirect_uri"]))
    assert f"form-action 'self' {origin}" in page.headers["Content-Security-Policy"]
    assert "form-action 'self';" in client.get("/login").headers["Content-Security-Policy"] + ";"
    action = "/oidc/authorize?" + page.request.query_string.decode()
    assert client.post(action, data={"decision": "allow"}).status_code == 403  # no CSRF token
    page = authorize(client, params)
    allowed = client.post(action, data={"decision": "allow", "csrf_token": csrf_of(page.data)})
    assert "code" in redirect_params(allowed)
    # the form cannot be replayed
    assert client.post(action, data={"decision": "allow", "csrf_token": csrf_of(page.data)}).status_code == 400
    page = authorize(client, params | {"nonce": "another"})
    action = "/oidc/authorize?" + page.request.query_string.decode()
    denied = client.post(action, data={"decision": "deny", "csrf_token": csrf_of(page.data)})
    assert redirect_params(denied)["error"] == "access_denied"
    assert audit_kinds(app).count("oidc_consent") == 2


def test_prompt_none_with_consent_needed_answers_consent_required(app: Flask, client: FlaskClient) -> None:
    reg = add_client(app, "thirdparty", skip_consent=False)
    face_session(app, client)
    back = redirect_params(authorize(client, authorize_params(reg, pkce()[1], prompt="none")))
    assert back["error"] == "consent_required"


# --- keys ----------------------------------------------------------------------------------


def test_signing_key_is_generated_into_the_instance_folder_private(app: Flask, client: FlaskClient) -> None:
    assert client.get("/oidc/jwks").status_code == 200
    path = Path(app.config["OIDC_KEY_FILE"])
    assert path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    stored = json.loads(path.read_text())["keys"]
    assert "d" in stored[0]["jwk"]  # private
    published = client.get("/oidc/jwks").get_json()["keys"]
    assert all("d" not in k and "p" not in k for k in published)  # never the private parts
    assert published[0]["alg"] == "RS256" and published[0]["use"] == "sig"


def test_key_rotation_keeps_the_old_kid_published_until_its_tokens_expire(
    app: Flask, client: FlaskClient, confidential: Registered, monkeypatch: pytest.MonkeyPatch
) -> None:
    face_session(app, client)
    tokens, _, _ = full_flow(app, client, confidential)
    old_kid = jwt.get_unverified_header(tokens["id_token"])["kid"]
    result = app.test_cli_runner().invoke(args=["oidc", "rotate-key"])
    assert result.exit_code == 0, result.output
    kids = set(jwks_keys(client))
    assert old_kid in kids and len(kids) == 2
    verify_id_token(client, tokens["id_token"], "demo")  # an ID token from before still verifies
    new_tokens, _, _ = full_flow(app, client, confidential)
    new_kid = jwt.get_unverified_header(new_tokens["id_token"])["kid"]
    assert new_kid != old_kid and new_kid in kids
    from webapp.db import clock

    real = clock.utcnow
    monkeypatch.setattr(clock, "utcnow", lambda: real() + timedelta(seconds=301))  # OIDC_ID_TOKEN_SECONDS is 300
    assert set(jwks_keys(client)) == {new_kid}
    assert "oidc_key_rotated" in audit_kinds(app)


@pytest.mark.parametrize("app_config", [{"OIDC_SIGNING_ALG": "ES256"}])
def test_es256_keys(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    face_session(app, client)
    tokens, _, _ = full_flow(app, client, confidential)
    assert jwt.get_unverified_header(tokens["id_token"])["alg"] == "ES256"


# --- logout --------------------------------------------------------------------------------


def test_rp_initiated_logout_with_id_token_hint_ends_the_session_and_returns(
    app: Flask, client: FlaskClient, confidential: Registered
) -> None:
    face_session(app, client)
    tokens, _, _ = full_flow(app, client, confidential)
    resp = client.get(
        "/oidc/logout", query_string={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": RP_LOGOUT, "state": "s1"}
    )
    assert resp.status_code == 302 and resp.headers["Location"] == RP_LOGOUT + "?state=s1"
    assert client.get("/api/v1/me").status_code == 401
    assert "oidc_logout" in audit_kinds(app)


def test_logout_never_redirects_to_an_unregistered_uri(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    face_session(app, client)
    tokens, _, _ = full_flow(app, client, confidential)
    resp = client.get(
        "/oidc/logout", query_string={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "http://evil.example/"}
    )
    assert resp.status_code == 200 and "Location" not in resp.headers
    # without a hint: a confirmation page first, and no redirect even to a registered URI
    face_session(app, client)
    page = client.get("/oidc/logout", query_string={"client_id": "demo", "post_logout_redirect_uri": RP_LOGOUT})
    assert page.status_code == 200 and 'id="logout-confirm"' in page.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 200


# --- discovery -------------------------------------------------------------------------------


def test_discovery_names_our_endpoints(client: FlaskClient) -> None:
    doc = client.get("/.well-known/openid-configuration").get_json()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == f"{ISSUER}/oidc/authorize"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]


@pytest.mark.parametrize("app_config", [{"OIDC_ISSUER": "https://login.example.com/"}])
def test_configured_issuer(app: Flask, client: FlaskClient) -> None:
    doc = client.get("/.well-known/openid-configuration").get_json()
    assert doc["issuer"] == "https://login.example.com"
    assert doc["token_endpoint"] == "https://login.example.com/oidc/token"


def test_token_endpoint_accepts_cross_origin_posts(app: Flask, client: FlaskClient, confidential: Registered) -> None:
    """A browser app on another origin exchanges its code (no cookies involved)."""
    face_session(app, client)
    verifier, challenge = pkce()
    code, _ = get_code(client, confidential, challenge)
    import base64 as b64

    basic = b64.b64encode(f"demo:{confidential.secret}".encode()).decode()
    resp = client.post(
        "/oidc/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": RP_REDIRECT, "code_verifier": verifier},
        headers={"Origin": "https://app.example", "Authorization": f"Basic {basic}"},
    )
    assert resp.status_code == 200 and resp.headers["Access-Control-Allow-Origin"] == "*"
