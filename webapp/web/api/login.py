"""End-user login endpoints: start, frames, me, logout."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request, url_for
from flask_login import current_user

from webapp.accounts.security import client_address, end_session, start_session
from webapp.db.models import STATE_DENIED, STATE_GRANTED, utcnow
from webapp.errors import BadFrame, FrameTooLarge, InvalidRequest, Unauthorized, UnsupportedMedia
from webapp.face.image import ImageLimits, ImageTooLarge, NotAnImage, UnsupportedImage, decode_image
from webapp.login import service
from webapp.web.api import bp
from webapp.web.uploads import optional_int, part_bytes, require_multipart

# Multipart framing around one frame; a body bigger than the frame limit plus this is refused
# before Werkzeug parses (and spools) it.
_MULTIPART_SLACK = 16 * 1024


@bp.post("/login/start")
def login_start() -> tuple[Response, int]:
    if not request.is_json:
        raise UnsupportedMedia('Send a JSON body: {"username": "..."}.')
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "username" not in body:
        raise InvalidRequest("The body must be a JSON object with a username.")
    attempt = service.start_attempt(body["username"], client_address(), request.headers.get("User-Agent", ""))
    cfg = current_app.config
    payload = {
        "attempt_id": attempt.public_id,
        "challenge": {"steps": list(attempt.challenge), "expires_in": int(cfg["ATTEMPT_TTL_SECONDS"])},
        "frame_interval_ms": int(cfg["FRAME_INTERVAL_MS"]),
        "max_frames": int(cfg["ATTEMPT_MAX_FRAMES"]),
    }
    return jsonify(payload), 201


def _frame_limits() -> ImageLimits:
    cfg = current_app.config
    return ImageLimits(int(cfg["FRAME_MAX_BYTES"]), int(cfg["FRAME_MAX_PIXELS"]), int(cfg["FRAME_MAX_SIDE"]))


@bp.post("/login/<attempt_id>/frames")
def login_frame(attempt_id: str) -> Response:
    arrived_at = utcnow()  # the frame's time is when it reached us, never what the client says
    limits = _frame_limits()
    if request.content_length is not None and request.content_length > limits.max_bytes + _MULTIPART_SLACK:
        raise FrameTooLarge()
    attempt = service.get_attempt(attempt_id)
    service.ensure_open(attempt)
    require_multipart()
    part = request.files.get("frame")
    if part is None:
        raise BadFrame("The request has no 'frame' file field.")
    data = part_bytes(part, limits.max_bytes)
    try:
        rgb = decode_image(data, limits)
    except NotAnImage as exc:
        raise BadFrame(str(exc)) from None
    except UnsupportedImage as exc:
        raise UnsupportedMedia(str(exc)) from None
    except ImageTooLarge as exc:
        raise FrameTooLarge(str(exc)) from None

    outcome = service.submit_frame(attempt, data, rgb, optional_int("seq"), arrived_at)
    cfg = current_app.config
    body: dict[str, Any] = {
        "state": outcome.verdict.state,
        "prompt": outcome.prompt,
        "progress": outcome.progress,
        "step": outcome.step,
        "reason": outcome.verdict.reason if outcome.verdict.state == STATE_DENIED else None,
        # Pacing for the next frame: a burst while the user blinks, the usual pace otherwise.
        "frame_interval_ms": int(cfg["BLINK_FRAME_INTERVAL_MS"] if outcome.step == "blink" else cfg["FRAME_INTERVAL_MS"]),
    }
    if outcome.verdict.state == STATE_GRANTED and outcome.user is not None:
        start_session(outcome.user, "face", client_address(), attempt_id=outcome.attempt.id)
        body["redirect"] = url_for("pages.account")
    return jsonify(body)


@bp.get("/me")
def me() -> Response:
    if not current_user.is_authenticated:
        raise Unauthorized()
    user = current_user.user
    return jsonify({"username": user.username, "display_name": user.display_name})


@bp.post("/logout")
def logout() -> tuple[str, int]:
    end_session()
    return "", 204
