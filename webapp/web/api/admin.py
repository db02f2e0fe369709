"""Administration API: users, enrollment, attempts, and still-image checks.

Callers authenticate with ``Authorization: Bearer <token>`` (CLI-issued) or an admin browser
session signed in with the admin password; session requests that change anything must carry
the CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, g, jsonify, request
from flask_login import current_user

from webapp.accounts.enrollment import enroll_images
from webapp.accounts.preview import preview_frame
from webapp.accounts.privacy import record_consent
from webapp.accounts.security import bearer_user, check_csrf, client_address
from webapp.accounts.stills import score_still, single_face
from webapp.accounts.templates import user_encodings, user_material
from webapp.accounts.users import create_user, delete_templates, delete_user, find_user, normalise_username_query, users_with_counts
from webapp.db.audit import audit
from webapp.db.extensions import db
from webapp.db.models import utcnow
from webapp.errors import ApiError, BadFrame, Forbidden, InvalidRequest, MultipleFaces, NoFace, Unauthorized
from webapp.face.match import match
from webapp.login.attempts import get_attempt, recent_attempts
from webapp.login.throttle import active_locks, clear_locks
from webapp.runtime.worker import runtime
from webapp.settings import settings
from webapp.web.api import bp
from webapp.web.serializers import attempt_json, user_json
from webapp.web.uploads import bounded_int, decode_upload, part_bytes, require_multipart

F = TypeVar("F", bound=Callable[..., Any])


class NoTemplates(ApiError):
    code, error, description = 409, "no_templates", "This user has no enrolled face."


class NotEnoughGoodImages(ApiError):
    code, error, description = 422, "not_enough_good_images", "Too few of the images were usable."


def admin_required(view: F) -> F:
    """Allow bearer-token admins, or admin password sessions (with CSRF on writes)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if request.headers.get("Authorization"):
            user = bearer_user()
            if user is None:
                raise Unauthorized("The API token is not valid.")
            if not user.is_admin:
                raise Forbidden()
            g.admin = user
        elif current_user.is_authenticated:
            if not current_user.is_admin_session:
                raise Forbidden()
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                check_csrf()
            g.admin = current_user.user
        else:
            raise Unauthorized()
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _actor() -> str:
    return str(g.admin.username)


@bp.post("/admin/users")
@admin_required
def admin_create_user() -> tuple[Response, int]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object with username and display_name.")
    user = create_user(body.get("username"), body.get("display_name"))
    audit("user_created", actor=_actor(), subject=user.username, client_addr=client_address())
    db.session.commit()
    return jsonify(user_json(user, 0)), 201


@bp.get("/admin/users")
@admin_required
def admin_list_users() -> Response:
    return jsonify({"users": [user_json(u, n) for u, n in users_with_counts()]})


def _uploaded_images(field: str) -> list[bytes]:
    require_multipart()
    parts = request.files.getlist(field)
    if not parts:
        raise InvalidRequest(f"Send one or more images in the '{field}' field.")
    enroll = settings().enroll
    if len(parts) > enroll.max_images:
        raise InvalidRequest(f"At most {enroll.max_images} images per request.")
    return [part_bytes(p, enroll.limits.max_bytes) for p in parts]


@bp.post("/admin/users/<username>/faces")
@admin_required
def admin_enroll(username: str) -> tuple[Response, int]:
    user = find_user(username)
    images = _uploaded_images("images")
    source = request.form.get("source", "upload")
    if source not in ("upload", "webcam"):
        raise InvalidRequest("source must be 'upload' or 'webcam'.")
    # The admin attests that the person agreed to CONSENT_TEXT; "consent=no" (or false/0) refuses.
    if request.form.get("consent", "yes").strip().lower() in ("no", "false", "0"):
        raise InvalidRequest("The person must consent to the biometric consent text before enrollment.")
    result = enroll_images(user, images, source)  # the account minimum (ENROLL_MIN_FRAMES)
    if result.enrolled:
        record_consent(user, settings().consent_text, recorded_by=_actor())
    audit(
        "faces_enrolled",
        actor=_actor(),
        subject=user.username,
        client_addr=client_address(),
        enrolled=result.enrolled,
        rejected=len(result.rejected),
        source=source,
    )
    db.session.commit()
    body = {"enrolled": result.enrolled, "rejected": result.rejected}
    min_faces = settings().enroll.min_faces
    if result.enrolled == 0 and result.held < min_faces:
        # Nothing stored and the account still below the minimum: say how many good images
        # this one needed (an account that holds enough answers 201 with its rejections).
        held = f"; {user.username} holds {result.held}, an account needs {min_faces}" if result.held else ""
        exc = NotEnoughGoodImages(f"Need at least {result.needed} good images in one enrollment{held}.")
        resp = jsonify({"error": exc.error, "message": exc.description, "needed": result.needed, **body})
        return resp, exc.code
    return jsonify(body), 201


