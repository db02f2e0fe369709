"""Leave-one-set-out reporting: nothing is tuned on the fold it is reported for; fusion picks the useful model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from ml.loso import align, choose_fusion, fuse, leave_fold_out_scores, live_probabilities, read_oof, report, weight_grid

FOLDS = {"f1": ["a", "b"], "f2": ["c"], "f3": ["d"]}


def _write_run(root: Path, name: str, model: str, kind: str, value_fn) -> Path:  # type: ignore[no-untyped-def]
    run = root / name
    run.mkdir(parents=True)
    rng = np.random.default_rng(sum(map(ord, name)))  # stable across processes, unlike hash()
    with open(run / "scores.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["fold", "set", "path", "label", "species", "person", "found", "reference", "value"])
        for fold, sets in FOLDS.items():
            for s in sets:
                for i in range(40):
                    label = i % 2
                    found = i % 10 != 9
                    value = value_fn(label, rng) if found else float("nan")
                    w.writerow([fold, s, f"{s}/{i}.jpg", label, "bona_fide" if label else "replay", s, int(found), 0, value])
    (run / "loso.json").write_text(json.dumps({"model": model, "kind": kind}))
    return run


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    good = _write_run(tmp_path, "good", "livenessnet", "classifier", lambda y, r: float(np.clip(0.3 + 0.4 * y + r.normal(0, 0.1), 0, 1)))
    noise = _write_run(tmp_path, "noise", "dsnet", "classifier", lambda y, r: float(r.uniform()))
    # Siamese: live near the enrollment (small distance), spoof far.
    siam = _write_run(tmp_path, "siam", "siamese", "siamese", lambda y, r: float(abs(r.normal(0.3 if y else 0.9, 0.1))))
    return [good, noise, siam]


def test_weight_grid_covers_the_simplex() -> None:
    grid = weight_grid(["a", "b", "c"], 0.5)
    assert len(grid) == 6 and all(sum(g.values()) == pytest.approx(1.0) for g in grid)


def test_fusion_prefers_the_informative_model(runs: list[Path]) -> None:
    t = align([read_oof(r) for r in runs[:2]])
    probs = live_probabilities(t, t.found)
    weights, threshold = choose_fusion(probs, t.labels, t.found, ["good", "noise"])
    assert weights["good"] >= 0.7 and 0.3 < threshold < 0.7


def test_a_folds_threshold_ignores_that_folds_scores(runs: list[Path]) -> None:
    t = align([read_oof(runs[0])])
    _, before, _ = leave_fold_out_scores(t, ["good"], {"good": 1.0})
    t.values["good"][t.folds == "f2"] += 0.3  # shift only fold f2
    _, after, _ = leave_fold_out_scores(t, ["good"], {"good": 1.0})
    assert after["f2"] == before["f2"]
    assert after["f1"] != before["f1"]  # the other folds do see f2's scores


def test_siamese_distances_become_live_probabilities(runs: list[Path]) -> None:
    t = align([read_oof(runs[2])])
    p = live_probabilities(t, t.found)["siam"]
    ok = t.found
    assert np.nanmean(p[ok & (t.labels == 1)]) > 0.7 > 0.3 > np.nanmean(p[ok & (t.labels == 0)])


def test_fuse_renormalises_over_models_that_scored() -> None:
    probs = {"a": np.array([0.2, 0.2]), "b": np.array([0.8, np.nan])}
    np.testing.assert_allclose(fuse(probs, {"a": 0.5, "b": 0.5}), [0.5, 0.2])


def test_report_tables_every_set_and_the_pooled_views(runs: list[Path]) -> None:
    doc = report(runs, fuse_models=True)
    table = doc["fusion"]["per_set"]
    assert set(table) == {"a", "b", "c", "d", "all (pooled)", "all, detected faces only"}
    assert table["all (pooled)"]["n_no_face"] == 4 * 4  # 4 per set without a face
    assert table["all, detected faces only"]["n_no_face"] == 0
    assert doc["models"]["siam"]["calibration_all_folds"]["a"] < 0
    assert doc["fusion"]["weights_all_folds"]["noise"] <= 0.3
    assert table["all, detected faces only"]["eer"] < 0.1


def test_fixed_weights_are_kept_whatever_the_scores(runs: list[Path]) -> None:
    # The shipped default keeps a classifier's share even where minimum EER would drop it.
    doc = report(runs[:2], fuse_models=True, weights={"good": 0.6, "noise": 0.4})
    assert doc["fusion"]["weights_all_folds"] == {"good": 0.6, "noise": 0.4}
    assert all(w == {"good": 0.6, "noise": 0.4} for w in doc["fusion"]["weights_per_fold"].values())


def test_card_metrics_are_strict_json(runs: list[Path]) -> None:
    from ml.ship import loso_metrics

    doc = report(runs[:1], fuse_models=False)
    table = doc["models"]["good"]["per_set"]
    table["a"]["apcer_max"] = float("nan")  # a held-out set with live images only
    metrics = loso_metrics(doc["models"]["good"])
    json.dumps(metrics, allow_nan=False)  # raises on NaN
    assert metrics["leave_one_set_out_per_set"]["a"]["apcer_max"] is None
    assert 0.0 <= metrics["validation"]["acer"] <= 1.0
