"""Admission control (503 busy + Retry-After beyond capacity) and the sweeper of expired
attempts (``flask attempts sweep`` and the opportunistic pass of login/start)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import attempt_row, start
from webapp.config import DEFAULTS
from webapp.db.extensions import db
from webapp.db.models import LoginAttempt, utcnow
from webapp.login.admission import capacity
from webapp.settings import Settings


def _age(app: Flask, public_id: str, seconds: float) -> None:
    """Move an attempt ``seconds`` into the past (created, last frame and expiry)."""
    with app.app_context():
        row = db.session.scalar(sa.select(LoginAttempt).where(LoginAttempt.public_id == public_id))
        assert row is not None
        shift = timedelta(seconds=seconds)
        row.created_at -= shift
        row.expires_at -= shift
        if row.last_frame_at is not None:
            row.last_frame_at -= shift
        db.session.commit()


def test_capacity_follows_workers_cost_and_pace() -> None:
    cfg = Settings.from_config({**DEFAULTS, "ADMISSION_WORKERS": 2, "ADMISSION_FRAME_CPU_MS": 25.0, "FRAME_INTERVAL_MS": 125})
    # 2 workers x 0.8 / (0.025 CPU s per frame x 8 frames/s) = 8 attempts at once
    assert capacity(cfg.admission, cfg.attempts) == 8
    doubled = Settings.from_config({**DEFAULTS, "ADMISSION_WORKERS": 4, "ADMISSION_FRAME_CPU_MS": 25.0, "FRAME_INTERVAL_MS": 125})
    assert capacity(doubled.admission, doubled.attempts) == 16
    slow = Settings.from_config({**DEFAULTS, "ADMISSION_WORKERS": 1, "ADMISSION_FRAME_CPU_MS": 1000.0})
    assert capacity(slow.admission, slow.attempts) == 1  # never zero: one attempt always runs
    fixed = Settings.from_config({**DEFAULTS, "ADMISSION_MAX_ATTEMPTS": 5})
    assert capacity(fixed.admission, fixed.attempts) == 5
    off = Settings.from_config({**DEFAULTS, "ADMISSION_MAX_ATTEMPTS": 0})
    assert capacity(off.admission, off.attempts) is None


@pytest.mark.parametrize("app_config", [{"ADMISSION_MAX_ATTEMPTS": 2, "ADMISSION_RETRY_SECONDS": 3}])
def test_starts_beyond_capacity_get_503_busy_with_retry_after(app: Flask, client: FlaskClient) -> None:
    first, second = start(client), start(client)
    assert (first.status_code, second.status_code) == (201, 201)
    refused = start(client)
    assert refused.status_code == 503
    assert refused.get_json()["error"] == "busy" and refused.get_json()["message"]
    assert 3 <= int(refused.headers["Retry-After"]) <= 6
    # No attempt was created for the refused start: the running ones keep their slots.
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(LoginAttempt.id))) == 2
    # The admitted attempts still take frames (nothing refuses them); checked by reading them.
    assert attempt_row(app, first.get_json()["attempt_id"]).state == "collecting"


@pytest.mark.parametrize("app_config", [{"ADMISSION_MAX_ATTEMPTS": 1, "ADMISSION_IDLE_SECONDS": 10}])
def test_an_abandoned_or_expired_attempt_frees_its_slot(app: Flask, client: FlaskClient) -> None:
    first = start(client).get_json()["attempt_id"]
    assert start(client).status_code == 503
    _age(app, first, 11)  # no frame for longer than ADMISSION_IDLE_SECONDS: abandoned
    second = start(client)
    assert second.status_code == 201
    _age(app, second.get_json()["attempt_id"], 61)  # past its TTL
    assert start(client).status_code == 201


def _framed(app: Flask, public_id: str, seconds_ago: float) -> None:
    """Record that the attempt's last frame arrived ``seconds_ago`` (as a frame would)."""
    with app.app_context():
        row = db.session.scalar(sa.select(LoginAttempt).where(LoginAttempt.public_id == public_id))
        assert row is not None
        row.last_frame_at = utcnow() - timedelta(seconds=seconds_ago)
        row.frames_received += 1
        db.session.commit()


@pytest.mark.parametrize("app_config", [{"ADMISSION_MAX_ATTEMPTS": 2, "ADMISSION_IDLE_SECONDS": 10, "ADMISSION_FIRST_FRAME_SECONDS": 3}])
def test_started_attempts_that_never_send_a_frame_cannot_crowd_logins_out(app: Flask, client: FlaskClient) -> None:
    frameless = [start(client).get_json()["attempt_id"] for _ in range(2)]
    assert start(client).status_code == 503  # within the first-frame grace they hold their slots
    for public_id in frameless:
        _age(app, public_id, 4)  # no frame 4 s after the start: well inside the 10 s idle window
    admitted = start(client)
    assert admitted.status_code == 201, admitted.get_json()
    assert attempt_row(app, frameless[0]).state == "collecting"  # not closed: it may still send


@pytest.mark.parametrize("app_config", [{"ADMISSION_MAX_ATTEMPTS": 1, "ADMISSION_IDLE_SECONDS": 10, "ADMISSION_FIRST_FRAME_SECONDS": 3}])
def test_an_attempt_sending_frames_keeps_its_slot_for_the_idle_window(app: Flask, client: FlaskClient) -> None:
    first = start(client).get_json()["attempt_id"]
    _age(app, first, 30)  # started 30 s ago ...
    _framed(app, first, 8)  # ... and its last frame came 8 s ago: still running
    assert start(client).status_code == 503
    _framed(app, first, 11)  # idle past ADMISSION_IDLE_SECONDS: abandoned
    assert start(client).status_code == 201


@pytest.mark.parametrize("app_config", [{"SWEEP_BATCH": 2}])
def test_login_start_closes_a_few_expired_attempts(app: Flask, client: FlaskClient) -> None:
    ids = [start(client).get_json()["attempt_id"] for _ in range(3)]
    for public_id in ids:
        _age(app, public_id, 120)
    start(client)
    states = [attempt_row(app, i) for i in ids]
    closed = [r for r in states if r.state == "denied"]
    assert len(closed) == 2 and all(r.reason == "timeout" and r.finished_at is not None for r in closed)
    assert all(r.progress["prev_signature"] is None for r in closed)


@pytest.mark.parametrize("app_config", [{"SWEEP_BATCH": 0}])
def test_flask_attempts_sweep_closes_every_expired_attempt(app: Flask, client: FlaskClient) -> None:
    ids = [start(client).get_json()["attempt_id"] for _ in range(3)]
    running = start(client).get_json()["attempt_id"]
    for public_id in ids:
        _age(app, public_id, 120)
    result = app.test_cli_runner().invoke(args=["attempts", "sweep"])
    assert result.exit_code == 0, result.output
    assert "closed 3 expired attempts" in result.output
    assert [attempt_row(app, i).reason for i in ids] == ["timeout"] * 3
    assert attempt_row(app, running).state == "collecting"
    # An expired attempt closed by the sweeper answers frames like one closed on first touch.
    r = client.post(f"/api/v1/login/{ids[0]}/frames")
    assert r.status_code == 410
