"""Smoke test of the whole training side on tiny data: train 1 epoch, export ONNX, parity, cards,
the service's ensemble loading the result, and the evaluator on the service pipeline.

Only plumbing is checked here (shapes, files, contracts, counts), never accuracy: one epoch on
a few dozen images learns nothing worth asserting.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from ml.ensemble import write_ensemble
from ml.evaluate import main as evaluate_main
from ml.sampling import AugmentConfig
from ml.train import TrainConfig, TrainResult, train
from tests.support.frames import photo_rgb
from webapp.face import FaceEngine
from webapp.liveness import load_ensemble
from webapp.liveness.card import parse_model_card
from webapp.runtime.files import load_json

pytestmark = pytest.mark.slow


def _train(model: str, data: Path, out: Path, models_dir: Path) -> TrainResult:
    cfg = TrainConfig(
        model=model,
        data=(data,),
        out=out / model,
        val_sets=("biden",),
        epochs=1,
        epoch_size=32,
        batch_size=16,
        augment=AugmentConfig(synth_spoof=0.25, nuisance=1.0),
        export_dir=models_dir,
        enroll_k=3,
        threads=1,
    )
    return train(cfg)


@pytest.fixture(scope="module")
def trained(tiny_pad: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, TrainResult]]:
    runs = tmp_path_factory.mktemp("runs")
    models_dir = tmp_path_factory.mktemp("models")
    results = {m: _train(m, tiny_pad, runs, models_dir) for m in ("livenessnet", "siamese")}
    write_ensemble(models_dir, {"livenessnet": 0.6, "siamese": 0.4}, 0.5, "test")
    return runs, models_dir, results


def test_training_writes_plots_model_and_metrics(trained: tuple[Path, Path, dict[str, TrainResult]]) -> None:
    runs, _, results = trained
    for name in ("livenessnet", "siamese"):
        run = runs / name
        for f in ("config.json", "history.json", "metrics.json", "model.keras", "curves.png", "roc.png", "det.png", "confusion.png"):
            assert (run / f).stat().st_size > 0, f"{name}: {f}"
        assert results[name].val_sets == ["biden"] and results[name].train_sets == ["obama"]
        assert len(results[name].history["loss"]) == 1


def test_export_passes_parity_and_writes_a_card_the_service_reads(trained: tuple[Path, Path, dict[str, TrainResult]]) -> None:
    _, models_dir, _ = trained
    for name, kind, size in (("livenessnet", "classifier", 64), ("siamese", "siamese", 64)):
        raw = load_json(models_dir / f"{name}.json")
        card = parse_model_card(raw, path=models_dir)
        card.verify_file()
        assert card.kind == kind and card.input.size == size
        assert raw["training"]["onnx_parity_max_abs_diff"] <= 1e-4
        assert raw["training"]["split"].startswith("by set")
        assert (models_dir / card.file).stat().st_size < 2_000_000
        m = raw["metrics"]["validation"]
        assert 0.0 <= m["bpcer"] <= 1.0 and 0.0 <= m["apcer_max"] <= 1.0
        assert {"accuracy", "f1", "acer"} <= set(m)
    calibration = load_json(models_dir / "siamese.json")["calibration"]
    assert set(calibration) == {"a", "b"}


def test_the_service_ensemble_scores_with_and_without_enrollment(trained: tuple[Path, Path, dict[str, TrainResult]]) -> None:
    _, models_dir, _ = trained
    ensemble = load_ensemble(models_dir)
    rgb = photo_rgb("obama.jpg")
    (box,) = FaceEngine().detect(rgb)
    refs = ensemble.embed_references(rgb, box)
    assert set(refs) == {"siamese"} and refs["siamese"].shape == (32,)
    assert np.linalg.norm(refs["siamese"]) == pytest.approx(1.0, abs=1e-4)
    alone = ensemble.score_face(rgb, box)
    assert set(alone.models) == {"livenessnet"}  # no references: the Siamese model abstains
    assert alone.live_score == pytest.approx(alone.models["livenessnet"], abs=1e-6)
    both = ensemble.score_face(rgb, box, {"siamese": refs["siamese"][None]})
    assert set(both.models) == {"livenessnet", "siamese"}
    assert 0.0 <= both.live_score <= 1.0
    expected = (0.6 * both.models["livenessnet"] + 0.4 * both.models["siamese"]) / 1.0
    assert both.live_score == pytest.approx(expected, abs=1e-5)
    # References of another size (another model version) are ignored, not a crash.
    stale = ensemble.score_face(rgb, box, {"siamese": np.zeros((2, 16), np.float32)})
    assert set(stale.models) == {"livenessnet"}


def test_evaluator_cli_on_the_service_pipeline(trained: tuple[Path, Path, dict[str, TrainResult]], tiny_pad: Path, tmp_path: Path) -> None:
    _, models_dir, _ = trained
    out = tmp_path / "eval.json"
    evaluate_main(
        [
            "--data",
            str(tiny_pad),
            "--json",
            str(out),
            "--models-dir",
            str(models_dir),
            "--enroll",
            "3",
            "--bootstrap",
            "20",
            "--plots",
            str(tmp_path / "plots"),
        ]
    )
    doc = json.loads(out.read_text())
    for key in ("apcer", "apcer_max", "bpcer", "acer", "eer", "n_live", "n_spoof", "n_no_face"):
        assert key in doc, key
    assert set(doc["apcer"]) == {"print", "screen"}
    # The blank live image is a BPCER error; HOG may also miss some synthetic spoofs (correct rejections).
    assert doc["n_no_face_live"] == 1 and doc["n_no_face_spoof"] >= 1
    assert doc["detected_only"]["n_live"] == doc["n_live"] - 1
    n_refs = doc["n_enrollment_references"]
    assert n_refs == 6  # 3 per person (set)
    n_files = 2 * (3 * 3 + 8 + 1)  # live and spoof: obama 3 photos x 3, biden 8, one blank
    assert doc["n_live"] + doc["n_spoof"] == n_files - n_refs
    for key in ("apcer_max", "bpcer", "acer", "accuracy", "f1"):
        assert 0.0 <= doc[key] <= 1.0 or math.isnan(doc[key])
    assert set(doc["per_set"]) == {"obama", "biden"}
    assert set(doc["per_model"]) == {"livenessnet", "siamese"}
    assert (tmp_path / "plots" / "det.png").stat().st_size > 0


def test_export_refuses_an_onnx_file_that_disagrees_with_keras(
    trained: tuple[Path, Path, dict[str, TrainResult]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ml import export

    _, _, results = trained
    model = results["livenessnet"].model
    monkeypatch.setattr(export, "onnx_outputs", lambda path, x: np.asarray(model.predict(x, verbose=0)) + 0.01)
    crops = np.random.default_rng(0).integers(0, 256, size=(4, 64, 64, 3), dtype=np.uint8)
    with pytest.raises(export.ParityError):
        export.export_onnx(model, tmp_path / "x.onnx", crops)
    assert not (tmp_path / "x.onnx").exists()
