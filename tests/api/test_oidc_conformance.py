"""Conformance of the provider, checked from the outside with independent code: the sample
relying party (Authlib's *client*) runs the whole round trip against a live LiveGate over
HTTP, and PyJWT's PyJWKClient fetches the published JWKS and verifies the ID token it got.
The discovery document is checked against OpenID Connect Discovery 1.0 section 3."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from flask import Flask

from tests.browser.conftest import LiveServer
from tests.support.oidc import LateApp, add_client, face_login, relying_party, rp_session, session_cookie

# OpenID Connect Discovery 1.0, section 3: REQUIRED (token_endpoint too, as we have no implicit
# flow) and the RECOMMENDED members we claim to serve.
REQUIRED = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported", "subject_types_supported",
            "id_token_signing_alg_values_supported")  # fmt: skip
RECOMMENDED = ("userinfo_endpoint", "scopes_supported", "claims_supported")


def test_discovery_document_conforms(app: Flask) -> None:
    with LiveServer(app) as lg:
        well_known = f"{lg.url}/.well-known/openid-configuration"
        resp = requests.get(well_known, timeout=10)
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
        doc = resp.json()
        for member in REQUIRED + RECOMMENDED:
            assert member in doc, member
        # 4.3: the issuer is exactly the URL the document was fetched under, without query/fragment
        assert doc["issuer"] == lg.url and well_known == doc["issuer"] + "/.well-known/openid-configuration"
        assert "openid" in doc["scopes_supported"] and "code" in doc["response_types_supported"]
        assert "RS256" in doc["id_token_signing_alg_values_supported"]  # Core 15.1: MUST support RS256
        for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint"):
            assert doc[key].startswith(lg.url + "/"), key
        jwks = requests.get(doc["jwks_uri"], timeout=10).json()
        assert jwks["keys"] and all({"kty", "kid", "use", "alg"} <= set(k) for k in jwks["keys"])
        # PyJWT reads the set as signing keys
        assert jwt.PyJWKSet.from_dict(jwks).keys


def test_sample_relying_party_round_trip_verified_independently(app: Flask) -> None:
    token, info = face_login(app, "alice")
    late = LateApp()
    with LiveServer(app) as lg, LiveServer(late) as rp_server:  # type: ignore[arg-type]
        reg = add_client(app, "demo", "--redirect-uri", f"{rp_server.url}/callback", "--post-logout-redirect-uri", f"{rp_server.url}/")
        rp = relying_party(lg.url, rp_server.url, reg)
        late.app = rp
        browser = requests.Session()
        browser.cookies.set("livegate_session", session_cookie(app, {"_user_id": token, "_fresh": True}), domain="127.0.0.1", path="/")

        to_op = browser.get(f"{rp_server.url}/login", allow_redirects=False)
        assert to_op.status_code == 302
        auth_url = to_op.headers["Location"]
        sent = {k: v[0] for k, v in parse_qs(urlsplit(auth_url).query).items()}
        assert auth_url.startswith(f"{lg.url}/oidc/authorize?")
        assert sent["code_challenge_method"] == "S256" and sent["nonce"] and sent["state"]

        back = browser.get(auth_url, allow_redirects=False)
        assert back.status_code == 302 and back.headers["Location"].startswith(f"{rp_server.url}/callback?"), back.text[:300]
        code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
        done = browser.get(back.headers["Location"], allow_redirects=False)  # the RP exchanges the code over HTTP
        assert done.status_code == 302, done.text[:500]
        home = browser.get(f"{rp_server.url}/")
        assert 'id="signed-in"' in home.text and "Alice" in home.text

        id_token = rp_session(rp, browser.cookies.get("rp_session", domain="127.0.0.1"))["id_token"]
        doc = requests.get(f"{lg.url}/.well-known/openid-configuration", timeout=10).json()
        signing_key = jwt.PyJWKClient(doc["jwks_uri"]).get_signing_key_from_jwt(id_token)
        claims = jwt.decode(
            id_token,
            signing_key.key,
            algorithms=doc["id_token_signing_alg_values_supported"],
            audience="demo",
            issuer=doc["issuer"],
            options={"require": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce"]},
        )
        assert claims["nonce"] == sent["nonce"]
        assert claims["amr"][0] == "face" and claims["acr"].startswith("urn:livegate:acr:")
        from webapp.oidc.claims import epoch

        assert claims["auth_time"] == epoch(info["granted_at"])
        assert claims["exp"] - claims["iat"] == 300

        # the code the RP used cannot be used again, even with the right credentials
        basic = base64.b64encode(f"demo:{reg.secret}".encode()).decode()
        replay = requests.post(
            doc["token_endpoint"],
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": f"{rp_server.url}/callback"},
            headers={"Authorization": f"Basic {basic}"},
            timeout=10,
        )
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"

        # RP-initiated logout returns to the RP and ends the LiveGate session
        out = browser.get(f"{rp_server.url}/logout", allow_redirects=False)
        end = browser.get(out.headers["Location"], allow_redirects=False)
        assert end.status_code == 302 and end.headers["Location"].startswith(f"{rp_server.url}/"), end.text[:300]
        assert browser.get(f"{lg.url}/api/v1/me").status_code == 401


def test_at_hash_matches_the_access_token() -> None:
    """The at_hash rule the API test relies on, checked on the example of OIDC Core A.3."""
    access_token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
    digest = hashlib.sha256(access_token.encode()).digest()
    assert base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode() == "77QmUPtjPfzWtF2AnpK9RQ"
