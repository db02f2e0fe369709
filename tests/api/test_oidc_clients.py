"""Managing OpenID Connect clients: the CLI and the admin pages (CSRF, audit, hashed secrets)."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import ADMIN_PASSWORD, create_admin, csrf_of
from tests.support.oidc import Registered, add_client, exchange, face_session, get_code, pkce


def client_row(app: Flask, client_id: str) -> object:
    from webapp.db.extensions import db
    from webapp.oidc.models import OidcClient

    with app.app_context():
        return db.session.scalar(sa.select(OidcClient).where(OidcClient.client_id == client_id))


def test_cli_add_list_rotate_delete(app: Flask, client: FlaskClient) -> None:
    runner = app.test_cli_runner()
    reg = add_client(app, "grafana", "--name", "Grafana", "--scope", "openid", "--scope", "email")
    assert reg.secret and len(reg.secret) >= 40
    row = client_row(app, "grafana")
    assert row is not None and row.secret_hash != reg.secret and reg.secret not in repr(vars(row))  # type: ignore[attr-defined]
    assert row.scopes == ["openid", "email"]  # type: ignore[attr-defined]
    listed = runner.invoke(args=["clients", "list"]).output
    assert "grafana\tconfidential\tskip-consent\topenid email" in listed

    face_session(app, client)
    verifier, challenge = pkce()
    code, _ = get_code(client, reg, challenge, scope="openid email")
    rotated = runner.invoke(args=["clients", "rotate-secret", "grafana"])
    assert rotated.exit_code == 0
    new_secret = rotated.output.split(": ", 1)[1].strip()
    assert exchange(client, reg, code, verifier).status_code == 401  # the old secret stopped working
    code, _ = get_code(client, reg, challenge, scope="openid email", nonce="second")
    assert exchange(client, Registered("grafana", new_secret), code, verifier).status_code == 200

    assert runner.invoke(args=["clients", "add", "grafana", "--redirect-uri", "https://x.example/cb"]).exit_code == 1  # exists
    assert runner.invoke(args=["clients", "add", "bad", "--redirect-uri", "http://x.example/cb"]).exit_code == 1  # plain http
    assert runner.invoke(args=["clients", "add", "bad", "--redirect-uri", "https://x.example/cb", "--scope", "admin"]).exit_code == 1
    assert runner.invoke(args=["clients", "rotate-secret", "nobody"]).exit_code == 1
    deleted = runner.invoke(args=["clients", "delete", "grafana", "--yes"])
    assert deleted.exit_code == 0 and client_row(app, "grafana") is None


def test_users_email(app: Flask) -> None:
    runner = app.test_cli_runner()
    assert (
        runner.invoke(args=["users", "add", "carol", "--display-name", "Carol", "--email", "carol@example.org", "--no-face"]).exit_code == 0
    )
    assert runner.invoke(args=["users", "email", "carol", "not-an-address"]).exit_code == 1
    assert runner.invoke(args=["users", "email", "carol", "c@example.com"]).output.strip() == "carol: c@example.com"


def admin_client(app: Flask) -> FlaskClient:
    create_admin(app.test_cli_runner())
    c = app.test_client()
    page = c.get("/admin/login")
    resp = c.post("/admin/login", data={"username": "root", "password": ADMIN_PASSWORD, "csrf_token": csrf_of(page.data)})
    assert resp.status_code == 302
    return c


def test_admin_pages_register_rotate_and_delete(app: Flask) -> None:
    c = admin_client(app)
    page = c.get("/admin/clients/")
    assert page.status_code == 200 and b"No clients yet" in page.data
    token = csrf_of(page.data)
    form = {
        "client_id": "wiki",
        "name": "Wiki",
        "redirect_uris": "https://wiki.example/cb\nhttps://wiki.example/cb2",
        "scopes": ["openid", "profile"],
    }
    assert c.post("/admin/clients/", data=form).status_code == 403  # no CSRF token
    created = c.post("/admin/clients/", data={**form, "csrf_token": token})
    assert created.status_code == 200
    secret = re.search(rb'id="client-secret-value">([^<]+)<', created.data)
    assert secret is not None
    row = client_row(app, "wiki")
    assert row.redirect_uris == ["https://wiki.example/cb", "https://wiki.example/cb2"] and row.scopes == ["openid", "profile"]  # type: ignore[attr-defined]
    assert not row.skip_consent  # type: ignore[attr-defined]
    listing = c.get("/admin/clients/").data
    assert b"wiki" in listing and secret.group(1) not in listing  # the secret is shown once only

    rotated = c.post("/admin/clients/wiki/secret", data={"csrf_token": token})
    assert re.search(rb'id="client-secret-value">', rotated.data)
    bad = c.post(
        "/admin/clients/", data={"client_id": "x", "redirect_uris": "http://evil.example/", "csrf_token": token}, follow_redirects=True
    )
    assert b"Plain http" in bad.data and client_row(app, "x") is None
    assert c.post("/admin/clients/wiki/delete", data={"csrf_token": token}).status_code == 302
    assert client_row(app, "wiki") is None

    from webapp.db.extensions import db
    from webapp.db.models import AuditEvent

    with app.app_context():
        kinds = [e.kind for e in db.session.scalars(sa.select(AuditEvent))]
    assert {"oidc_client_added", "oidc_secret_rotated", "oidc_client_deleted"} <= set(kinds)


def test_admin_pages_need_an_admin(app: Flask, client: FlaskClient) -> None:
    assert client.get("/admin/clients/").status_code == 302
    face_session(app, client)  # an end user signed in by face is not an admin
    assert client.get("/admin/clients/").status_code == 403


def test_public_client_from_the_admin_page_has_no_secret(app: Flask) -> None:
    c = admin_client(app)
    token = csrf_of(c.get("/admin/clients/").data)
    created = c.post(
        "/admin/clients/", data={"client_id": "spa", "redirect_uris": "http://localhost:3000/cb", "public": "on", "csrf_token": token}
    )
    assert b"client-secret-value" not in created.data
    row = client_row(app, "spa")
    assert row.is_public and row.secret_hash is None  # type: ignore[attr-defined]
