from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.support.api import ALICE_CLI_PHOTOS, cli_add_user
from tests.support.faces import face_photo
from webapp.db.extensions import db
from webapp.db.models import ApiToken, AuditEvent, FaceTemplate, User


@pytest.mark.slow  # dlib: enrollment
def test_users_add_enrolls_faces(app: Flask, runner: Any) -> None:
    result = cli_add_user(runner)
    assert result.exit_code == 0, result.output
    assert "enrolled 3 of 3" in result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "alice"))
        assert user is not None and user.display_name == "Alice" and user.role == "user"
        assert db.session.scalar(sa.select(sa.func.count(FaceTemplate.id))) == 3
    listing = runner.invoke(args=["users", "list"])
    assert "alice\tuser\t3 faces\tAlice" in listing.output


def test_users_add_reports_rejections(app: Flask, runner: Any, tmp_path: Any) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"nope")
    result = runner.invoke(args=["users", "add", "bob", "--display-name", "Bob", "--face", str(junk)])
    assert result.exit_code == 1
    assert "rejected junk.jpg: bad_image" in result.output
    assert "an account needs 3 faces (ENROLL_MIN_FRAMES), so this enrollment needs 3 good photos: bob was not created" in result.output
    with app.app_context():  # the user and its audit events went together, not half
        assert db.session.scalar(sa.select(User).where(User.username == "bob")) is None
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.subject == "bob")) == 0
    created = runner.invoke(args=["users", "add", "bob", "--display-name", "Bob", "--no-face"])
    assert created.exit_code == 0 and "created bob" in created.output
    again = runner.invoke(args=["users", "add", "bob", "--display-name", "Bob", "--no-face"])
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
    assert runner.invoke(args=["users", "add", "carol", "--display-name", "Carol", "--no-face"]).exit_code == 0
    not_admin = runner.invoke(args=["admin", "token", "carol"])
    assert not_admin.exit_code == 1


@pytest.mark.slow  # dlib: enrollment
def test_cli_enrolls_with_the_web_minimum_then_tops_up_one_photo_at_a_time(app: Flask, runner: Any) -> None:
    """One minimum for the CLI and the web (ENROLL_MIN_FRAMES, 3): a new account needs three
    good photos at once, nothing is half-stored, and `users enroll` then adds photos singly."""
    two = cli_add_user(runner, "dave", "Dave", ("obama.jpg", "obama3.jpg"))
    assert two.exit_code == 1
    assert "rejected -: not_enough_good_images (2 good, need 3)" in two.output
    assert "dave was not created" in two.output
    assert cli_add_user(runner, "dave", "Dave", ("obama.jpg", "obama3.jpg"), no_face=True).exit_code == 1  # --face and --no-face
    created = runner.invoke(args=["users", "add", "dave", "--display-name", "Dave", "--no-face"])
    assert created.exit_code == 0, created.output
    short = runner.invoke(args=["users", "enroll", "dave", "--face", str(face_photo("obama.jpg")), "--face", str(face_photo("obama3.jpg"))])
    assert short.exit_code == 1 and "this enrollment needs 3 good photos" in short.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(FaceTemplate.id))) == 0
    photos = [str(face_photo(n)) for n in ALICE_CLI_PHOTOS]
    full = runner.invoke(args=["users", "enroll", "dave", *[a for p in photos for a in ("--face", p)]])
    assert full.exit_code == 0 and "enrolled 3 of 3 photos for dave (now 3 faces)" in full.output, full.output
    more = runner.invoke(args=["users", "enroll", "dave", "--face", str(face_photo("obama_partial_face.jpg"))])
    assert more.exit_code == 0 and "enrolled 1 of 1 photos for dave (now 4 faces)" in more.output, more.output
