"""Admin pages: password sign-in, users and enrollment, the attempts audit table.

Pages render server-side; actions that need the camera or file uploads call the admin JSON
API from JavaScript with the session's CSRF token (webapp/static/js/admin.js).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.accounts.security import (
    check_csrf,
    client_address,
    csrf_token,
    end_session,
    hash_password,
    needs_rehash,
    start_session,
    verify_password,
)
from webapp.accounts.users import create_user, find_user, users_with_counts
from webapp.db.audit import audit
from webapp.db.extensions import db
from webapp.db.models import Consent, FaceTemplate, User, utcnow
from webapp.errors import ApiError, Locked, RateLimited, UnknownAttempt
from webapp.login.attempts import get_attempt, recent_attempts
from webapp.login.device import device_id
from webapp.login.throttle import active_locks, check_password_login
from webapp.login.throttle import clear_locks as clear
from webapp.settings import settings
from webapp.web.redirects import next_or, safe_next
from webapp.web.serializers import attempt_json

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
    return render_template("admin/users.html", users=users_with_counts(), locks=active_locks(utcnow(), settings().throttle))


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
    return render_template(
        "admin/user.html",
        account=account,
        templates=templates,
        min_frames=settings().enroll.min_webcam_frames,
        consent_text=settings().consent_text,
        consents=consents,
    )


@bp.get("/attempts")
@admin_page
def attempts() -> str:
    username = (request.args.get("username") or "").strip().lower()
    rows = [attempt_json(a) for a in recent_attempts(200, username)]
    return render_template("admin/attempts.html", attempts=rows, username=username)


@bp.get("/attempts/<attempt_id>")
@admin_page
def attempt(attempt_id: str) -> str:
    try:
        row = get_attempt(attempt_id)
    except UnknownAttempt:
        abort(404)
    return render_template("admin/attempt.html", attempt=attempt_json(row, frames=True))
