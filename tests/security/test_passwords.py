"""Admin passwords with argon2id; scrypt hashes upgraded on the next successful sign-in (item 5)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from werkzeug.security import generate_password_hash

from tests.support.api import ADMIN_PASSWORD, create_admin, csrf_of
from webapp.accounts.security import hash_password, needs_rehash, verify_password
from webapp.db.extensions import db
from webapp.db.models import AuditEvent, User


def test_new_hashes_are_argon2id() -> None:
    stored = hash_password("a long passphrase")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "a long passphrase") and not verify_password(stored, "another")
    assert not needs_rehash(stored)
    assert not verify_password(None, "x") and not verify_password("$argon2id$garbage", "x")


def test_an_scrypt_hash_is_upgraded_on_the_next_sign_in(app: Flask) -> None:
    create_admin(app.test_cli_runner())
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "root"))
        assert user.password_hash.startswith("$argon2id$")  # `admin create` hashes with argon2id
        user.password_hash = generate_password_hash(ADMIN_PASSWORD, method="scrypt")  # as before this change
        db.session.commit()
        assert needs_rehash(user.password_hash)
    client = app.test_client()
    token = csrf_of(client.get("/admin/login").data)
    r = client.post("/admin/login", data={"username": "root", "password": ADMIN_PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    with app.app_context():
        stored = db.session.scalar(sa.select(User.password_hash).where(User.username == "root"))
        assert stored.startswith("$argon2id$") and verify_password(stored, ADMIN_PASSWORD)
        assert db.session.scalar(sa.select(AuditEvent.kind).where(AuditEvent.kind == "password_rehashed")) == "password_rehashed"
