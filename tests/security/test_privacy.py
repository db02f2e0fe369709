"""Privacy tooling (issue 11, item 4): consent, retention, access and erasure."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from flask import Flask

from tests.security.test_at_rest import _db_file, _encoding, _enroll_synthetic
from tests.support.api import start
from webapp.db.extensions import db
from webapp.db.models import AttemptFrame, AuditEvent, Consent, FaceTemplate, LoginAttempt, User, utcnow


def _consent(app: Flask, username: str) -> None:
    from webapp.accounts.privacy import record_consent
    from webapp.accounts.users import find_user
    from webapp.settings import settings

    with app.app_context():
        user = find_user(username)
        assert record_consent(user, settings().consent_text, "root") is not None
        assert record_consent(user, settings().consent_text, "root") is None  # once per text
        db.session.commit()


def _attempt_with_frames(app: Flask, username: str, age_days: float) -> str:
    attempt_id = start(app.test_client(), username).get_json()["attempt_id"]
    with app.app_context():
        row = db.session.scalar(sa.select(LoginAttempt).where(LoginAttempt.public_id == attempt_id))
        moment = utcnow() - timedelta(days=age_days)
        row.created_at, row.expires_at, row.finished_at, row.state, row.reason = moment, moment, moment, "denied", "no_match"
        row.progress = {"track_prev": {"pts": [[1.0, 2.0]] * 68, "t": 0.5}, "face_frames": 3}
        db.session.add(
            AttemptFrame(
                attempt_id=row.id,
                seq=1,
                received_at=moment,
                sha256="0" * 64,
                phash="ab" * 8,
                dhash="cd" * 8,
                fingerprint="ff",
                faces=1,
                outcome="ok",
                signals={"ear": 0.3, "yaw": 1.0},
            )
        )
        db.session.commit()
    return attempt_id


def test_prune_strips_signals_after_30_days_and_deletes_old_attempts(app: Flask) -> None:
    fresh = _attempt_with_frames(app, "alice", 2)
    reviewable_gone = _attempt_with_frames(app, "alice", 31)
    ancient = _attempt_with_frames(app, "alice", 200)
    assert ancient not in (fresh, reviewable_gone)
    result = app.test_cli_runner().invoke(args=["prune", "--dry-run"])
    assert result.exit_code == 0 and "would change: 1 frames_deleted, 1 attempts_deleted, 1 frames_stripped" in result.output
    result = app.test_cli_runner().invoke(args=["prune"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        rows = {a.public_id: a for a in db.session.scalars(sa.select(LoginAttempt))}
        assert set(rows) == {fresh, reviewable_gone}
        assert rows[fresh].progress["track_prev"] and rows[fresh].frames[0].signals == {"ear": 0.3, "yaw": 1.0}
        past = rows[reviewable_gone]
        assert past.progress == {} and past.reason == "no_match"  # the decision stays
        assert (past.frames[0].signals, past.frames[0].phash, past.frames[0].fingerprint) == ({}, None, None)
        assert db.session.scalar(sa.select(AuditEvent.kind).where(AuditEvent.kind == "pruned")) == "pruned"
    again = app.test_cli_runner().invoke(args=["prune"])
    assert "0 frames_deleted, 0 attempts_deleted, 0 frames_stripped, 0 attempts_stripped" in again.output


@pytest.mark.parametrize("app_config", [{"RETAIN_SIGNALS_DAYS": 1}])
def test_retention_ages_are_settings(app: Flask) -> None:
    attempt = _attempt_with_frames(app, "alice", 2)
    app.test_cli_runner().invoke(args=["prune"])
    with app.app_context():
        assert db.session.scalar(sa.select(LoginAttempt.progress).where(LoginAttempt.public_id == attempt)) == {}


def test_export_holds_everything_about_the_person(app: Flask) -> None:
    _enroll_synthetic(app, "alice", [41, 42])
    _consent(app, "alice")
    _attempt_with_frames(app, "alice", 1)
    result = app.test_cli_runner().invoke(args=["users", "export", "alice", "--with-vectors"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["user"]["username"] == "alice"
    assert [c["recorded_by"] for c in data["consents"]] == ["root"] and "template of my face" in data["consents"][0]["text"]
    assert np.allclose([t["encoding"] for t in data["templates"]], [_encoding(41), _encoding(42)])
    assert len(data["attempts"]) == 1 and data["attempts"][0]["frames"][0]["signals"]["ear"] == 0.3
    plain = json.loads(app.test_cli_runner().invoke(args=["users", "export", "alice"]).output)
    assert all("encoding" not in t for t in plain["templates"])  # vectors only when asked
    assert app.test_cli_runner().invoke(args=["users", "export", "nobody"]).exit_code == 1


def test_erase_removes_the_person_and_keeps_a_pseudonymous_record(app: Flask) -> None:
    _enroll_synthetic(app, "alice", [51, 52])
    _enroll_synthetic(app, "bob", [53])
    _consent(app, "alice")
    _attempt_with_frames(app, "alice", 1)
    with app.app_context():
        sealed = [bytes(b) for b in db.session.scalars(sa.select(FaceTemplate.encoding).join(User).where(User.username == "alice"))]
        from webapp.db.audit import audit

        audit("user_created", subject="alice", actor="root")
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["users", "erase", "alice", "--yes"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(sa.select(User.id).where(User.username == "alice")) is None
        for model in (Consent, LoginAttempt, AttemptFrame):
            assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0, model
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FaceTemplate)) == 1  # bob's
        events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
        assert {e.subject for e in events} == {result.output.split("now ")[1].split(" ")[0]}
        assert events[-1].kind == "user_erased" and events[-1].subject.startswith("erased:")
        db.session.remove()
        db.engine.dispose()
    path: Path = _db_file(app)
    data = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert b"alice" not in data
    assert [s in data for s in sealed] == [False, False]


@pytest.mark.slow
def test_cli_enrollment_records_consent(app: Flask) -> None:
    from tests.support.api import cli_add_user

    assert cli_add_user(app.test_cli_runner()).exit_code == 0
    with app.app_context():
        consent = db.session.scalar(sa.select(Consent))
        assert consent is not None and consent.recorded_by == "cli" and "template of my face" in consent.text
