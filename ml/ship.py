"""Build the shipped default models from leave-one-set-out runs, in one reproducible command.

    python -m ml.ship --runs runs/loso/dsnet runs/loso/siamese --data ../shared/datasets/pad --out webapp/assets/models

For each LOSO run folder (named like the model it ships) this trains the same configuration on
EVERY set (same epochs, draws, augmentation and seed; no held-out data is left, so no early
stopping), exports ONNX + card, and sets what the run measured on unseen sources:
- the decision threshold: the EER point of the pooled out-of-fold scores;
- the Siamese calibration: the logistic fit of the pooled out-of-fold distances;
- the card's ``metrics.validation``: pooled leave-one-set-out figures at the leave-fold-out
  thresholds (no face = rejected), with the per-set table and the detected-faces-only view.
Then ``ensemble.json`` gets the fusion weights and threshold chosen on the pooled out-of-fold
scores of all runs together (ml/loso.py, ``choose_fusion``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from ml.ensemble import parse_weights, write_ensemble
from ml.loso import report
from ml.paths import MODELS_DIR, RUNS_DIR
from ml.sampling import AugmentConfig
from ml.strict_json import finite

_PER_SET_KEYS = ("bpcer", "apcer_max", "acer", "eer", "n_live", "n_spoof", "n_no_face")
METHOD = (
    "leave-one-set-out: one model per fold of ml.datasets.layout.PAD_FOLDS trained without that fold, "
    "scored on it through the service crop path; each fold judged at the threshold fitted on the other folds' "
    "out-of-fold scores; pooled over all folds"
)


def loso_metrics(model_doc: dict[str, Any]) -> dict[str, Any]:
    """The card's metrics block for one model from its LOSO report entry."""
    table = model_doc["per_set"]
    return finite(
        {
            "validation": {**table["all (pooled)"], "method": METHOD, "no_face": "rejected"},
            "validation_detected_faces_only": table["all, detected faces only"],
            "leave_one_set_out_per_set": {k: {m: v[m] for m in _PER_SET_KEYS} for k, v in table.items() if not k.startswith("all")},
        }
    )


def ship(
    runs: list[Path], data: list[Path], out: Path, staging: Path, version: str, threads: int = 2, weights: dict[str, float] | None = None
) -> Path:
    """Train every run's configuration on all data, export into ``out``, write ensemble.json.

    ``weights`` fixes the fusion weights instead of taking the minimum-EER ones: the LOSO
    minimum may put all weight on the identity-aware member, which abstains for users without
    enrollment embeddings, and a shipped default needs a member that always answers.
    """
    from ml.train import TrainConfig, train

    doc = report(runs, fuse_models=len(runs) > 1, weights=weights)
    staging.mkdir(parents=True, exist_ok=True)
    for run in runs:
        meta = json.loads((run / "loso.json").read_text())
        name = run.name
        entry = doc["models"][name]
        t0 = time.time()
        cfg = TrainConfig(
            model=meta["model"],
            data=tuple(data),
            out=staging / name,
            epochs=meta["epochs"],
            epoch_size=meta["epoch_size"],
            patience=meta["epochs"],
            seed=meta["seed"],
            augment=AugmentConfig(**meta["augment"]),
            use_fallback=meta["use_fallback"],
            crop_scale=meta.get("crop_scale"),
            threshold=entry["threshold_all_folds"],
            calibration=entry.get("calibration_all_folds"),
            export_dir=staging / "models",
            name=name,
            threads=threads,
        )
        result = train(cfg)
        _amend_card(staging / "models" / f"{name}.json", loso_metrics(entry), version, time.time() - t0)
        print(f"{name}: trained on all sets in {result.minutes:.1f} min, threshold {result.threshold:.4f}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    for run in runs:
        for suffix in (".onnx", ".json"):
            shutil.copy2(staging / "models" / f"{run.name}{suffix}", out / f"{run.name}{suffix}")
    if "fusion" in doc:
        fusion = doc["fusion"]
        weights, threshold, table = fusion["weights_all_folds"], fusion["threshold_all_folds"], fusion["per_set"]
    else:
        ((name, entry),) = doc["models"].items()
        weights, threshold, table = {name: 1.0}, entry["threshold_all_folds"], entry["per_set"]
    metrics = loso_metrics({"per_set": table})
    chosen = (
        f"Weights fixed at {weights} (a classifier keeps a share so the ensemble answers when the Siamese member abstains); "
        "threshold = EER point of the pooled leave-one-set-out fused scores."
        if weights
        else "Weights and threshold chosen on pooled leave-one-set-out scores (ml/loso.py choose_fusion: minimum EER)."
    )
    notes = [
        chosen,
        "Identity-aware members abstain for users without enrollment embeddings of their version; the weights renormalise.",
    ]
    return write_ensemble(out, weights, threshold, version, metrics, notes)


def _amend_card(path: Path, metrics: dict[str, Any], version: str, seconds: float) -> None:
    """Put the LOSO figures into a freshly exported card (the sha256 stays the model's)."""
    card = json.loads(path.read_text())
    card["metrics"] = metrics
    card["version"] = f"{version}-{card['sha256'][:8]}"
    card["training"]["minutes_on_2_cores_including_export"] = round(seconds / 60.0, 2)
    card["training"]["threshold_from"] = "EER point of the pooled leave-one-set-out scores"
    path.write_text(json.dumps(card, indent=2, allow_nan=False) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ml.ship", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, nargs="+", required=True, help="ml.loso run folders, named like the shipped models")
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument("--out", type=Path, default=MODELS_DIR)
    parser.add_argument("--staging", type=Path, default=RUNS_DIR / "ship")
    parser.add_argument("--version", default=time.strftime("%Y.%m.%d"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--weights", nargs="+", metavar="NAME=W", help="fixed fusion weights, e.g. dsnet=0.3 siamese=0.7")
    args = parser.parse_args(argv)
    weights = parse_weights(args.weights) if args.weights else None
    print(ship(args.runs, args.data, args.out, args.staging, args.version, args.threads, weights))


if __name__ == "__main__":
    main()
