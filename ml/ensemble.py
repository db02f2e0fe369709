"""Write ``ensemble.json``: which shipped models the service fuses, their weights, the fused threshold.

    python -m ml.ensemble write --models-dir webapp/assets/models --member livenessnet=1 --threshold 0.53

The shipped ensemble is written by ``python -m ml.ship``, which chooses the weights (grid over
the simplex, step 0.1, unless ``--weights`` fixes them) and the threshold (EER point) on the
pooled leave-one-set-out scores, i.e. on presentations from sources each model had not seen.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ml.paths import MODELS_DIR
from webapp.liveness.card import ENSEMBLE_CARD, parse_ensemble_card
from webapp.liveness.registry import load_ensemble


def parse_weights(items: list[str]) -> dict[str, float]:
    """``["dsnet=0.3", "siamese=0.7"]`` (the command-line form) as ``{"dsnet": 0.3, "siamese": 0.7}``."""
    return {k: float(v) for k, v in (item.split("=", 1) for item in items)}


def write_ensemble(
    models_dir: Path,
    weights: dict[str, float],
    threshold: float,
    version: str,
    metrics: dict[str, Any] | None = None,
    notes: list[str] | None = None,
) -> Path:
    """Write and re-load the ensemble card (a card the service cannot load is never left behind)."""
    doc = {
        "name": "default",
        "version": version,
        "fusion": "weighted_mean",
        "members": [{"model": name, "weight": round(float(w), 4)} for name, w in weights.items() if w > 0],
        "threshold": round(float(threshold), 6),
        "metrics": metrics or {},
        "notes": notes or [],
    }
    parse_ensemble_card(doc)
    path = models_dir / ENSEMBLE_CARD
    previous = path.read_text() if path.exists() else None
    path.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    try:
        load_ensemble(models_dir)
    except Exception:
        if previous is None:
            path.unlink()
        else:
            path.write_text(previous)
        raise
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ml.ensemble", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_w = sub.add_parser("write")
    p_w.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    p_w.add_argument("--member", action="append", required=True, help="NAME=WEIGHT")
    p_w.add_argument("--threshold", type=float, required=True)
    p_w.add_argument("--version", default="1")
    p_w.add_argument("--metrics", type=Path, help="JSON file to store as the ensemble's metrics")
    p_w.add_argument("--note", action="append", default=[])
    args = parser.parse_args(argv)
    weights = parse_weights(args.member)
    metrics = json.loads(args.metrics.read_text()) if args.metrics else {}
    print(write_ensemble(args.models_dir, weights, args.threshold, args.version, metrics, args.note))


if __name__ == "__main__":
    main()
