"""ISO/IEC 30107-3 metrics on hand-made score sets whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from ml.metrics import (
    Presentations,
    apcer_per_species,
    bootstrap_ci,
    bpcer,
    bpcer_at_apcer,
    eer,
    pad_report,
    point_metrics,
    threshold_for_bpcer,
)

NAN = float("nan")


def _p(scores: list[float], labels: list[int], species: list[str]) -> Presentations:
    return Presentations(np.array(scores, float), np.array(labels), np.array(species))


@pytest.fixture
def small() -> Presentations:
    # 4 live (one below 0.5), 3 print (one above 0.5), 2 replay (none above 0.5), 1 live without a face.
    return _p(
        [0.9, 0.8, 0.7, 0.2, 0.6, 0.1, 0.3, 0.4, 0.45, NAN],
        [1, 1, 1, 1, 0, 0, 0, 0, 0, 1],
        ["bona_fide"] * 4 + ["print"] * 3 + ["replay"] * 2 + ["bona_fide"],
    )


def test_apcer_is_per_species_share_of_attacks_accepted(small: Presentations) -> None:
    s, lab, sp = small.effective_scores("exclude")
    assert apcer_per_species(s, lab, sp, 0.5) == {"print": pytest.approx(1 / 3), "replay": 0.0}


def test_bpcer_counts_a_live_face_the_pipeline_cannot_find_as_rejected(small: Presentations) -> None:
    rejected = point_metrics(small, 0.5, "reject")
    excluded = point_metrics(small, 0.5, "exclude")
    assert rejected["bpcer"] == pytest.approx(2 / 5)  # 0.2 and the no-face one
    assert excluded["bpcer"] == pytest.approx(1 / 4)
    assert rejected["n_live"] == 5 and excluded["n_live"] == 4


def test_acer_uses_the_worst_species(small: Presentations) -> None:
    m = point_metrics(small, 0.5, "reject")
    assert m["apcer_max"] == pytest.approx(1 / 3)
    assert m["acer"] == pytest.approx((1 / 3 + 2 / 5) / 2)
    assert m["apcer_pooled"] == pytest.approx(1 / 5)


def test_a_spoof_without_a_face_is_a_correct_rejection() -> None:
    p = _p([0.9, NAN], [1, 0], ["bona_fide", "replay"])
    m = point_metrics(p, 0.5, "reject")
    assert m["apcer"] == {"replay": 0.0} and m["bpcer"] == 0.0


def test_eer_of_separable_scores_is_zero_and_of_identical_scores_is_half() -> None:
    labels = np.array([1, 1, 0, 0])
    assert eer(np.array([0.9, 0.8, 0.2, 0.1]), labels)[0] == 0.0
    assert eer(np.array([0.5, 0.5, 0.5, 0.5]), labels)[0] == pytest.approx(0.5)
    e, thr = eer(np.array([0.9, 0.3, 0.6, 0.1]), labels)  # one error each way at best
    assert e == pytest.approx(0.5) and 0.1 < thr <= 0.9


def test_bpcer_at_apcer_holds_every_species_to_the_target() -> None:
    # 20 print attacks scoring 0.00..0.95 and live scores 0.5..0.95: for APCER <= 5 % the
    # threshold must exceed the 19th print score (0.90), rejecting every live score below it.
    prints = np.arange(20) * 0.05
    live = np.arange(10) * 0.05 + 0.5
    scores = np.concatenate([live, prints])
    labels = np.array([1] * 10 + [0] * 20)
    species = np.array(["bona_fide"] * 10 + ["print"] * 20)
    assert bpcer_at_apcer(scores, labels, species, 0.05) == pytest.approx(0.9)  # only 0.95 survives
    assert bpcer_at_apcer(scores, labels, species, 1.0) == 0.0


def test_threshold_for_bpcer_keeps_the_allowed_share_of_live_above_it() -> None:
    live = np.linspace(0.0, 1.0, 101)
    labels = np.ones(101, int)
    thr = threshold_for_bpcer(live, labels, 0.05)
    assert bpcer(live, labels, thr) <= 0.05
    assert bpcer(live, labels, thr + 0.011) > 0.05


def test_report_has_the_required_keys_and_fractions(small: Presentations) -> None:
    doc = pad_report(small, 0.5, reps=50)
    for key in ("apcer", "apcer_max", "bpcer", "acer", "eer", "n_live", "n_spoof", "n_no_face"):
        assert key in doc
    assert doc["n_no_face"] == 1 and doc["n_no_face_live"] == 1
    for key in ("apcer_max", "bpcer", "acer", "eer", "accuracy", "f1"):
        assert 0.0 <= doc[key] <= 1.0
    assert "detected_only" in doc
    lo, hi = doc["ci95"]["bpcer"]
    assert 0.0 <= lo <= hi <= 1.0


def test_bootstrap_interval_narrows_with_more_presentations() -> None:
    rng = np.random.default_rng(0)

    def make(n: int) -> Presentations:
        live = rng.normal(0.7, 0.15, n)
        spoof = rng.normal(0.3, 0.15, n)
        return Presentations(np.concatenate([live, spoof]), np.array([1] * n + [0] * n), np.array(["bona_fide"] * n + ["replay"] * n))

    width = lambda ci: ci["acer"][1] - ci["acer"][0]  # noqa: E731
    assert width(bootstrap_ci(make(2000), 0.5, reps=100)) < width(bootstrap_ci(make(40), 0.5, reps=100))


def test_presentations_refuse_misaligned_arrays() -> None:
    with pytest.raises(ValueError):
        Presentations(np.zeros(3), np.zeros(2), np.array(["a", "b", "c"]))
