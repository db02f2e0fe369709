"""The admin dashboard's charts: attempts over time by decision and reason, the live-score and
identity-distance distributions of granted vs denied attempts with the thresholds that decide,
each user's enrollment quality, and the shipped ensemble card's validation figures.

The thresholds are read from the settings and the ensemble card file (JSON) without loading
any model, so the dashboard stays up when the models are not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from markupsafe import Markup

from webapp.accounts.overview import user_rows
from webapp.db.models import utcnow
from webapp.login.stats import decided_since, over_time
from webapp.settings import settings
from webapp.web import charts

_COLOURS = {"granted": charts.PALETTE[0]}


@dataclass(frozen=True)
class Chart:
    title: str
    svg: Markup
    note: str = ""


def _card() -> dict[str, Any]:
    path = settings().models.liveness_dir / "ensemble.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _live_threshold(card: dict[str, Any]) -> float | None:
    own = settings().models.live_threshold
    if own is not None:
        return own
    value = card.get("threshold")
    return float(value) if isinstance(value, int | float) else None


def _operating_points(card: dict[str, Any]) -> tuple[dict[str, list[tuple[float, float]]], list[tuple[str, float, float]]]:
    """DET curves (a ``det`` list of [apcer, bpcer] anywhere under ``metrics``) and every
    evaluation's operating point (a dict holding both ``apcer`` or ``apcer_max`` and ``bpcer``)."""
    curves: dict[str, list[tuple[float, float]]] = {}
    points: list[tuple[str, float, float]] = []

    def walk(node: Any, path: list[str]) -> None:
        if not isinstance(node, dict):
            return
        det = node.get("det") or node.get("det_curve")
        if isinstance(det, list) and all(isinstance(p, list | tuple) and len(p) == 2 for p in det):
            curves[" / ".join(path) or "card"] = [(float(a), float(b)) for a, b in det]
        apcer = node.get("apcer_max", node.get("apcer"))
        bpcer = node.get("bpcer")
        if isinstance(apcer, int | float) and isinstance(bpcer, int | float):
            points.append((" / ".join(path[-2:]) or "card", float(apcer), float(bpcer)))
        for key, child in node.items():
            if key not in ("ci95", "detected_only"):
                walk(child, [*path, str(key)])

    walk(card.get("metrics"), [])
    return curves, points[:8]


def dashboard_charts(days: int = 14) -> list[Chart]:
    cfg = settings()
    since = utcnow() - timedelta(days=days)
    outcomes = decided_since(since)
    card = _card()
    out = []

    labels, series = over_time(outcomes, days=days)
    out.append(Chart("Attempts over time, by decision and reason", charts.stacked_bars("Attempts over time", labels, series, _COLOURS)))

    live_groups = {
        "granted": [o.live_mean for o in outcomes if o.granted and o.live_mean is not None],
        "denied": [o.live_mean for o in outcomes if not o.granted and o.live_mean is not None],
    }
    threshold = _live_threshold(card)
    markers = [(threshold, "threshold")] if threshold is not None else []
    out.append(
        Chart(
            "Mean live score per attempt",
            charts.histograms(
                "Mean live score, granted vs denied",
                live_groups,
                0.0,
                1.0,
                20,
                markers,
                "mean live score",
            ),
            "Attempts with no scored frame are left out.",
        )
    )
    dist_groups = {
        "granted": [o.best_distance for o in outcomes if o.granted and o.best_distance is not None],
        "denied": [o.best_distance for o in outcomes if not o.granted and o.best_distance is not None],
    }
    policy = cfg.policy_knobs
    out.append(
        Chart(
            "Best identity distance per attempt",
            charts.histograms(
                "Identity distance, granted vs denied",
                dist_groups,
                0.0,
                1.2,
                24,
                [(policy.tolerance, "match"), (policy.mismatch_distance, "mismatch")],
                "distance to the nearest enrolled face (lower = more alike)",
            ),
        )
    )
    rows = [r for r in user_rows() if r.faces]
    out.append(
        Chart(
            "Enrollment quality per user",
            charts.horizontal_bars(
                "Mean enrollment quality per user",
                [(r.user.username, r.mean_quality or 0.0, f"{r.faces} face{'s' if r.faces != 1 else ''}") for r in rows[:40]],
                1.0,
            ),
            f"Quality 0-1 (size, sharpness, light). Accounts with fewer than {cfg.enroll.min_faces} faces are flagged on the users page.",
        )
    )
    curves, points = _operating_points(card)
    note = (
        f"From the ensemble card {card.get('name', '?')} {card.get('version', '')}: "
        + ("its DET curve and " if curves else "it holds no DET curve, only ")
        + "the operating points of its evaluations (APCER/BPCER at the threshold)."
    )
    out.append(Chart("Liveness model validation (DET space)", charts.det_points("Liveness validation", curves, points), note))
    return out
