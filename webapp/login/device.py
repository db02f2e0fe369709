"""The device cookie: which browser an attempt came from, without an account.

A random id signed with the app's SECRET_KEY (itsdangerous), so a client cannot choose another
device's id; only its SHA-256 is stored (``LoginAttempt.device_id``, the ``device`` of admin
sign-in audit events). Together with the address it names the *client* whose failures the
throttle counts (webapp/login/throttle.py): the owner's own browser keeps its cookie, so what a
stranger does elsewhere never locks it out.
"""

from __future__ import annotations

import hashlib
import secrets

from flask import Response, current_app, g, request
from itsdangerous import BadSignature, URLSafeSerializer

from webapp.settings import settings

_SALT = "livegate-device"
_G_KEY = "livegate_device"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _token() -> tuple[str, bool]:
    """The request's device id and whether it was issued just now."""
    cached = g.get(_G_KEY)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    raw = request.cookies.get(settings().throttle.device_cookie_name)
    value: tuple[str, bool] | None = None
    if raw:
        try:
            loaded = _serializer().loads(raw)
        except BadSignature:
            loaded = None
        if isinstance(loaded, str) and 16 <= len(loaded) <= 64:
            value = (loaded, False)
    if value is None:
        value = (secrets.token_urlsafe(18), True)
    setattr(g, _G_KEY, value)
    return value


def device_id() -> str:
    """The stored form of this request's device id (32 hex characters of its SHA-256)."""
    return hashlib.sha256(_token()[0].encode()).hexdigest()[:32]


def issue_cookie(resp: Response) -> Response:
    """After a request that looked the device up: give a new device its signed cookie."""
    value = g.get(_G_KEY)
    if value is None or not value[1]:
        return resp
    cfg = settings().throttle
    resp.set_cookie(
        cfg.device_cookie_name,
        _serializer().dumps(value[0]),
        max_age=cfg.device_cookie_days * 86400,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        path="/",
    )
    return resp
