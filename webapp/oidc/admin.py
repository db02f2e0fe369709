"""Admin pages for OpenID Connect clients: list, register, rotate a secret, delete.

Same rules as the other admin pages (``webapp/web/admin.py``): an administrator signed in
with the admin password, CSRF token on every form, each action audited with its commit.
A new secret is shown once, on the page that answers the form.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.accounts.security import client_address, csrf_token
from webapp.db.audit import audit
from webapp.db.extensions import db
from webapp.errors import ApiError
from webapp.oidc.clients import SCOPES, add_client, delete_client, find_client, list_clients, rotate_secret
from webapp.web.admin import admin_page

bp = Blueprint("oidc_admin", __name__, url_prefix="/admin/clients")


@bp.context_processor
def _inject() -> dict[str, object]:
    return {"csrf_token": csrf_token}


def _lines(field: str) -> list[str]:
    return [line.strip() for line in (request.form.get(field) or "").splitlines() if line.strip()]


@bp.get("/")
@admin_page
def clients() -> str:
    return render_template("admin/clients.html", clients=list_clients(), scopes=SCOPES)


@bp.post("/")
@admin_page
def create() -> Response | str:
    try:
        reg = add_client(
            request.form.get("client_id", ""),
            name=request.form.get("name") or None,
            redirect_uris=_lines("redirect_uris"),
            post_logout_redirect_uris=_lines("post_logout_redirect_uris"),
            scopes=request.form.getlist("scopes"),
            public=request.form.get("public") == "on",
            skip_consent=request.form.get("skip_consent") == "on",
        )
    except ApiError as exc:
        flash(exc.description or "Could not register the client.", "error")
        return redirect(url_for("oidc_admin.clients"))
    c = reg.client
    audit("oidc_client_added", actor=current_user.user.username, client_addr=client_address(), client_id=c.client_id, public=c.is_public)
    db.session.commit()
    return render_template("admin/client_secret.html", client=c, secret=reg.secret)


@bp.post("/<client_id>/secret")
@admin_page
def rotate(client_id: str) -> Response | str:
    try:
        client = find_client(client_id)
        secret = rotate_secret(client)
    except ApiError as exc:
        flash(exc.description or "Could not rotate the secret.", "error")
        return redirect(url_for("oidc_admin.clients"))
    audit("oidc_secret_rotated", actor=current_user.user.username, client_addr=client_address(), client_id=client.client_id)
    db.session.commit()
    return render_template("admin/client_secret.html", client=client, secret=secret)


@bp.post("/<client_id>/delete")
@admin_page
def delete(client_id: str) -> Response:
    try:
        client = find_client(client_id)
    except ApiError as exc:
        flash(exc.description or "No such client.", "error")
        return redirect(url_for("oidc_admin.clients"))
    delete_client(client)
    audit("oidc_client_deleted", actor=current_user.user.username, client_addr=client_address(), client_id=client_id)
    db.session.commit()
    flash(f"Deleted {client_id}.", "info")
    return redirect(url_for("oidc_admin.clients"))
