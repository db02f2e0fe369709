"""GET /metrics: the Prometheus scrape (webapp/ops/metrics.py), when METRICS_ENABLED."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from webapp.ops import metrics
from webapp.runtime.worker import EXTENSION_KEY

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    # The models this worker has loaded (never loads them: a scrape must stay cheap).
    rt = current_app.extensions.get(EXTENSION_KEY)
    if rt is not None and rt.ensemble is not None:
        metrics.record_models(rt.ensemble.card.version, rt.ensemble.versions())
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})
