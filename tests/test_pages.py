"""Browser-facing pages: the account page is unreachable without a granted attempt; admin
pages need an administrator signed in with the admin password."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import ADMIN_PASSWORD, create_admin, csrf_of


@pytest.fixture
def admin(runner: Any) -> str:
    return create_admin(runner)


def admin_login(client: FlaskClient, password: str = ADMIN_PASSWORD, username: str = "root", **extra: str) -> Any:
    csrf = csrf_of(client.get("/admin/login").data)
    return client.post("/admin/login", data={"username": username, "password": password, "csrf_token": csrf, **extra})


def test_login_page_carries_the_api_settings(client: FlaskClient) -> None:
    r = client.get("/login")
    assert r.status_code == 200
    assert b'data-start-url="/api/v1/login/start"' in r.data
    assert b"js/login.js" in r.data
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/account", "/"])
def test_account_needs_a_session(client: FlaskClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/login")


def test_forged_cookie_does_not_open_the_account(app: Flask, client: FlaskClient) -> None:
    from flask.sessions import SecureCookieSessionInterface

    # A cookie signed with another key, claiming a session: rejected.
    other = Flask("x")
    other.secret_key = "not-our-secret"
    serializer = SecureCookieSessionInterface().get_signing_serializer(other)
    assert serializer is not None
    client.set_cookie("livegate_session", serializer.dumps({"_user_id": "whatever", "_fresh": True}))
    assert client.get("/account").status_code == 302
    # Even correctly signed, an id that is not a live server-side session is nothing.
    ours = SecureCookieSessionInterface().get_signing_serializer(app)
    assert ours is not None
    client.set_cookie("livegate_session", ours.dumps({"_user_id": "made-up-session-token", "_fresh": True}))
    assert client.get("/account").status_code == 302
    assert client.get("/api/v1/me").status_code == 401


def test_admin_pages_redirect_to_admin_login(client: FlaskClient) -> None:
    for path in ("/admin/", "/admin/attempts", "/admin/users/alice"):
        r = client.get(path)
        assert r.status_code == 302 and r.headers["Location"].startswith("/admin/login")


def test_admin_password_login_and_pages(client: FlaskClient, admin: str) -> None:
    assert admin_login(client, "wrong password!!").status_code == 401
    r = admin_login(client)
    assert r.status_code == 302 and r.headers["Location"] == "/admin/"
    users = client.get("/admin/")
    assert users.status_code == 200 and b"root" in users.data
    r = client.post("/admin/users", data={"username": "carol", "display_name": "Carol", "csrf_token": csrf_of(client.get("/admin/").data)})
    assert r.status_code == 302 and r.headers["Location"] == "/admin/users/carol"
    page = client.get("/admin/users/carol")
    assert page.status_code == 200 and b"No face enrolled" in page.data
    assert client.get("/admin/attempts").status_code == 200
    assert client.get("/admin/users/ghost").status_code == 404
    # The admin's password session is not an end-user face session, but it is a session.
    assert client.get("/api/v1/me").get_json()["username"] == "root"


def test_admin_form_posts_need_csrf(client: FlaskClient, admin: str) -> None:
    r = client.post("/admin/login", data={"username": "root", "password": ADMIN_PASSWORD})
    assert r.status_code == 403
    admin_login(client)
    r = client.post("/admin/users", data={"username": "dave", "display_name": "Dave"})
    assert r.status_code == 403


def test_login_redirect_stays_on_this_site(client: FlaskClient, admin: str) -> None:
    r = admin_login(client, next="https://evil.example/steal")
    assert r.headers["Location"] == "/admin/"
    client.post("/admin/logout", data={"csrf_token": csrf_of(client.get("/admin/").data)})
    r = admin_login(client, next="/admin/attempts")
    assert r.headers["Location"] == "/admin/attempts"


def test_non_admin_session_cannot_use_admin_pages(app: Flask, client: FlaskClient, admin: str) -> None:
    from webapp.accounts.security import start_session
    from webapp.accounts.users import create_user
    from webapp.db.extensions import db

    with app.test_request_context():
        user = create_user("erin", "Erin")
        start_session(user, "face", "127.0.0.1")
        from flask import session

        cookie_payload = dict(session)
        db.session.commit()
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    client.set_cookie("livegate_session", serializer.dumps(cookie_payload))
    assert client.get("/account").status_code == 200
    assert client.get("/admin/").status_code == 403
    assert client.get("/api/v1/admin/users").status_code == 403


@pytest.mark.parametrize("app_config", [{"LOCKOUT_THRESHOLD": 3, "LOCKOUT_SECONDS": 300}])
def test_admin_password_lockout(client: FlaskClient, admin: str) -> None:
    for _ in range(3):
        assert admin_login(client, "nope nope nope").status_code == 401
    locked = admin_login(client)  # even the right password waits out the lock
    assert locked.status_code == 423


def test_api_404_and_405_are_json(client: FlaskClient) -> None:
    r = client.get("/api/v1/nothing-here")
    assert (r.status_code, r.get_json()["error"]) == (404, "not_found")
    r = client.get("/api/v1/login/start")
    assert (r.status_code, r.get_json()["error"]) == (405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]
    assert client.get("/nothing").status_code == 404  # HTML elsewhere
