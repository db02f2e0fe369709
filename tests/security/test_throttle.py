"""Throttling an attacker cannot turn against a user (issue 11, item 1).

The outside test's scenario: five ``login/start`` with the victim's username and no frames,
then a wait, locked the victim out for 15 minutes. Now an attempt that never judged a face is
not a failed authentication, failures lock only the client (address + device cookie) that made
them, and the account-wide rule slows unknown devices instead of locking anyone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import ADMIN_PASSWORD, admin_token, auth, create_admin, csrf_of, start
from webapp.db.extensions import db
from webapp.db.models import STATE_DENIED, STATE_GRANTED, AuditEvent, LoginAttempt
from webapp.login.throttle import Outcome, judge
from webapp.settings import ThrottleSettings

CFG = ThrottleSettings(
    lockout_threshold=5,
    lockout_seconds=900,
    rate_limit_attempts=30,
    rate_limit_window_seconds=300,
    account_slowdown_after=20,
    account_slowdown_base_seconds=2,
    account_slowdown_max_seconds=300,
    account_failure_window_seconds=3600,
    rate_limit_frames="",
    rate_limit_admin_login="",
    storage_uri="memory://",
    device_cookie_name="livegate_device",
    device_cookie_days=365,
)
NOW = datetime(2026, 12, 1, 12, 0, 0)


def fails(n: int, addr: str = "10.0.0.66", device: str | None = "attacker", start_s: int = 10) -> list[Outcome]:
    return [Outcome(NOW - timedelta(seconds=start_s + i), True, addr, device) for i in range(n)]


# --- the rules ---------------------------------------------------------------------------


def test_five_failures_lock_only_the_client_that_made_them() -> None:
    history = fails(5)
    attacker = judge(history, "10.0.0.66", "attacker", False, NOW, CFG)
    assert attacker.client_failures == 5
    assert attacker.client_locked_until == NOW - timedelta(seconds=10) + timedelta(seconds=900)
    # the owner: another address and device, or the same address (a shared NAT) with their own cookie
    for addr, device in (("192.0.2.7", "owner"), ("10.0.0.66", "owner")):
        owner = judge(history, addr, device, False, NOW, CFG)
        assert (owner.client_failures, owner.client_locked_until, owner.account_wait_until) == (0, None, None)


def test_a_success_from_the_client_ends_its_streak() -> None:
    history = [*fails(3), Outcome(NOW - timedelta(seconds=100), False, "10.0.0.66", "attacker"), *fails(9, start_s=200)]
    assert judge(history, "10.0.0.66", "attacker", False, NOW, CFG).client_failures == 3


def test_the_lock_lifts_after_lockout_seconds() -> None:
    history = fails(5, start_s=901)
    assert judge(history, "10.0.0.66", "attacker", False, NOW, CFG).client_locked_until is None


def test_account_wide_failures_slow_unknown_devices_with_a_growing_delay_and_spare_known_ones() -> None:
    # A botnet: one failure per device, never enough to lock any one client.
    def spread(n: int) -> list[Outcome]:
        return [Outcome(NOW - timedelta(seconds=1), True, f"10.1.{i // 250}.{i % 250}", f"dev{i}") for i in range(n)]

    assert judge(spread(19), "192.0.2.7", "new", False, NOW, CFG).account_wait_until is None
    waits = [judge(spread(n), "192.0.2.7", "new", False, NOW, CFG).account_wait_until for n in (20, 21, 22, 25, 40)]
    delays = [(w - (NOW - timedelta(seconds=1))).total_seconds() for w in waits if w is not None]
    assert delays == [2, 4, 8, 64, 300]  # doubling, capped at ACCOUNT_SLOWDOWN_MAX_SECONDS
    # The owner's device that signed in before is never slowed; nobody is locked.
    owner = judge(spread(40), "192.0.2.7", "owner", True, NOW, CFG)
    assert (owner.account_wait_until, owner.client_locked_until) == (None, None)


# --- the outside test's scenario ---------------------------------------------------------


def _move_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    from webapp.db import clock

    later = clock.utcnow() + timedelta(seconds=seconds)
    monkeypatch.setattr(clock, "utcnow", lambda: later)


def _add_victim(app: Flask) -> None:
    from webapp.accounts.users import create_user

    with app.app_context():
        create_user("victim", "Victim")
        db.session.commit()


def test_five_empty_starts_with_the_victims_name_lock_nobody(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    _add_victim(app)
    owner = app.test_client()
    assert start(owner, "victim").status_code == 201  # the owner's browser has its device cookie
    assert owner.get_cookie("livegate_device") is not None
    attacker = app.test_client()
    for _ in range(5):
        assert start(attacker, "victim").status_code == 201
    _move_clock(monkeypatch, 61)  # every attempt expired without a frame
    assert start(owner, "victim").status_code == 201
    assert start(app.test_client(), "victim").status_code == 201  # nor any new device
    assert start(attacker, "victim").status_code == 201  # the empty starts were not failures
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.kind == "locked")) == 0


def _failed_attempts(app: Flask, username: str, client: FlaskClient, n: int) -> None:
    """n finished attempts of ``client`` on ``username`` that judged a face and were denied."""
    for _ in range(n):
        attempt_id = start(client, username).get_json()["attempt_id"]
        with app.app_context():
            row = db.session.scalar(sa.select(LoginAttempt).where(LoginAttempt.public_id == attempt_id))
            row.state, row.reason, row.face_frames, row.finished_at = STATE_DENIED, "no_match", 4, row.created_at
            db.session.commit()


def test_face_failures_lock_the_attackers_device_and_not_the_owners(app: Flask) -> None:
    _add_victim(app)
    owner, attacker = app.test_client(), app.test_client()
    start(owner, "victim")
    _failed_attempts(app, "victim", attacker, 5)
    r = start(attacker, "victim")
    assert (r.status_code, r.get_json()["error"]) == (423, "locked")
    assert 1 <= int(r.headers["Retry-After"]) <= 900
    assert start(owner, "victim").status_code == 201
    # Dropping the cookie does not help the attacker much: a new device starts a new count,
    # but the account-wide rule and the per-address start rate still apply.
    assert start(app.test_client(), "victim").status_code == 201


@pytest.mark.parametrize("app_config", [{"ACCOUNT_SLOWDOWN_AFTER": 6, "LOCKOUT_THRESHOLD": 5}])
def test_cookie_cycling_slows_the_account_for_new_devices_only(app: Flask) -> None:
    _add_victim(app)
    owner = app.test_client()
    attempt_id = start(owner, "victim").get_json()["attempt_id"]
    with app.app_context():  # the owner signed in from this browser once
        row = db.session.scalar(sa.select(LoginAttempt).where(LoginAttempt.public_id == attempt_id))
        row.state, row.face_frames, row.finished_at = STATE_GRANTED, 5, row.created_at
        db.session.commit()
    for _ in range(6):  # each failure from a fresh device: no client reaches the lockout
        _failed_attempts(app, "victim", app.test_client(), 1)
    r = start(app.test_client(), "victim")
    assert (r.status_code, r.get_json()["error"]) == (429, "rate_limited")
    assert 1 <= int(r.headers["Retry-After"]) <= 300
    assert start(owner, "victim").status_code == 201


@pytest.mark.parametrize("app_config", [{"RATE_LIMIT_ATTEMPTS": 3, "RATE_LIMIT_WINDOW_SECONDS": 60}])
def test_starts_count_against_the_client_address(app: Flask) -> None:
    client = app.test_client()
    assert [start(client, f"user{i}").status_code for i in range(3)] == [201] * 3
    r = start(client, "user9")
    assert (r.status_code, r.get_json()["error"]) == (429, "rate_limited")
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    # another address is not affected
    r = app.test_client().post("/api/v1/login/start", json={"username": "x"}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert r.status_code == 201
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.kind == "rate_limited"))
        assert event is not None and event.subject == "user9" and event.detail["endpoint"] == "api.login_start"


# --- admin password ----------------------------------------------------------------------


def _password_post(client: FlaskClient, password: str, username: str = "root") -> Any:
    token = csrf_of(client.get("/admin/login").data)
    return client.post("/admin/login", data={"username": username, "password": password, "csrf_token": token})


def test_wrong_admin_passwords_lock_the_guesser_not_the_admin(app: Flask) -> None:
    create_admin(app.test_cli_runner())
    attacker = app.test_client()
    assert [_password_post(attacker, "wrong password!").status_code for _ in range(5)] == [401] * 5
    r = _password_post(attacker, ADMIN_PASSWORD)
    assert r.status_code == 423 and 1 <= int(r.headers["Retry-After"]) <= 900  # even the right one
    admin = app.test_client()
    r = _password_post(admin, ADMIN_PASSWORD)
    assert r.status_code == 302, r.data[:300]


# --- admin view and clearing -------------------------------------------------------------


def test_locks_are_listed_and_cleared_by_cli_and_api(app: Flask) -> None:
    _add_victim(app)
    attacker = app.test_client()
    _failed_attempts(app, "victim", attacker, 5)
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["locks", "list"])
    assert listed.exit_code == 0 and "victim\tface\tclient\t127.0.0.1" in listed.output
    token = admin_token(runner)
    api = app.test_client()
    locks = api.get("/api/v1/admin/locks", headers=auth(token)).get_json()["locks"]
    assert [(x["username"], x["scope"], x["failures"]) for x in locks] == [("victim", "client", 5)]
    assert start(attacker, "victim").status_code == 423
    assert api.delete("/api/v1/admin/locks/victim", headers=auth(token)).status_code == 204
    assert api.get("/api/v1/admin/locks", headers=auth(token)).get_json()["locks"] == []
    assert start(attacker, "victim").status_code == 201
    _failed_attempts(app, "victim", attacker, 5)
    assert start(attacker, "victim").status_code == 423
    cleared = runner.invoke(args=["locks", "clear", "victim"])
    assert cleared.exit_code == 0, cleared.output
    assert runner.invoke(args=["locks", "list"]).output.strip() == "no locks"
    assert start(attacker, "victim").status_code == 201
    with app.app_context():
        actors = db.session.scalars(sa.select(AuditEvent.actor).where(AuditEvent.kind == "locks_cleared")).all()
        assert actors == ["root", "cli"]
    assert api.get("/api/v1/admin/locks").status_code == 401


# --- end to end, with real faces (slow: dlib) --------------------------------------------


def _send(client: FlaskClient, attempt_id: str, frames: list[bytes]) -> dict[str, Any]:
    from tests.support.api import post_frame

    body: dict[str, Any] = {}
    for seq, data in enumerate(frames, 1):
        body = post_frame(client, attempt_id, data, seq).get_json()
        if body.get("state") != "collecting":
            break
    return body


@pytest.mark.slow
def test_outside_scenario_leaves_the_owner_able_to_sign_in(app: Flask, alice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Five empty starts with alice's name and a 61 s wait, then five real failures (another
    face) from the attacker's browser: alice, on her own browser, still signs in."""
    from tests.support.api import follow_prompts
    from tests.support.frames import jittered_frames

    owner, attacker = app.test_client(), app.test_client()
    for _ in range(5):
        assert start(attacker, "alice").status_code == 201
    _move_clock(monkeypatch, 61)
    for i in range(5):
        attempt_id = start(attacker, "alice").get_json()["attempt_id"]
        _send(attacker, attempt_id, jittered_frames(2, photo="biden.jpg", seed=40 + 10 * i))
    _move_clock(monkeypatch, 61 + 61)  # the attacker's attempts expire with faces judged: failures
    r = start(attacker, "alice")
    assert (r.status_code, r.get_json()["error"]) == (423, "locked")
    body = start(owner, "alice").get_json()
    with monkeypatch.context() as m:
        follow_prompts(m, body["challenge"]["steps"])
        assert _send(owner, body["attempt_id"], jittered_frames(12))["state"] == "granted"


def test_the_admin_page_lists_and_clears_locks(app: Flask) -> None:
    _add_victim(app)
    attacker = app.test_client()
    _failed_attempts(app, "victim", attacker, 5)
    create_admin(app.test_cli_runner())
    admin = app.test_client()
    assert _password_post(admin, ADMIN_PASSWORD).status_code == 302
    page = admin.get("/admin/")
    assert b"No account is locked" not in page.data and b"127.0.0.1" in page.data
    r = admin.post("/admin/locks/victim/clear", data={"csrf_token": csrf_of(page.data)})
    assert r.status_code == 302
    assert b"No account is locked or slowed." in admin.get("/admin/").data
    assert start(attacker, "victim").status_code == 201
    assert admin.post("/admin/locks/victim/clear").status_code == 403  # CSRF token required
    assert b"template of my face" in admin.get("/admin/users/victim").data  # the consent text to show
