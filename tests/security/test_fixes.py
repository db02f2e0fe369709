"""The outside test's other findings (issue 11, item 6): open redirect, unbounded integers,
the proxy header, and the missing response headers."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import ADMIN_PASSWORD, admin_token, auth, create_admin, csrf_of, start
from webapp.db.extensions import db
from webapp.db.models import LoginAttempt
from webapp.web.redirects import safe_next


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example/",  # what the outside test sent
        "/%2F/evil.example/",
        "/%5Cevil.example",
        "/\t/evil.example/",
        "/\n/evil.example/",
        "/\r\n/evil.example",
        "//evil.example/",
        "///evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\\/evil.example",
        "https://evil.example/",
        "http:/evil.example",
        "javascript:alert(1)",
        "evil.example",
        " /admin/",
        "/admin/\x00",
        "/admin/\x7f",
        "/ /evil.example",
        "/\u3000/evil.example",  # ideographic space
        "",
        None,
        123,
        "/" + "a" * 3000,
    ],
)
def test_unsafe_next_targets_are_refused(target: object) -> None:
    assert safe_next(target) is None


@pytest.mark.parametrize(
    "target", ["/admin/", "/admin/users/alice", "/admin/attempts?username=bob", "/account#top", "/admin/users/a%40b.example"]
)
def test_same_site_paths_pass(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize("raw_next", ["/%09/evil.example/", "//evil.example/", "/%5Cevil.example", "https://evil.example"])
def test_sign_in_never_redirects_off_site(app: Flask, raw_next: str) -> None:
    create_admin(app.test_cli_runner())
    client = app.test_client()
    page = client.get(f"/admin/login?next={raw_next}")
    r = client.post(
        "/admin/login", data={"username": "root", "password": ADMIN_PASSWORD, "csrf_token": csrf_of(page.data), "next": raw_next}
    )
    assert r.status_code == 302
    assert r.headers["Location"] in ("/admin/", "http://localhost/admin/")


def test_a_safe_next_is_followed(app: Flask) -> None:
    create_admin(app.test_cli_runner())
    client = app.test_client()
    page = client.get("/admin/login?next=/admin/attempts")
    assert b'value="/admin/attempts"' in page.data
    r = client.post(
        "/admin/login", data={"username": "root", "password": ADMIN_PASSWORD, "csrf_token": csrf_of(page.data), "next": "/admin/attempts"}
    )
    assert r.headers["Location"].endswith("/admin/attempts")


# --- bounded integers ----------------------------------------------------------------------


@pytest.mark.parametrize("seq", [str(2**63), str(-(2**63) - 1), "9" * 5000, "1_000", "\u0663", "1e3", "0x10", "--1", " "])
def test_frame_seq_outside_a_signed_64_bit_integer_is_a_400(client: FlaskClient, seq: str) -> None:
    attempt_id = start(client, "nobody").get_json()["attempt_id"]
    form = {"frame": (io.BytesIO(b"\xff\xd8 not really"), "f.jpg", "image/jpeg"), "seq": seq}
    r = client.post(f"/api/v1/login/{attempt_id}/frames", data=form, content_type="multipart/form-data")
    assert r.status_code == 400
    assert r.get_json()["error"] in ("invalid_request", "bad_frame")


@pytest.mark.parametrize("limit", ["9" * 5000, "-1", "0", "1001", "abc", "1.5", str(2**64)])
def test_admin_limit_is_bounded(app: Flask, limit: str) -> None:
    token = admin_token(app.test_cli_runner())
    r = app.test_client().get(f"/api/v1/admin/attempts?limit={limit}", headers=auth(token))
    assert (r.status_code, r.get_json()["error"]) == (400, "invalid_request")
    assert app.test_client().get("/api/v1/admin/attempts?limit=1000", headers=auth(token)).status_code == 200


# --- the client address behind proxies ------------------------------------------------------


def _addr_of_new_attempt(app: Flask, **headers: str) -> str:
    client = app.test_client()
    r = client.post("/api/v1/login/start", json={"username": "nobody"}, headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    with app.app_context():
        return db.session.scalar(sa.select(LoginAttempt.client_addr).where(LoginAttempt.public_id == r.get_json()["attempt_id"]))


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1}])
def test_one_trusted_proxy_reads_only_the_hop_it_added(app: Flask) -> None:
    # The client sent a forged header; our proxy appended the address it saw.
    assert _addr_of_new_attempt(app, **{"X-Forwarded-For": "1.2.3.4, 198.51.100.7"}) == "198.51.100.7"
    assert _addr_of_new_attempt(app) == "10.0.0.2"


def test_without_trusted_proxies_the_header_is_ignored(app: Flask) -> None:
    assert _addr_of_new_attempt(app, **{"X-Forwarded-For": "1.2.3.4"}) == "10.0.0.2"


# --- headers --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/admin/login", "/api/v1/me", "/account"])
def test_security_headers(client: FlaskClient, path: str) -> None:
    r = client.get(path)
    csp = r.headers["Content-Security-Policy"]
    assert "base-uri 'none'" in csp and "form-action 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "camera=(self)" in r.headers["Permissions-Policy"] and "microphone=()" in r.headers["Permissions-Policy"]
    assert r.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in r.headers  # plain http: HSTS would mean nothing


def test_hsts_over_https(client: FlaskClient) -> None:
    r = client.get("/login", base_url="https://localhost")
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1}])
def test_hsts_behind_an_https_proxy(client: FlaskClient) -> None:
    r = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" in r.headers
