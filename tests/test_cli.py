from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.support.api import cli_add_user
from webapp.db.extensions import db
from webapp.db.models import ApiToken, AuditEvent, FaceTemplate, User


@pytest.mark.slow  # dlib: enrollment
def test_users_add_enrolls_faces(app: Flask, runner: Any) -> None:
    result = cli_add_user(runner)
    assert result.exit_code == 0, result.output
    assert "enrolled 2 of 2" in result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "alice"))
        assert user is not None and user.display_name == "Alice" and user.role == "user"
        assert db.session.scalar(sa.select(sa.func.count(FaceTemplate.id))) == 2
    listing = runner.invoke(args=["users", "list"])
    assert "alice\tuser\t2 faces\tAlice" in listing.output


def test_users_add_reports_rejections(app: Flask, runner: Any, tmp_path: Any) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"nope")
    result = runner.invoke(args=["users", "add", "bob", "--display-name", "Bob", "--face", str(junk)])
    assert result.exit_code == 1
    assert "rejected junk.jpg: bad_image" in result.output
    assert "bob was not created" in result.output
    with app.app_context():  # the user and its audit events went together, not half
        assert db.session.scalar(sa.select(User).where(User.username == "bob")) is None
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.subject == "bob")) == 0
    created = runner.invoke(args=["users", "add", "bob", "--display-name", "Bob"])
    assert created.exit_code == 0 and "created bob" in created.output
    again = runner.invoke(args=["users", "add", "bob", "--display-name", "Bob"])
    assert again.exit_code == 1 and "already exists" in again.output


def test_admin_create_and_token(app: Flask, runner: Any) -> None:
    short = runner.invoke(args=["admin", "create", "root", "--password-stdin"], input="short\n")
    assert short.exit_code == 1
    ok = runner.invoke(args=["admin", "create", "root", "--password-stdin"], input="a long enough password\n")
    assert ok.exit_code == 0, ok.output
    token = runner.invoke(args=["admin", "token", "root"]).output.strip()
    assert token.startswith("lg_") and len(token) > 40
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 1
        admin = db.session.scalar(sa.select(User).where(User.username == "root"))
        assert admin is not None and admin.is_admin and admin.password_hash and "a long enough" not in admin.password_hash
    client = app.test_client()
    assert client.get("/api/v1/admin/users", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    runner.invoke(args=["users", "add", "carol", "--display-name", "Carol"])
    not_admin = runner.invoke(args=["admin", "token", "carol"])
    assert not_admin.exit_code == 1
