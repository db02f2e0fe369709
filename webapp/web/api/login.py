"""End-user login endpoints: start, frames, me, logout."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for
from flask_login import current_user

from webapp.accounts.security import client_address, end_session, start_session
from webapp.db.models import STATE_DENIED, STATE_GRANTED, utcnow
from webapp.errors import BadFrame, FrameTooLarge, InvalidRequest, Unauthorized, UnsupportedMedia
from webapp.login import service
from webapp.login.attempts import get_attempt
from webapp.login.device import device_id
from webapp.oidc import flow as oidc_flow
from webapp.ops import metrics
from webapp.settings import settings
from webapp.web.api import bp
from webapp.web.serializers import guidance_json
from webapp.web.uploads import decode_upload, optional_int, part_bytes, require_multipart

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
    attempt = service.start_attempt(body["username"], client_address(), request.headers.get("User-Agent", ""), device_id())
    attempts = settings().attempts
    payload = {
        "attempt_id": attempt.public_id,
        "challenge": {
            "steps": list(attempt.challenge),
            "expires_in": attempts.ttl_seconds,
            # Each step's time budget on the server clock, from its first face frame.
            "step_seconds": {s: service.current_policy().max_seconds_for(s) for s in attempt.challenge},
        },
        "frame_interval_ms": attempts.frame_interval_ms,
        "max_frames": attempts.max_frames,
    }
    return jsonify(payload), 201


@bp.post("/login/<attempt_id>/frames")
def login_frame(attempt_id: str) -> Response:
    arrived_at = utcnow()  # the frame's time is when it reached us, never what the client says
    cfg = settings()
    limits = cfg.frame_limits
    if request.content_length is not None and request.content_length > limits.max_bytes + _MULTIPART_SLACK:
        raise FrameTooLarge()
    attempt = get_attempt(attempt_id)
    service.ensure_open(attempt)
    require_multipart()
    part = request.files.get("frame")
    if part is None:
        raise BadFrame("The request has no 'frame' file field.")
    data = part_bytes(part, limits.max_bytes)
    with metrics.stage("decode"):
        rgb = decode_upload(data, limits, "frame")

    outcome = service.submit_frame(attempt, data, rgb, optional_int("seq"), arrived_at)
    body: dict[str, Any] = {
        "state": outcome.verdict.state,
        "prompt": outcome.prompt,
        "progress": outcome.progress,
        "step": outcome.step,
        "reason": outcome.verdict.reason if outcome.verdict.state == STATE_DENIED else None,
        # Screen-light step: the colour to show around the camera view now, or null (no backdrop).
        "light": outcome.light,
        # Pacing for the next frame: a burst while the user blinks, the usual pace otherwise.
        "frame_interval_ms": cfg.attempts.blink_frame_interval_ms if outcome.step == "blink" else cfg.attempts.frame_interval_ms,
        **guidance_json(outcome.guidance),
    }
    if outcome.verdict.state == STATE_GRANTED and outcome.user is not None:
        # An OpenID Connect authorization request waiting for this login survives the new
        # session and continues at the fixed /oidc/resume route (webapp/oidc/flow.py).
        pending = oidc_flow.take_pending()
        start_session(outcome.user, "face", client_address(), attempt_id=outcome.attempt.id)
        body["redirect"] = oidc_flow.continue_after_login(pending) or url_for("pages.account")
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
