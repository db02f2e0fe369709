"""The models shipped in webapp/assets/models: loadable by the service, small, documented, sane."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.support.frames import photo_rgb
from webapp.config import DEFAULTS
from webapp.face import FaceEngine
from webapp.liveness import LivenessEnsemble, load_ensemble
from webapp.liveness.card import load_json
from webapp.runtime.files import cpu_session

MODELS_DIR = Path(DEFAULTS["LIVENESS_MODEL_DIR"])

pytestmark = pytest.mark.realmodels


@pytest.fixture(scope="module")
def shipped() -> LivenessEnsemble:
    """The shipped ensemble, loaded (cards read, each file's sha256 checked) once for the module."""
    return load_ensemble(MODELS_DIR)


def test_every_member_is_shipped_small_and_matches_its_card(shipped: LivenessEnsemble) -> None:
    ensemble = shipped  # loading verified each file's sha256 against its card
    assert ensemble.models
    for model in ensemble.models.values():
        assert model.card.model_path.stat().st_size < 2_000_000
        assert 0.0 < model.card.threshold < 1.0
    assert 0.0 < ensemble.threshold < 1.0


def test_cards_state_data_metrics_and_limits(shipped: LivenessEnsemble) -> None:
    for model in shipped.models.values():
        raw = load_json(model.card.model_path.with_suffix(".json"))
        assert raw["limits"] and any("mask" in limit for limit in raw["limits"])
        assert raw["training"]["split"].startswith("by set")
        metrics = raw["metrics"]
        assert "validation" in metrics, f"{model.name}: no validation metrics in its card"
        for key in ("bpcer", "apcer_max", "acer"):
            assert 0.0 <= metrics["validation"][key] <= 1.0, (model.name, key)
        for block in metrics.get("leave_one_set_out_per_set", {}).values():
            for key in ("bpcer", "apcer_max", "acer"):
                value = block[key]
                # A held-out set with one class only has no APCER (None), never a made-up figure.
                assert value is None or 0.0 <= value <= 1.0, (model.name, key, value)
        for key in ("accuracy", "f1", "eer", "n_live", "n_spoof", "n_no_face"):
            assert key in metrics["validation"], (model.name, key)


def test_onnx_input_matches_the_card(shipped: LivenessEnsemble) -> None:
    for model in shipped.models.values():
        sess = cpu_session(model.card.model_path)
        shape = sess.get_inputs()[0].shape
        assert shape[1:] == [model.card.input.size, model.card.input.size, 3]


@pytest.mark.parametrize("enrolled", [True, False], ids=["with-enrolled-embeddings", "unknown-user"])
def test_real_photo_scores_are_probabilities_and_deterministic(shipped: LivenessEnsemble, enrolled: bool) -> None:
    engine = FaceEngine()
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg"):
        rgb = photo_rgb(name)
        (box,) = engine.detect(rgb)
        refs = {k: v[None] for k, v in shipped.embed_references(rgb, box).items()} if enrolled else None
        first = shipped.score_face(rgb, box, refs)
        again = shipped.score_face(rgb, box, refs)
        assert 0.0 <= first.live_score <= 1.0 and not math.isnan(first.live_score)
        assert first == again
        if enrolled:
            assert set(first.models) == set(shipped.models)
        else:  # identity-aware members abstain; the others still answer
            assert first.models and set(first.models) <= set(shipped.models)


def test_a_flat_grey_square_is_not_a_confident_live_face(shipped: LivenessEnsemble) -> None:
    # No texture, no face: whatever the models say, it must not be a certain "live".
    ensemble = shipped
    grey = np.full((200, 200, 3), 128, np.uint8)
    from webapp.face import Box

    score = ensemble.score_face(grey, Box(50, 50, 150, 150))
    assert score.live_score < 0.99


def test_the_ensemble_card_states_its_unseen_source_figures(shipped: LivenessEnsemble) -> None:
    raw = load_json(MODELS_DIR / "ensemble.json")
    validation = raw["metrics"]["validation"]
    assert "leave-one-set-out" in validation["method"]
    for key in ("bpcer", "apcer_max", "acer", "eer"):
        assert 0.0 <= validation[key] <= 1.0, key
    # The threshold the service applies is the one the figures were measured at.
    assert shipped.threshold == raw["threshold"]
