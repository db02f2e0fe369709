"""Admin pages: password sign-in, the dashboard, users and enrollment, attempts (filter, CSV),
the audit log and API tokens.

Pages render server-side; actions that need the camera or file uploads call the admin JSON
API from JavaScript with the session's CSRF token (webapp/static/js/admin.js).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.accounts.enrollment import good_needed
from webapp.accounts.overview import user_rows
from webapp.accounts.security import (
    check_csrf,
    client_address,
    csrf_token,
    end_session,
    hash_password,
    issue_api_token,
    needs_rehash,
    start_session,
    verify_password,
)
from webapp.accounts.users import create_user, find_user
from webapp.db.audit import audit
from webapp.db.extensions import db
from webapp.db.models import STATE_COLLECTING, STATE_DENIED, STATE_GRANTED, ApiToken, AuditEvent, Consent, FaceTemplate, User, utcnow
from webapp.errors import ApiError, Locked, RateLimited, UnknownAttempt
from webapp.login.attempts import get_attempt
from webapp.login.device import device_id
from webapp.login.stats import AttemptFilter, filtered_attempts, known_reasons
from webapp.login.throttle import active_locks, check_password_login
from webapp.login.throttle import clear_locks as clear
from webapp.settings import settings
from webapp.web.dashboard import dashboard_charts
from webapp.web.redirects import next_or, safe_next
from webapp.web.serializers import attempt_json
from webapp.web.texts import page_texts

bp = Blueprint("admin", __name__, url_prefix="/admin")
F = TypeVar("F", bound=Callable[..., Any])


def admin_page(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("admin.login", next=request.path))
        if not current_user.is_admin_session:
            abort(403, "Admin pages need an administrator signed in with the admin password.")
        if request.method == "POST":
            check_csrf()
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


@bp.context_processor
def _inject() -> dict[str, Any]:
    return {"csrf_token": csrf_token}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        return render_template("admin/login.html", next=safe_next(request.args.get("next")) or "")
    check_csrf()
    username = (request.form.get("username") or "").strip().lower()
    password = request.form.get("password") or ""
    addr = client_address()
    device = device_id()
    try:
        check_password_login(username[:64], addr, device, utcnow(), settings().throttle)
    except (Locked, RateLimited) as exc:
        audit(exc.error, subject=username[:64], client_addr=addr, retry_after=exc.retry_after, method="password", device=device)
        db.session.commit()
        resp = make_response(render_template("admin/login.html", error=exc.description, next=""), exc.code)
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if not verify_password(user.password_hash if user else None, password) or user is None or not user.is_admin:
        audit("admin_login_failed", subject=username[:64], client_addr=addr, device=device)
        db.session.commit()
        return render_template("admin/login.html", error="Wrong username or password.", next=request.form.get("next", "")), 401
    if needs_rehash(user.password_hash):  # an scrypt hash from before argon2id: upgrade it now
        user.password_hash = hash_password(password)
        audit("password_rehashed", subject=username, actor=username, client_addr=addr)
    audit("admin_login", subject=username, actor=username, client_addr=addr, device=device)
    start_session(user, "password", addr)
    return redirect(next_or(request.form.get("next"), url_for("admin.users")))


@bp.post("/logout")
def logout() -> Response:
    check_csrf()
    end_session()
    return redirect(url_for("admin.login"))


@bp.get("/")
@admin_page
def users() -> str:
    search = (request.args.get("q") or "").strip()[:64]
    return render_template(
        "admin/users.html",
        rows=user_rows(search),
        search=search,
        min_faces=settings().enroll.min_faces,
        locks=active_locks(utcnow(), settings().throttle),
    )


@bp.get("/dashboard")
@admin_page
def dashboard() -> str:
    return render_template("admin/dashboard.html", charts=dashboard_charts())


@bp.get("/audit")
@admin_page
def audit_log() -> str:
    kind = (request.args.get("kind") or "").strip()[:32]
    subject = (request.args.get("subject") or "").strip().lower()[:64]
    query = sa.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(500)
    if kind:
        query = query.where(AuditEvent.kind == kind)
    if subject:
        query = query.where(AuditEvent.subject == subject)
    kinds = sorted(db.session.scalars(sa.select(AuditEvent.kind).distinct()))
    return render_template("admin/audit.html", events=db.session.scalars(query).all(), kinds=kinds, kind=kind, subject=subject)


def _token_rows() -> list[Any]:
    query = sa.select(ApiToken, User.username).join(User, ApiToken.user_id == User.id).order_by(ApiToken.created_at.desc())
    return list(db.session.execute(query).all())


@bp.get("/tokens")
@admin_page
def tokens() -> str:
    rows = db.session.execute(
        sa.select(ApiToken, User.username).join(User, ApiToken.user_id == User.id).order_by(ApiToken.created_at.desc())
    ).all()
    return render_template("admin/tokens.html", tokens=rows, new_token=None)


@bp.post("/tokens")
@admin_page
def create_token() -> str:
    label = (request.form.get("label") or "").strip()[:128] or "web"
    admin = current_user.user
    token = issue_api_token(admin, label)
    audit("token_created", subject=admin.username, actor=admin.username, client_addr=client_address(), label=label)
    db.session.commit()
    rows = db.session.execute(
        sa.select(ApiToken, User.username).join(User, ApiToken.user_id == User.id).order_by(ApiToken.created_at.desc())
    ).all()
    # Shown once, in this response only: the database keeps its hash.
    return render_template("admin/tokens.html", tokens=rows, new_token=token)


@bp.post("/tokens/<int:token_id>/revoke")
@admin_page
def revoke_token(token_id: int) -> Response:
    row = db.session.get(ApiToken, token_id)
    if row is None:
        abort(404)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        owner = db.session.get(User, row.user_id)
        audit(
            "token_revoked",
            subject=owner.username if owner else None,
            actor=current_user.user.username,
            client_addr=client_address(),
            prefix=row.prefix,
        )
        db.session.commit()
        flash(f"Revoked token {row.prefix}…", "info")
    return redirect(url_for("admin.tokens"))


@bp.post("/locks/<username>/clear")
@admin_page
def clear_locks(username: str) -> Response:
    name = username.strip().lower()[:64]
    clear(name, actor=current_user.user.username, client_addr=client_address())
    db.session.commit()
    flash(f"Cleared the sign-in locks on {name}.", "info")
    return redirect(url_for("admin.users"))


@bp.post("/users")
@admin_page
def create() -> Response:
    try:
        user = create_user(request.form.get("username"), request.form.get("display_name"))
    except ApiError as exc:
        flash(exc.description or "Could not create the user.", "error")
        return redirect(url_for("admin.users"))
    audit("user_created", actor=current_user.user.username, subject=user.username, client_addr=client_address())
    db.session.commit()
    flash(f"Created {user.username}. Now enroll their face.", "info")
    return redirect(url_for("admin.user", username=user.username))


@bp.get("/users/<username>")
@admin_page
def user(username: str) -> str:
    try:
        account = find_user(username)
    except ApiError:
        abort(404)
    templates = db.session.scalars(
        sa.select(FaceTemplate).where(FaceTemplate.user_id == account.id).order_by(FaceTemplate.created_at)
    ).all()
    consents = db.session.scalars(sa.select(Consent).where(Consent.user_id == account.id).order_by(Consent.given_at)).all()
    min_faces = settings().enroll.min_faces
    return render_template(
        "admin/user.html",
        account=account,
        templates=templates,
        needed=good_needed(len(templates), min_faces),  # good images the next enrollment needs
        capture=max(5, min_faces),  # webcam frames taken per capture
        min_faces=min_faces,
        texts=page_texts(),
        consent_text=settings().consent_text,
        consents=consents,
    )


def _attempt_filter() -> AttemptFilter:
    """The attempts page's query string; a malformed date is ignored, with a flash message."""

    def day(name: str) -> date | None:
        raw = (request.args.get(name) or "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            flash(f"Ignored the {name} date {raw[:20]!r}: use YYYY-MM-DD.", "error")
            return None

    since, until = day("since"), day("until")
    state = (request.args.get("state") or "").strip()
    return AttemptFilter(
        username=(request.args.get("username") or "").strip()[:64],
        state=state if state in (STATE_GRANTED, STATE_DENIED, STATE_COLLECTING) else "",
        reason=(request.args.get("reason") or "").strip()[:32],
        since=datetime.combine(since, time()) if since else None,
        until=datetime.combine(until + timedelta(days=1), time()) if until else None,  # inclusive day
    )


@bp.get("/attempts")
@admin_page
def attempts() -> str:
    f = _attempt_filter()
    rows = [attempt_json(a) for a in filtered_attempts(f, 200)]
    return render_template("admin/attempts.html", attempts=rows, f=f, args=request.args, reasons=known_reasons())


_CSV_COLUMNS = ("time", "finished_at", "username", "known_user", "client_addr", "challenge", "decision", "reason", "detail", "frames")
_CSV_SCORES = ("face_frames", "matched_frames", "best_distance", "live_mean", "live_frames", "steps_done")


@bp.get("/attempts.csv")
@admin_page
def attempts_csv() -> Response:
    """The filtered attempts (up to 10,000) as CSV, one row per attempt, no frame log."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*_CSV_COLUMNS, *_CSV_SCORES])
    for a in filtered_attempts(_attempt_filter(), 10_000):
        row = attempt_json(a)
        scores = row["scores"] or {}
        values = [" ".join(row["challenge"]) if k == "challenge" else row[k] for k in _CSV_COLUMNS]
        values += [" ".join(scores.get(k) or []) if k == "steps_done" else scores.get(k) for k in _CSV_SCORES]
        writer.writerow(["" if v is None else _csv_safe(v) for v in values])
    return Response(out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": "attachment; filename=attempts.csv"})


def _csv_safe(value: Any) -> Any:
    """Cells a spreadsheet would run as a formula (=, +, -, @) are quoted: usernames and
    details come from the public (OWASP CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@bp.get("/attempts/<attempt_id>")
@admin_page
def attempt(attempt_id: str) -> str:
    try:
        row = get_attempt(attempt_id)
    except UnknownAttempt:
        abort(404)
    return render_template("admin/attempt.html", attempt=attempt_json(row, frames=True))
