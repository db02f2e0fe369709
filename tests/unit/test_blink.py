"""The learned blink detector: features, the shipped ONNX model and its card (webapp/challenge/blink.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from flask import Flask

from webapp.challenge.blink import (
    CARD_FILE,
    DEFAULT_DIR,
    FEATURES_VERSION,
    BlinkCard,
    BlinkDetector,
    append_history,
    feature_names,
    frames_since_closed,
    gaps,
    window_features,
)

BASE = 0.30


@pytest.fixture(scope="module")
def detector() -> BlinkDetector:
    return BlinkDetector.load()


def stream(ratios: list[float], dt: float = 0.2, seed: int = 0, noise: float = 0.02) -> tuple[list[float], list[float]]:
    """EARs (baseline 0.30) with landmark-like jitter, and regular gaps."""
    rng = np.random.default_rng(seed)
    ears = [BASE * r * (1 + rng.normal(0, noise)) for r in ratios]
    return ears, [dt] * (len(ears) - 1)


def test_feature_row_matches_its_names() -> None:
    ears, dts = stream([1, 1, 1, 0.4, 1, 1, 1, 1])
    row = window_features(ears, dts, BASE, 8)
    names = feature_names(8)
    assert row.dtype == np.float32 and row.shape == (len(names),)
    f = dict(zip(names, row.tolist(), strict=True))
    assert f["local_depth"] < 0.5
    assert f["open_before"] == 1.0 and f["open_after"] == 1.0
    assert f["frames_since_min"] == 4.0
    assert f["dt_before"] == pytest.approx(0.2) and f["mean_dt"] == pytest.approx(0.2)


def test_features_do_not_depend_on_eye_shape() -> None:
    ears, dts = stream([1, 0.95, 1.02, 0.5, 0.9, 1.0])
    a = window_features(ears, dts, BASE, 8)
    b = window_features([e * 1.4 for e in ears], dts, BASE * 1.4, 8)
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_short_histories_are_padded_with_their_oldest_frame() -> None:
    row = dict(zip(feature_names(8), window_features([0.12, 0.3, 0.31], [0.2, 0.2], BASE, 8).tolist(), strict=True))
    # The closed frame is the oldest one: padding repeats it, so nothing shows an open eye before.
    assert row["open_before"] == 0.0
    assert row["ratio_0"] == pytest.approx(0.4) and row["ratio_4"] == pytest.approx(0.4)
    # Only the newest len(ears) - 1 gaps are read.
    longer = window_features([0.12, 0.3, 0.31], [9.0, 0.2, 0.2], BASE, 8)
    np.testing.assert_array_equal(longer, window_features([0.12, 0.3, 0.31], [0.2, 0.2], BASE, 8))


@pytest.mark.parametrize(
    ("ears", "dts", "baseline", "window"),
    [
        ([0.3, 0.3], [0.2], 0.0, 8),
        ([0.3, 0.3], [0.2], float("nan"), 8),
        ([], [], 0.3, 8),
        ([0.3, 0.3, 0.3], [0.2], 0.3, 8),
        ([0.3, 0.3], [0.2], 0.3, 2),
    ],
)
def test_bad_inputs_are_refused(ears: list[float], dts: list[float], baseline: float, window: int) -> None:
    with pytest.raises(ValueError):
        window_features(ears, dts, baseline, window)


def test_outliers_are_clipped() -> None:
    row = dict(zip(feature_names(8), window_features([0.3, 5.0, float("nan"), 0.3], [0.2, 0.2, 0.2], BASE, 8).tolist(), strict=True))
    assert all(0.0 <= row[f"ratio_{i}"] <= 2.0 for i in range(8))


def test_card_describes_the_shipped_file() -> None:
    card = BlinkCard.load(DEFAULT_DIR)
    card.verify_file()
    assert card.features == FEATURES_VERSION
    assert card.window >= 3 and 0.0 < card.threshold < 1.0
    raw = json.loads((DEFAULT_DIR / CARD_FILE).read_text())
    assert raw["inputs"]["features"] == feature_names(card.window)
    assert {"leave_one_video_out", "rule_baseline", "held_out"} <= set(raw["metrics"])
    assert raw["limits"] and raw["training"]["live_clips"]


def test_a_clear_blink_is_seen(detector: BlinkDetector) -> None:
    for seed in range(5):
        ears, dts = stream([1, 1, 1, 1, 0.45, 1, 1], seed=seed)
        assert detector.probability(ears, dts, BASE) >= detector.threshold
        assert detector.blink_seen(ears, dts, BASE)


def test_open_eyes_with_jitter_are_not_a_blink(detector: BlinkDetector) -> None:
    seen = [detector.blink_seen(*stream([1.0] * 8, seed=seed, noise=0.04), BASE) for seed in range(40)]
    assert not any(seen)


def test_a_closed_eye_that_has_not_reopened_is_not_yet_a_blink(detector: BlinkDetector) -> None:
    ears, dts = stream([1, 1, 1, 1, 1, 1, 1, 0.4])
    assert not detector.blink_seen(ears, dts, BASE)
    ears2, dts2 = stream([1, 1, 1, 1, 1, 1, 0.4, 1])
    assert detector.probability(ears2, dts2, BASE) > detector.probability(ears, dts, BASE)


def test_fewer_than_three_frames_never_show_a_blink(detector: BlinkDetector) -> None:
    assert not detector.blink_seen([0.3, 0.1], [0.2], BASE, threshold=0.0)


def test_probability_is_deterministic_and_bounded(detector: BlinkDetector) -> None:
    ears, dts = stream([1, 0.9, 0.6, 0.8, 1, 1])
    p = detector.probability(ears, dts, BASE)
    assert 0.0 <= p <= 1.0
    assert detector.probability(ears, dts, BASE) == p
    rows = np.stack([window_features(ears, dts, BASE, detector.window)] * 3)
    np.testing.assert_allclose(detector.probabilities(rows), [p] * 3, rtol=1e-6)


def test_the_detector_is_loaded_once_per_worker(app: Flask) -> None:
    from webapp.runtime.worker import runtime

    with app.app_context():
        rt = runtime()
        first = rt.require_blink()
        assert first is not None and first is rt.require_blink()
        assert first.card.path == DEFAULT_DIR


def test_history_keeps_the_newest_frames_as_small_json() -> None:
    ears: list[float] = []
    times: list[float] = []
    for i in range(12):
        append_history(ears, times, 0.3 + i / 1000, 10.0 + 0.2 * i, keep=8)
    assert len(ears) == len(times) == 8
    assert ears[0] == pytest.approx(0.304) and times[-1] == pytest.approx(12.2)
    assert gaps(times) == pytest.approx([0.2] * 7)
    assert len(json.dumps({"ears": ears, "times": times})) < 200


def test_frames_since_closed_points_at_the_dip_inside_the_window() -> None:
    assert frames_since_closed([0.3, 0.1, 0.3, 0.31], 10) == 2
    assert frames_since_closed([0.05, 0.3, 0.3, 0.1, 0.3], 3) == 1  # older dips are outside the window
    assert frames_since_closed([0.3, float("nan"), 0.2], 10) == 0
    with pytest.raises(ValueError):
        frames_since_closed([], 10)


def test_a_card_for_other_features_or_another_file_is_refused(tmp_path: Path) -> None:
    for name in (CARD_FILE, BlinkCard.load(DEFAULT_DIR).file):
        shutil.copy(DEFAULT_DIR / name, tmp_path / name)
    card = json.loads((tmp_path / CARD_FILE).read_text())
    (tmp_path / CARD_FILE).write_text(json.dumps({**card, "features": "blink-window-v0"}))
    with pytest.raises(ValueError, match="features"):
        BlinkCard.load(tmp_path)
    (tmp_path / CARD_FILE).write_text(json.dumps(card))
    model = tmp_path / card["file"]
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(ValueError, match="sha256"):
        BlinkDetector.load(tmp_path)