@bp.post("/admin/enrollment/preview")
@admin_required
def admin_enrollment_preview() -> Response:
    """Quality hints for one webcam preview frame (field ``frame``, a login-sized JPEG/PNG):
    the enrollment page polls this, one request in flight, to draw its oval and hints
    (accounts/preview.py). Nothing is stored or audited: no face leaves this request."""
    require_multipart()
    part = request.files.get("frame")
    if part is None:
        raise BadFrame("The request has no 'frame' file field.")
    cfg = settings()
    rgb = decode_upload(part_bytes(part, cfg.frame_limits.max_bytes), cfg.frame_limits, "frame")  # 413 beyond FRAME_MAX_*
    preview = preview_frame(rgb, runtime(), cfg.guidance, cfg.enroll)
    return jsonify({"faces": preview.faces, "hints": preview.hints, "face_fits": preview.face_fits, "ready": preview.ready})


@bp.delete("/admin/users/<username>/faces")
@admin_required
def admin_delete_faces(username: str) -> tuple[str, int]:
    user = find_user(username)
    removed = delete_templates(user)
    audit("faces_deleted", actor=_actor(), subject=user.username, client_addr=client_address(), removed=removed)
    db.session.commit()
    return "", 204


@bp.delete("/admin/users/<username>")
@admin_required
def admin_delete_user(username: str) -> tuple[str, int]:
    user = find_user(username)
    if user.id == g.admin.id:
        raise InvalidRequest("You cannot delete your own account.")
    name = user.username
    delete_user(user)
    audit("user_deleted", actor=_actor(), subject=name, client_addr=client_address())
    db.session.commit()
    return "", 204


@bp.get("/admin/attempts")
@admin_required
def admin_attempts() -> Response:
    limit = bounded_int(request.args.get("limit", "100"), "limit", 1, 1000)
    return jsonify({"attempts": [attempt_json(a) for a in recent_attempts(limit, request.args.get("username"))]})


@bp.get("/admin/attempts/<attempt_id>")
@admin_required
def admin_attempt(attempt_id: str) -> Response:
    return jsonify(attempt_json(get_attempt(attempt_id), frames=True))


@bp.post("/admin/verify")
@admin_required
def admin_verify() -> Response:
    require_multipart()
    username = request.form.get("username")
    if not username:
        raise InvalidRequest("Send the username field.")
    user = find_user(username)
    (data,) = _uploaded_images("image")[:1]
    rgb = decode_upload(data, settings().enroll.limits, "still")
    face = single_face(rgb, runtime())
    if face.reason == "no_face":
        raise NoFace()
    if face.reason == "multiple_faces":
        raise MultipleFaces()
    assert face.observation is not None and face.observation.encoding is not None
    templates = user_encodings(user.id)
    if templates.shape[0] == 0:
        raise NoTemplates()
    result = match(face.observation.encoding, templates, settings().identity_tolerance)
    return jsonify({"match": result.match, "distance": round(result.distance, 4), "tolerance": result.tolerance})


@bp.post("/admin/liveness")
@admin_required
def admin_liveness() -> Response:
    images = _uploaded_images("images")
    rt = runtime()
    ensemble = rt.require_ensemble()
    threshold = settings().live_threshold(ensemble.threshold)  # as the login applies it
    # With a username, the stills are scored as that user's login frames would be (their
    # enrolled liveness embeddings let the identity-aware members vote); without, they abstain.
    username = request.form.get("username")
    user = find_user(username) if username else None
    references = user_material(user.id, ensemble.versions())[1] if user is not None else None
    results: list[dict[str, Any]] = []
    for index, data in enumerate(images):
        try:
            rgb = decode_upload(data, settings().enroll.limits, "still")
        except ApiError as exc:
            results.append({"index": index, "live_score": None, "decision": "bad_image", "models": {}, "error": exc.error})
            continue
        faces, box, live = score_still(rgb, rt, references)
        if live is None:
            results.append({"index": index, "live_score": None, "decision": "no_face", "models": {}, "faces": 0})
            continue
        results.append(
            {
                "index": index,
                "live_score": live.live_score,
                "decision": "unscored" if live.live_score is None else ("live" if live.live_score >= threshold else "spoof"),
                "models": live.models,
                "abstained": sorted(set(ensemble.models) - set(live.models)),
                "faces": faces,
                "box": box.as_list() if box else None,
            }
        )
    return jsonify({"results": results, "threshold": threshold, "username": user.username if user else None})


@bp.get("/admin/locks")
@admin_required
def admin_locks() -> Response:
    """Locks and slowdowns in force now (webapp/login/throttle.py)."""
    return jsonify({"locks": [lock.as_json() for lock in active_locks(utcnow(), settings().throttle)]})


@bp.delete("/admin/locks/<username>")
@admin_required
def admin_clear_locks(username: str) -> tuple[str, int]:
    """Lift every lock and slowdown on ``username`` (face and password); audited."""
    name = normalise_username_query(username)[:64]
    clear_locks(name, actor=_actor(), client_addr=client_address())
    db.session.commit()
    return "", 204
