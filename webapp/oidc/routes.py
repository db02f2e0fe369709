"""HTTP endpoints of the OpenID Connect provider. Thin: Authlib validates and answers;
``flow`` decides whether the user must (re)do the face login first.

| endpoint | what |
|---|---|
| ``GET /.well-known/openid-configuration`` | discovery document |
| ``GET /oidc/jwks`` | public signing keys (current + recently retired) |
| ``GET /oidc/authorize`` | authorization endpoint (face login, then consent, then code) |
| ``POST /oidc/authorize`` | the consent decision (CSRF-protected form) |
| ``GET /oidc/resume`` | where the login page continues after a grant (fixed route) |
| ``POST /oidc/token`` | code (+ PKCE verifier) for access and ID tokens |
| ``GET/POST /oidc/userinfo`` | the user's claims for a bearer access token |
| ``GET/POST /oidc/logout`` | RP-initiated logout |
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import ConsentRequiredError
from flask import Blueprint, jsonify, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from webapp.accounts.security import CROSS_SITE_ENDPOINTS, check_csrf, client_address, csrf_token
from webapp.db.audit import audit
from webapp.db.extensions import db
from webapp.db.models import utcnow
from webapp.oidc import flow
from webapp.oidc.claims import ACR_VALUES, AMR_VALUES
from webapp.oidc.clients import SCOPES
from webapp.oidc.grants import EndUser
from webapp.oidc.models import AUTH_CONFIDENTIAL, AUTH_PUBLIC
from webapp.oidc.server import authorization_server, issuer, key_cache, published_jwks
from webapp.settings import settings
from webapp.web.headers import allow_form_redirect

bp = Blueprint("oidc", __name__)

# Called by relying parties' back ends and browser apps from other origins: no cookies are
# involved (client credentials or bearer tokens), so the same-origin guard does not apply.
CROSS_SITE_ENDPOINTS.update({"oidc.token", "oidc.userinfo"})

CLAIMS = (
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "at_hash",
    "name",
    "preferred_username",
    "email",
    "email_verified",
)
SCOPE_TEXT = {
    "openid": "know that you are the person signed in (an identifier for your account)",
    "profile": "see your name and username",
    "email": "see your email address",
}


def _public(resp: Response, max_age: int = 60) -> Response:
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Cache-Control"] = f"public, max-age={max_age}"
    return resp


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    base = issuer()
    algs = sorted({k.alg for k in key_cache().ring(utcnow()).keys} | {key_cache().alg})
    doc: dict[str, Any] = {
        "issuer": base,
        "authorization_endpoint": f"{base}/oidc/authorize",
        "token_endpoint": f"{base}/oidc/token",
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "jwks_uri": f"{base}/oidc/jwks",
        "end_session_endpoint": f"{base}/oidc/logout",
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"] + (["refresh_token"] if settings().oidc.refresh_token_seconds else []),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": [*AUTH_CONFIDENTIAL, AUTH_PUBLIC],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(CLAIMS),
        "acr_values_supported": list(ACR_VALUES),
        "amr_values_supported": list(AMR_VALUES),
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }
    return _public(jsonify(doc))


@bp.get("/oidc/jwks")
def jwks() -> Response:
    return _public(jsonify(published_jwks()))


def _max_age() -> int | None:
    raw = request.args.get("max_age")
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise ValueError(raw)
    return int(raw)


def _error(error: OAuth2Error) -> Response | tuple[str, int]:
    """Back to the client only when its redirect URI was validated; otherwise a page here
    (a wrong redirect URI never gets a redirect: that would be an open redirector)."""
    flow.finished()
    if getattr(error, "redirect_uri", None):
        return authorization_server().handle_error_response(None, error)  # type: ignore[no-any-return]
    return render_template("error.html", status=error.status_code, message=error.description or error.error), error.status_code


def _issue(grant: Any, end_user: EndUser | None) -> Response:
    flow.finished()
    return authorization_server().create_authorization_response(grant_user=end_user, grant=grant)  # type: ignore[no-any-return]


@bp.get("/oidc/authorize")
def authorize() -> Response | str | tuple[str, int]:
    server = authorization_server()
    query = request.query_string.decode()
    end_user = flow.face_user()
    prompt = request.args.get("prompt", "")
    try:
        max_age = _max_age()
        bad_max_age = False
    except ValueError:
        max_age, bad_max_age = None, True
    need = flow.login_need(end_user, query, prompt, max_age)
    try:
        grant = server.get_consent_grant(end_user=None if need.needed else end_user)
    except OAuth2Error as error:
        return _error(error)
    state = request.args.get("state")
    if bad_max_age:
        return _error(InvalidRequestError("'max_age' must be a number of seconds.", redirect_uri=grant.redirect_uri, state=state))
    if need.needed:
        flow.remember_pending(query)
        return redirect(url_for("pages.login"))
    assert end_user is not None
    client = grant.client.row
    if client.skip_consent and "consent" not in prompt.split():
        return _issue(grant, end_user)
    if "none" in prompt.split():
        return _error(ConsentRequiredError(redirect_uri=grant.redirect_uri, state=state))
    flow.remember_consent(query)
    scopes = grant.request.scope.split()
    page = render_template(
        "oidc/consent.html",
        client=client,
        scopes=[(s, SCOPE_TEXT[s]) for s in scopes if s in SCOPE_TEXT],
        user=end_user.user,
        csrf_token=csrf_token,
        action=request.full_path,
    )
    # The decision redirects to the client (validated above against its registered URIs).
    return allow_form_redirect(Response(page, mimetype="text/html"), grant.redirect_uri)


@bp.post("/oidc/authorize")
def consent() -> Response | str | tuple[str, int]:
    check_csrf()
    query = request.query_string.decode()
    end_user = flow.face_user()
    if end_user is None or not flow.take_consent(query):
        flow.finished()
        return render_template(
            "error.html", status=400, message="This consent form is no longer valid; start again from the application."
        ), 400
    server = authorization_server()
    try:
        grant = server.get_consent_grant(end_user=end_user)
    except OAuth2Error as error:
        return _error(error)
    allowed = request.form.get("decision") == "allow"
    audit(
        "oidc_consent",
        subject=end_user.user.username,
        client_addr=client_address(),
        client_id=grant.client.get_client_id(),
        allowed=allowed,
    )
    db.session.commit()
    return _issue(grant, end_user if allowed else None)


@bp.get("/oidc/resume")
def resume() -> Response | tuple[str, int]:
    query = flow.resume()
    if query is None:
        return render_template(
            "error.html", status=400, message="No sign-in request is waiting (it may have expired); start again from the application."
        ), 400  # type: ignore[return-value]
    return redirect(f"{url_for('oidc.authorize')}?{query}")


@bp.post("/oidc/token")
def token() -> Response:
    resp: Response = authorization_server().create_token_response()
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@bp.route("/oidc/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    try:
        resp: Response = authorization_server().create_endpoint_response("userinfo")
    except HTTPException as exc:  # the resource protector raises its 401/403 with the OAuth body
        resp = exc.get_response()
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/oidc/logout", methods=["GET", "POST"])
def logout() -> Response | str | tuple[str, int]:
    server = authorization_server()
    try:
        req = server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return render_template("error.html", status=400, message=error.description or error.error), 400
    if request.method == "POST":
        check_csrf()
    elif req.needs_confirmation:  # type: ignore[attr-defined]
        page = render_template(
            "oidc/logout.html", client=req.client.row if req.client else None, csrf_token=csrf_token, action=request.full_path
        )
        # Confirmed, the logout redirects to the post-logout URI the provider validated.
        return allow_form_redirect(Response(page, mimetype="text/html"), getattr(req, "redirect_uri", None))
    resp = server.create_endpoint_response("end_session", req)
    session.pop(flow.PENDING, None)
    return resp or render_template("oidc/logged_out.html")  # type: ignore[no-any-return]


@bp.app_context_processor
def _pending_client() -> dict[str, Any]:
    """``oidc_pending_client()`` for the login page: the client a waiting request is for."""

    def pending_client() -> Any:
        from webapp.oidc.grants import query_client

        client_id = flow.pending_client_id()
        found = query_client(client_id) if client_id else None
        return found.row if found else None

    return {"oidc_pending_client": pending_client}
