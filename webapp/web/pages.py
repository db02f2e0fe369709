"""End-user pages: the login page and the protected account page."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from webapp.settings import settings
from webapp.web.texts import page_texts

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for("pages.account"))
    return redirect(url_for("pages.login"))


@bp.get("/login")
def login() -> str:
    cfg = settings()
    return render_template(
        "login.html",
        frame_width=480,
        jpeg_quality=0.85,
        default_interval=cfg.attempts.frame_interval_ms,
        texts=page_texts(),
        language=cfg.ui_language,
    )


@bp.get("/account")
@login_required
def account() -> str:
    # login_required sends anyone without a live server-side session to /login: the only way
    # to get one as an end user is a granted login attempt.
    return render_template("account.html", principal=current_user)
