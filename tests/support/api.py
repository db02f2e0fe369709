"""Small helpers for driving the HTTP API from tests."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from werkzeug.test import TestResponse

from webapp.challenge.steps import FaceSignals
from webapp.db.models import LoginAttempt


def start(client: FlaskClient, username: str = "alice") -> TestResponse:
    return client.post("/api/v1/login/start", json={"username": username})


def post_frame(
    client: FlaskClient, attempt_id: str, data: bytes, seq: int | str | None = None, mimetype: str = "image/jpeg"
) -> TestResponse:
    """POST one frame; ``seq`` is sent as the form field's text when given (None: no field)."""
    form: dict[str, object] = {"frame": (io.BytesIO(data), "frame.jpg", mimetype)}
    if seq is not None:
        form["seq"] = str(seq)
    return client.post(f"/api/v1/login/{attempt_id}/frames", data=form, content_type="multipart/form-data")


# The conftest's alice: two photos, enrolled through the domain function below the account
# minimum on purpose (the login tests' figures were set on these two templates).
ALICE_PHOTOS = ("obama.jpg", "obama3.jpg")
# alice through the CLI, which enforces ENROLL_MIN_FRAMES (3): a third photo of the same man
# (obama2.jpg stays out: the tests sign in and verify with it).
ALICE_CLI_PHOTOS = (*ALICE_PHOTOS, "obama_partial_face2.jpg")
ADMIN_PASSWORD = "correct horse battery staple"


def create_admin(runner: FlaskCliRunner, name: str = "root") -> str:
    """`flask admin create NAME --password-stdin` with ADMIN_PASSWORD."""
    result = runner.invoke(args=["admin", "create", name, "--password-stdin"], input=ADMIN_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    return name


def admin_token(runner: FlaskCliRunner, name: str = "root") -> str:
    """A new admin and a bearer token for them (`flask admin token NAME`)."""
    create_admin(runner, name)
    result = runner.invoke(args=["admin", "token", name])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_of(html: bytes) -> str:
    """The CSRF token of the page's form (its hidden csrf_token field, which the page must have)."""
    import re

    match = re.search(rb'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1).decode()


def cli_add_user(
    runner: FlaskCliRunner,
    username: str = "alice",
    display_name: str = "Alice",
    photos: tuple[str, ...] = ALICE_CLI_PHOTOS,
    no_face: bool = False,
) -> Result:
    """`flask --app webapp users add USERNAME --display-name ... --face PHOTO ...` on test photos."""
    from tests.support.faces import face_photo

    args = ["users", "add", username, "--display-name", display_name] + (["--no-face"] if no_face else [])
    for name in photos:
        args += ["--face", str(face_photo(name))]
    return runner.invoke(args=args)


def enroll(app: Flask, username: str, display_name: str, images: list[bytes]) -> int:
    """Create a user and enroll photos through the domain functions (no admin auth needed)."""
    from webapp.accounts.enrollment import enroll_images
    from webapp.accounts.users import create_user
    from webapp.db.extensions import db

    with app.app_context():
        user = create_user(username, display_name)
        enrolled = enroll_images(user, images, "cli", min_good=1).enrolled  # any number: fixtures
        db.session.commit()  # the domain functions leave committing to their caller
        return enrolled


def follow_prompts(monkeypatch: pytest.MonkeyPatch, challenge: list[str]) -> None:
    """Make the landmark signals those of a user doing exactly what is asked."""
    signals = scripted_signals(challenge)
    monkeypatch.setattr("webapp.login.frames.face_signals", lambda obs, shape: next(signals))


def attempt_row(app: Flask, public_id: str) -> LoginAttempt:
    """The attempt as stored (detached, for reading after the request)."""
    import sqlalchemy as sa

    from webapp.db.extensions import db
    from webapp.db.models import LoginAttempt

    with app.app_context():
        row = db.session.scalar(sa.select(LoginAttempt).where(LoginAttempt.public_id == public_id))
        assert row is not None
        db.session.expunge(row)
        return row


def scripted_signals(challenge: list[str], baseline: int = 3) -> Iterator[FaceSignals]:
    """Landmark signals of a user who follows the prompts: neutral, then each step done."""
    neutral = FaceSignals(ear=0.3, yaw=0.0, pitch=0.0, face_px=150)
    for _ in range(baseline):
        yield neutral
    for step in challenge:
        if step == "blink":
            yield FaceSignals(ear=0.1, yaw=0.0, pitch=0.0, face_px=150)
        elif step in ("turn_left", "turn_right"):  # a head turns through the poses in between
            sign = 1.0 if step == "turn_left" else -1.0
            yield FaceSignals(ear=0.3, yaw=sign * 12.0, pitch=0.0, face_px=150)
            yield FaceSignals(ear=0.3, yaw=sign * 30.0, pitch=0.0, face_px=150)
        yield neutral
    while True:
        yield neutral


class ClosingClient(FlaskClient):
    """Flask's test client, closing the request body it built after each request.

    Werkzeug's test client spools multipart bodies over 500 KB to a temporary file and leaves
    it open; with warnings as errors that surfaces as a ResourceWarning in a later test.
    """

    def open(self, *args: object, **kwargs: object) -> TestResponse:  # type: ignore[override]
        response = super().open(*args, **kwargs)  # type: ignore[arg-type]
        stream = response.request.environ.get("wsgi.input")
        if stream is not None and hasattr(stream, "close"):
            stream.close()
        return response


def paced_clock(monkeypatch: pytest.MonkeyPatch, seconds_per_read: float = 0.125) -> None:
    """Make the server clock move as it does for a camera at the page's pace: every read of
    ``webapp.db.clock.utcnow`` is ``seconds_per_read`` later than the one before (a frame reads
    it a few times), so time budgets are reached in a few dozen frames without sleeping."""
    from datetime import timedelta

    from webapp.db import clock

    start = clock.utcnow()
    reads = itertools.count(1)
    monkeypatch.setattr(clock, "utcnow", lambda: start + timedelta(seconds=seconds_per_read * next(reads)))
