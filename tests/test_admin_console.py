"""The admin console: dashboard charts (server-side SVG, nothing from elsewhere), the users
table (search, lock status, last sign-in, few-faces warning), attempts filter and CSV export,
the audit log and API tokens in the UI; and the CLI's `users add` without a face."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import create_admin, csrf_of
from tests.test_pages import admin_login
from webapp.db.extensions import db
from webapp.db.models import ApiToken, FaceTemplate, LoginAttempt, User, UserSession, utcnow
from webapp.web import charts


def _attempt(
    app: Flask, public_id: str, username: str, state: str, reason: str | None, ago: timedelta, face_frames: int = 0, **scores: Any
) -> None:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == username))
        at = utcnow() - ago
        db.session.add(
            LoginAttempt(
                public_id=public_id,
                username=username,
                user_id=user.id if user else None,
                client_addr="198.51.100.9",
                challenge=["blink", "turn_left"],
                state=state,
                reason=reason,
                detail=f"{reason or 'ok'} detail",
                created_at=at,
                expires_at=at + timedelta(seconds=60),
                finished_at=at + timedelta(seconds=10),
                scores=scores,
                face_frames=face_frames,
            )
        )
        db.session.commit()


@pytest.fixture
def console(app: Flask, client: FlaskClient, runner: Any) -> FlaskClient:
    """An admin signed in, users alice (1 face) and bob (3 faces), and a few attempts."""
    create_admin(runner)
    with app.app_context():
        for name, faces in (("alice", 1), ("bob", 3)):
            user = User(username=name, display_name=name.title(), role="user")
            db.session.add(user)
            db.session.flush()
            for q in range(faces):
                db.session.add(FaceTemplate(user_id=user.id, encoding=b"\0" * 1024, encoding_model="m", source="cli", quality=0.5 + q / 10))
        bob = db.session.scalar(sa.select(User).where(User.username == "bob"))
        assert bob is not None
        db.session.add(UserSession(token_hash="x" * 64, user_id=bob.id, method="face", expires_at=utcnow() + timedelta(hours=1)))
        db.session.commit()
    _attempt(app, "g1", "bob", "granted", None, timedelta(hours=2), live_mean=0.91, best_distance=0.31)
    _attempt(app, "d1", "alice", "denied", "spoof", timedelta(hours=1), live_mean=0.2, best_distance=0.35)
    _attempt(app, "d2", "=cmd|' /C calc'!A0", "denied", "no_match", timedelta(days=3), best_distance=0.8)
    assert admin_login(client).status_code == 302
    return client


def test_dashboard_draws_every_chart_inline(console: FlaskClient) -> None:
    page = console.get("/admin/dashboard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('<svg class="chart"') == 5
    for title in ("Attempts over time", "Mean live score", "Identity distance", "Mean enrollment quality", "Liveness validation"):
        assert f"<title>{title}" in html
    assert "denied: spoof" in html and "denied: no_match" in html  # by decision and reason
    assert "threshold" in html and "match 0.5" in html and "mismatch 0.6" in html  # thresholds marked
    assert not re.search(r'(src|href)="https?://', html)  # nothing from a CDN
    assert "<script" not in html.split("<main>")[1]  # no chart library at all


def test_users_table_search_lock_last_sign_in_and_warning(app: Flask, console: FlaskClient) -> None:
    html = console.get("/admin/").get_data(as_text=True)
    alice_row = re.search(r"<tr>\s*<td><a href=\"/admin/users/alice\">.*?</tr>", html, re.S)
    bob_row = re.search(r"<tr>\s*<td><a href=\"/admin/users/bob\">.*?</tr>", html, re.S)
    assert alice_row and bob_row
    assert "needs 3" in alice_row.group(0) and "needs 3" not in bob_row.group(0)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", bob_row.group(0).split("</td>")[6])  # last sign-in
    found = console.get("/admin/?q=BO").get_data(as_text=True)
    assert "/admin/users/bob" in found and "/admin/users/alice" not in found
    assert "No user matches" in console.get("/admin/?q=zzz").get_data(as_text=True)
    assert "has 1 enrolled face" in console.get("/admin/users/alice").get_data(as_text=True)
    assert 'id="faces-warning"' not in console.get("/admin/users/bob").get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"LOCKOUT_THRESHOLD": 1, "LOCKOUT_SECONDS": 600}])
def test_users_table_shows_a_lock(app: Flask, console: FlaskClient) -> None:
    # A failure that judged a face (login/throttle.py: attempts that saw none do not count).
    _attempt(app, "d3", "alice", "denied", "spoof", timedelta(seconds=20), face_frames=5)
    html = console.get("/admin/").get_data(as_text=True)
    alice_row = re.search(r"<tr>\s*<td><a href=\"/admin/users/alice\">.*?</tr>", html, re.S)
    assert alice_row is not None
    assert "locked, 9 min" in alice_row.group(0), alice_row.group(0)
    bob_row = re.search(r"<tr>\s*<td><a href=\"/admin/users/bob\">.*?</tr>", html, re.S)
    assert bob_row and "locked" not in bob_row.group(0)


def test_attempts_filter_by_reason_state_and_date(console: FlaskClient) -> None:
    def ids(query: str) -> set[str]:
        html = console.get(f"/admin/attempts{query}").get_data(as_text=True)
        return set(re.findall(r'href="/admin/attempts/([^"]+)"', html))

    assert ids("") == {"g1", "d1", "d2"}
    assert ids("?reason=spoof") == {"d1"}
    assert ids("?state=granted") == {"g1"}
    today = utcnow().date().isoformat()
    assert ids(f"?since={today}") <= {"g1", "d1"} and "d2" not in ids(f"?since={today}")
    assert ids(f"?until={(utcnow() - timedelta(days=2)).date().isoformat()}") == {"d2"}
    bad = console.get("/admin/attempts?since=yesterday")
    assert bad.status_code == 200 and "Ignored the since date" in bad.get_data(as_text=True)


def test_attempts_csv_export_follows_the_filter_and_defuses_formulas(console: FlaskClient) -> None:
    r = console.get("/admin/attempts.csv?state=denied")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert {row["reason"] for row in rows} == {"spoof", "no_match"}
    assert {row["live_mean"] for row in rows if row["reason"] == "spoof"} == {"0.2"}
    evil = next(row for row in rows if row["reason"] == "no_match")
    assert evil["username"].startswith("'=")  # a spreadsheet shows it, never runs it


def test_tokens_created_listed_and_revoked_in_the_ui(app: Flask, console: FlaskClient) -> None:
    page = console.get("/admin/tokens")
    assert page.status_code == 200 and "No tokens yet" in page.get_data(as_text=True)
    r = console.post("/admin/tokens", data={"label": "backup", "csrf_token": csrf_of(page.data)})
    html = r.get_data(as_text=True)
    token = re.search(r"<pre><code>(lg_[^<]+)</code></pre>", html)
    assert r.status_code == 200 and token and "backup" in html
    assert console.get("/api/v1/admin/users", headers={"Authorization": f"Bearer {token.group(1)}"}).status_code == 200
    listed = console.get("/admin/tokens").get_data(as_text=True)
    assert token.group(1) not in listed  # shown once only
    with app.app_context():
        row = db.session.scalar(sa.select(ApiToken))
        assert row is not None
        token_id = row.id
    r = console.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(console.get("/admin/tokens").data)})
    assert r.status_code == 302
    assert console.get("/api/v1/admin/users", headers={"Authorization": f"Bearer {token.group(1)}"}).status_code == 401
    assert "revoked" in console.get("/admin/tokens").get_data(as_text=True)
    assert console.post("/admin/tokens/999/revoke", data={"csrf_token": csrf_of(console.get("/admin/tokens").data)}).status_code == 404
    assert console.post("/admin/tokens", data={"label": "x"}).status_code == 403  # CSRF
    audit = console.get("/admin/audit?kind=token_revoked").get_data(as_text=True)
    assert "token_revoked" in audit and "token_created" not in audit.split("<tbody>")[1]


def test_audit_log_lists_admin_events(console: FlaskClient) -> None:
    html = console.get("/admin/audit").get_data(as_text=True)
    assert "admin_login" in html and "admin_created" in html
    assert "admin_login" not in console.get("/admin/audit?subject=nobody").get_data(as_text=True).split("<tbody>")[1]


def test_console_pages_need_an_admin(client: FlaskClient) -> None:
    for path in ("/admin/dashboard", "/admin/audit", "/admin/tokens", "/admin/attempts.csv"):
        r = client.get(path)
        assert r.status_code == 302 and r.headers["Location"].startswith("/admin/login"), path


def test_charts_escape_labels_and_keep_counts() -> None:
    svg = charts.stacked_bars("t<", ["a", "b"], {"<script>": [1, 2], "ok": [0, 3]})
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "a: 1" in svg and "b: 5" in svg  # per-bucket totals in the description
    hist = charts.histograms("h", {"g": [0.1, 0.1, 0.9]}, 0.0, 1.0, 10, [(0.5, "thr")], "x")
    assert "g (3)" in hist and "thr 0.5" in hist


def test_users_add_without_a_face_refuses_unless_asked(client: FlaskClient, runner: Any) -> None:
    refused = runner.invoke(args=["users", "add", "frank", "--display-name", "Frank"])
    assert refused.exit_code == 1
    assert "no --face given: enroll at least 3 photos" in refused.output and "--no-face" in refused.output
    assert runner.invoke(args=["users", "list"]).output.count("frank") == 0
    result = runner.invoke(args=["users", "add", "frank", "--display-name", "Frank", "--no-face"])
    assert result.exit_code == 0
    assert "created frank with no face enrolled: they cannot sign in yet" in result.output
    assert "flask users enroll frank --face PHOTO (at least 3 photos)" in result.output
    both = runner.invoke(args=["users", "add", "gina", "--display-name", "Gina", "--no-face", "--face", __file__])
    assert both.exit_code == 1 and "not both" in both.output
    # The admin pages flag the account that cannot sign in.
    create_admin(runner)
    assert admin_login(client).status_code == 302
    assert "⚠ not enrolled" in client.get("/admin/").get_data(as_text=True)
    assert 'id="faces-warning"' in client.get("/admin/users/frank").get_data(as_text=True)
