"""One error shape for the whole API, produced in one place.

Views raise the exceptions below (or plain werkzeug ones); the handlers registered by
:func:`register_error_handlers` turn them into ``{"error": code, "message": sentence}`` for
API paths and a small HTML page elsewhere. No traceback, score or account existence ever
reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.db.extensions import db

log = logging.getLogger(__name__)


class ApiError(HTTPException):
    """An HTTP error with a stable machine-readable ``error`` code (see shared spec)."""

    code = 400
    error = "bad_request"
    description = "The request is not valid."

    def __init__(self, message: str | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(description=message or self.description)
        self.retry_after = retry_after


class BadFrame(ApiError):
    code, error, description = 400, "bad_frame", "The frame is not a decodable JPEG or PNG image."


class BadImage(ApiError):
    code, error, description = 400, "bad_image", "The image is not a decodable JPEG or PNG image."


class NoFace(ApiError):
    code, error, description = 400, "no_face", "No face was found in the image."


class MultipleFaces(ApiError):
    code, error, description = 400, "multiple_faces", "More than one face was found in the image."


class InvalidRequest(ApiError):
    code, error, description = 400, "invalid_request", "The request is missing a field or has a bad value."


class Unauthorized(ApiError):
    code, error, description = 401, "unauthorized", "You need to sign in."


class Forbidden(ApiError):
    code, error, description = 403, "forbidden", "You are not allowed to do this."


class CsrfFailed(ApiError):
    code, error, description = 403, "csrf_failed", "The request did not carry a valid CSRF token."


class UnknownAttempt(ApiError):
    code, error, description = 404, "unknown_attempt", "There is no such login attempt."


class UnknownUser(ApiError):
    code, error, description = 404, "unknown_user", "There is no such user."


class UserExists(ApiError):
    code, error, description = 409, "user_exists", "A user with this name already exists."


class AttemptFinished(ApiError):
    code, error, description = 409, "attempt_finished", "This login attempt is over; start a new one."


class AttemptExpired(ApiError):
    code, error, description = 410, "attempt_expired", "This login attempt has expired; start a new one."


class FrameTooLarge(ApiError):
    code, error, description = 413, "frame_too_large", "The frame is too large."


class ImageTooLarge(ApiError):
    code, error, description = 413, "image_too_large", "The image is too large."


class UnsupportedMedia(ApiError):
    code, error, description = 415, "unsupported_media", "Send the image as JPEG or PNG in multipart/form-data."


class Locked(ApiError):
    code, error, description = 423, "locked", "Too many failed attempts; try again later."


class RateLimited(ApiError):
    code, error, description = 429, "rate_limited", "Too many requests; slow down."


class ServiceUnavailable(ApiError):
    code, error, description = 503, "unavailable", "The service cannot serve this right now."


class Busy(ServiceUnavailable):
    """Admission control (login/admission.py): every attempt the service can carry is running."""

    error, description = "busy", "Too many sign-ins are in progress; try again in a few seconds."


# Codes for werkzeug's own exceptions (routing, method, body size) on API paths.
_GENERIC_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media",
    429: "rate_limited",
}

# The frames endpoint names its body-size error after the frame (spec: 413 frame_too_large).
_FRAME_ENDPOINTS = {"api.login_frame"}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz" or request.is_json


def error_body(error: str, message: str) -> dict[str, Any]:
    return {"error": error, "message": message}


def _json_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if isinstance(exc, ApiError):
        code, message = exc.error, exc.description or ""
    else:
        code = _GENERIC_CODES.get(status, "error")
        if status == 413 and request.endpoint in _FRAME_ENDPOINTS:
            code = FrameTooLarge.error
        message = exc.description or exc.name
        if status == 413:
            message = "The request body is too large."
    resp = jsonify(error_body(code, str(message)))
    resp.status_code = status
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        resp.headers["Retry-After"] = str(max(1, int(retry_after)))
    for key, value in exc.get_headers():
        if key.lower() == "allow":  # 405 tells which methods exist
            resp.headers["Allow"] = value
    return resp


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException) -> Response | tuple[str, int]:
        if _wants_json():
            return _json_error(exc)
        return render_template("error.html", status=exc.code, message=exc.description), exc.code or 500

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Response | tuple[str, int]:
        # Never leak a traceback; undo whatever the failed request half-wrote.
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        generic = InternalServerError()
        if _wants_json():
            resp = jsonify(error_body("internal_error", "Something went wrong on our side."))
            resp.status_code = 500
            return resp
        return render_template("error.html", status=500, message=generic.description), 500
