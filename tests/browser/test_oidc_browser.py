"""Signing in to another application with LiveGate, in a real browser: the sample relying
party sends Chromium to LiveGate, the face login passes on a live camera (the Kevin clip of
test_blink_browser, through the shipped models), the consent screen is accepted, and the
browser lands back at the relying party signed in; its ID token is then verified with PyJWT
against the published JWKS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import pytest
import sqlalchemy as sa

from tests.browser.conftest import LiveServer, page_status
from tests.browser.test_blink_browser import PHOTOS, kevin_camera  # noqa: F401  (the camera fixture)
from tests.conftest import AppFactory
from tests.support.oidc import LateApp, add_client, relying_party, rp_session
from webapp.config import DEFAULTS

pytestmark = [pytest.mark.browser, pytest.mark.realmodels, pytest.mark.dataset]


def test_sign_in_to_the_sample_relying_party_with_a_face_login(
    app_factory: AppFactory,
    kevin_camera: Path,  # noqa: F811
    browser_for: Any,
    artifacts: Path,
) -> None:
    app = app_factory(DEFAULTS["LIVENESS_MODEL_DIR"], CHALLENGE_STEPS=["blink"], CHALLENGE_COUNT=1)
    faces = sorted(PHOTOS.glob("*.jpg"))[:6]
    args = ["users", "add", "kevin", "--display-name", "Kevin", "--email", "kevin@example.org"]
    result = app.test_cli_runner().invoke(args=args + [a for p in faces for a in ("--face", str(p))])
    assert result.exit_code == 0, result.output

    late = LateApp()
    with LiveServer(app) as lg, LiveServer(late) as rp_server:  # type: ignore[arg-type]
        uris = ["--redirect-uri", f"{rp_server.url}/callback", "--post-logout-redirect-uri", f"{rp_server.url}/"]
        reg = add_client(app, "demo", "--name", "Demo app", *uris, skip_consent=False)
        rp = relying_party(lg.url, rp_server.url, reg)
        late.app = rp
        page = browser_for(kevin_camera).new_page()
        page.goto(f"{rp_server.url}/")
        page.click("#login")
        page.wait_for_url(f"{lg.url}/login")
        assert "Demo app" in page.inner_text("#oidc-continue")
        page.fill("#username", "kevin")
        page.click("#start")
        prompts: list[str] = []
        path = ""
        for _ in range(200):
            text, state, path = page_status(page)
            if text and (not prompts or prompts[-1] != text):
                prompts.append(text)
            if state == "denied" or path == "/oidc/authorize":
                break
            page.wait_for_timeout(200)
        page.wait_for_load_state()
        page.screenshot(path=str(artifacts / "browser-oidc-consent.png"), full_page=True)
        assert page.url.startswith(f"{lg.url}/oidc/authorize?"), (page.url, prompts)
        assert "Demo app" in page.inner_text("#consent")
        page.click("#consent-allow")
        page.wait_for_selector("#signed-in")
        page.screenshot(path=str(artifacts / "browser-oidc-signed-in.png"), full_page=True)
        assert page.url == f"{rp_server.url}/"
        assert page.inner_text('[data-claim="preferred_username"]') == "kevin"
        cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "rp_session")
        id_token = rp_session(rp, cookie)["id_token"]
        signing_key = jwt.PyJWKClient(f"{lg.url}/oidc/jwks").get_signing_key_from_jwt(id_token)
        claims = jwt.decode(id_token, signing_key.key, algorithms=["RS256"], audience="demo", issuer=lg.url)

        # RP-initiated logout ends the LiveGate session and comes back
        page.click("#logout")
        page.wait_for_url(f"{rp_server.url}/")
        assert page.query_selector("#login") is not None

        # a request naming an unregistered redirect URI stays on LiveGate's error page
        evil = "https://evil.example/callback"
        resp = page.goto(f"{lg.url}/oidc/authorize?response_type=code&client_id=demo&scope=openid&state=s&redirect_uri={evil}")
        assert resp is not None and resp.status == 400
        assert page.url.startswith(f"{lg.url}/oidc/authorize") and "not supported" in page.inner_text("main")

    from webapp.db.extensions import db
    from webapp.db.models import LoginAttempt, UserSession
    from webapp.oidc.claims import ACR_ACTIVE, epoch

    with app.app_context():
        attempt = db.session.scalar(sa.select(LoginAttempt).where(LoginAttempt.state == "granted"))
        assert attempt is not None and attempt.finished_at is not None
        assert claims["auth_time"] == epoch(attempt.finished_at)
        assert db.session.scalar(sa.select(UserSession).where(UserSession.revoked_at.is_(None), UserSession.method == "face")) is None
    assert claims["preferred_username"] == "kevin" and claims["email"] == "kevin@example.org"
    assert claims["amr"][:3] == ["face", "passive_liveness", "blink"] and claims["acr"] == ACR_ACTIVE
    assert claims["nonce"]
