"""The models shipped in webapp/assets/models: loadable by the service, small, documented, sane."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.support.frames import photo_rgb
from webapp.config import DEFAULTS
from webapp.face import Box, FaceEngine
from webapp.face.retinaface import RetinaFace, ScoredBox, context_box
from webapp.liveness import LivenessEnsemble, load_ensemble
from webapp.runtime.files import cpu_session, load_json

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


def test_cards_state_data_metrics_limits_and_origin(shipped: LivenessEnsemble) -> None:
    for model in shipped.models.values():
        raw = load_json(model.card.model_path.with_suffix(".json"))
        assert raw["limits"] and any("mask" in limit for limit in raw["limits"])
        assert raw["training"]["data"], model.name
        metrics = raw["metrics"]["validation"]
        assert metrics["method"], f"{model.name}: no validation method in its card"
        blocks = [v for v in metrics.values() if isinstance(v, dict) and "bpcer" in v]
        assert any("apcer_max" in b for b in blocks), f"{model.name}: no validation figures in its card"
        for block in blocks:  # every rate a fraction in [0, 1], whoever measured it
            for key in ("bpcer", "apcer_max", "apcer_pooled", "acer", "eer"):
                if key in block:
                    assert 0.0 <= block[key] <= 1.0, (model.name, key, block[key])
        if "source" in raw:  # a pretrained member: where it came from and under which licence
            assert raw["source"]["repository"] and raw["licence"]["spdx"] == "Apache-2.0"
            assert (MODELS_DIR / raw["licence"]["file"]).is_file() and (MODELS_DIR / raw["licence"]["notice"]).is_file()


def test_onnx_input_matches_the_card(shipped: LivenessEnsemble) -> None:
    for model in shipped.models.values():
        sess = cpu_session(model.card.model_path)
        shape = sess.get_inputs()[0].shape
        size = model.card.input.size
        expected = [3, size, size] if model.card.input.layout == "NCHW" else [size, size, 3]
        assert shape[1:] == expected


def context_of(rgb: np.ndarray, box: Box) -> ScoredBox | None:
    return context_box(RetinaFace.load(), rgb, box)


@pytest.mark.parametrize("enrolled", [True, False], ids=["with-enrolled-embeddings", "unknown-user"])
def test_real_photo_scores_are_probabilities_and_deterministic(shipped: LivenessEnsemble, enrolled: bool) -> None:
    engine = FaceEngine()
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg"):
        rgb = photo_rgb(name)
        (box,) = engine.detect(rgb)
        context = context_of(rgb, box)
        assert context is not None, name  # the context detector sees the face dlib found
        refs = {k: v[None] for k, v in shipped.embed_references(rgb, box).items()} if enrolled else None
        first = shipped.score_face(rgb, box, refs, context)
        again = shipped.score_face(rgb, box, refs, context)
        assert first.live_score is not None
        assert 0.0 <= first.live_score <= 1.0 and not math.isnan(first.live_score)
        assert first == again
        needs_refs = {m.name for m in shipped.reference_models()}
        if enrolled:
            assert set(first.models) == set(shipped.models)
        else:  # identity-aware members abstain; the others still answer
            assert first.models and set(first.models) == set(shipped.models) - needs_refs


def test_without_its_context_box_a_context_member_abstains(shipped: LivenessEnsemble) -> None:
    rgb = photo_rgb("obama.jpg")
    (box,) = FaceEngine().detect(rgb)
    framed_on_context = {n for n, m in shipped.models.items() if m.crop_spec.box == "retinaface"}
    score = shipped.score_face(rgb, box, None, None)
    assert not framed_on_context & set(score.models)
    if framed_on_context == set(shipped.models):
        assert score.live_score is None  # nothing scored: the frame does not count, it is not "live"


def test_a_flat_grey_square_is_not_a_confident_live_face(shipped: LivenessEnsemble) -> None:
    # No texture, no face: whatever the models say, it must not be a certain "live".
    grey = np.full((200, 200, 3), 128, np.uint8)
    assert RetinaFace.load().detect(grey) == []  # the context detector sees nothing there
    score = shipped.score_face(grey, Box(50, 50, 150, 150), None, ScoredBox(50.0, 50.0, 150.0, 150.0, 0.9))
    assert score.live_score is not None and score.live_score < 0.99


def test_the_ensemble_card_states_its_attempt_level_figures(shipped: LivenessEnsemble) -> None:
    raw = load_json(MODELS_DIR / "ensemble.json")
    attempts = raw["metrics"]["attempt_level"]
    assert "20 frames" in attempts["method"]
    for source in ("videos", "nuaa_subject_session"):
        for key in ("bpcer", "apcer", "eer"):
            assert 0.0 <= attempts[source][key] <= 1.0, (source, key)
        assert attempts[source]["n_live"] > 0 and attempts[source]["n_attack"] > 0
    # The threshold the service applies is the one the figures were measured at.
    assert shipped.threshold == raw["threshold"]
