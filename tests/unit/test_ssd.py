"""The context detector's PriorBox and DetectionOutput in numpy (webapp/face/ssd.py), on
hand-made inputs: a post-processing bug fails here, without the network.

The slow tests (tests/ml/test_detector_onnx.py) compare the whole against cv2.dnn on real frames.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webapp.face.retinaface import CARD_FILE, DEFAULT_DIR, DetectorCard
from webapp.face.ssd import DetectionParams, PriorLevel, decode, detection_output, feature_size, iou_matrix, nms, prior_boxes
from webapp.runtime.files import CardError

VAR = (0.1, 0.1, 0.2, 0.2)


def params(**kw: float) -> DetectionParams:
    base = {"variance": VAR, "confidence_threshold": 0.1, "nms_threshold": 0.3, "top_k": 400, "keep_top_k": 200}
    base.update(kw)
    return DetectionParams(**base)  # type: ignore[arg-type]


def test_feature_sizes_round_up_at_each_stride_two_stage() -> None:
    # a 640x480 frame becomes a 221x166 blob: 1/8, 1/16 and 1/32 maps of the backbone
    assert [feature_size(221, n) for n in (3, 4, 5)] == [28, 14, 7]
    assert [feature_size(166, n) for n in (3, 4, 5)] == [21, 11, 6]
    assert feature_size(7, 0) == 7
    assert PriorLevel((16.0,), 8.0).downsampling == 3
    with pytest.raises(ValueError, match="power of two"):
        _ = PriorLevel((16.0,), 12.0).downsampling


def test_priors_are_row_major_with_the_min_sizes_innermost_and_normalised_by_the_input() -> None:
    # a 32x16 input at step 16: a 2-wide, 1-high map; two sizes per cell
    priors = prior_boxes((PriorLevel((8.0, 16.0), 16.0, 0.5),), 32, 16)
    expected = np.array(
        [
            [(8 - 4) / 32, (8 - 4) / 16, (8 + 4) / 32, (8 + 4) / 16],  # cell (0, 0), size 8
            [(8 - 8) / 32, (8 - 8) / 16, (8 + 8) / 32, (8 + 8) / 16],  # cell (0, 0), size 16
            [(24 - 4) / 32, (8 - 4) / 16, (24 + 4) / 32, (8 + 4) / 16],  # cell (0, 1), size 8
            [(24 - 8) / 32, (8 - 8) / 16, (24 + 8) / 32, (8 + 8) / 16],
        ],
        dtype=np.float32,
    )
    np.testing.assert_allclose(priors, expected, atol=1e-7)
    assert priors.dtype == np.float32


def test_priors_of_several_levels_follow_one_another_and_rows_before_columns() -> None:
    levels = (PriorLevel((4.0,), 2.0), PriorLevel((8.0,), 4.0))
    priors = prior_boxes(levels, 4, 6)  # level 1: 2 wide x 3 high; level 2: 1 x 2
    assert priors.shape == (2 * 3 + 1 * 2, 4)
    centres_x = (priors[:, 0] + priors[:, 2]) / 2 * 4
    centres_y = (priors[:, 1] + priors[:, 3]) / 2 * 6
    np.testing.assert_allclose(centres_x, [1, 3, 1, 3, 1, 3, 2, 2], atol=1e-6)
    np.testing.assert_allclose(centres_y, [1, 1, 3, 3, 5, 5, 2, 6], atol=1e-6)


def test_priors_are_not_clipped_to_the_input() -> None:
    priors = prior_boxes((PriorLevel((64.0,), 8.0),), 16, 16)
    assert priors.min() < 0 and priors.max() > 1


def test_decode_with_zero_offsets_is_the_prior_and_follows_center_size_with_variances() -> None:
    prior = np.array([[0.2, 0.4, 0.6, 0.6]], dtype=np.float32)  # centre (0.4, 0.5), size (0.4, 0.2)
    np.testing.assert_allclose(decode(np.zeros((1, 4), np.float32), prior, VAR), prior, atol=1e-7)
    loc = np.array([[1.0, -2.0, np.log(2) / 0.2, 0.0]], dtype=np.float32)
    # centre x 0.4 + 0.1*1*0.4 = 0.44, y 0.5 - 0.1*2*0.2 = 0.46; width 0.8, height 0.2
    np.testing.assert_allclose(decode(loc, prior, VAR), [[0.04, 0.36, 0.84, 0.56]], atol=1e-6)


def test_iou_of_normalised_boxes_has_no_plus_one_and_empty_boxes_overlap_nothing() -> None:
    a = np.array([[0.0, 0.0, 0.2, 0.2], [0.0, 0.0, 0.2, 0.2], [0.5, 0.5, 0.4, 0.6]], dtype=np.float32)
    b = np.array([[0.1, 0.0, 0.3, 0.2], [0.3, 0.3, 0.4, 0.4], [0.4, 0.5, 0.6, 0.6]], dtype=np.float32)
    iou = iou_matrix(a, b)
    assert iou[0, 0] == pytest.approx(0.02 / 0.06, rel=1e-5)  # half-overlapping squares: 1/3
    assert iou[1, 1] == 0.0  # disjoint
    assert iou[2, 2] == 0.0  # a has negative width: no size, no overlap
    np.testing.assert_allclose(iou_matrix(b[:1], b[:1]), [[1.0]], rtol=1e-6)


def test_nms_keeps_the_best_of_overlapping_boxes_and_every_separate_one() -> None:
    boxes = np.array(
        [
            [0.10, 0.10, 0.30, 0.30],  # 0: best of a cluster
            [0.11, 0.10, 0.31, 0.30],  # 1: overlaps 0 by ~0.9 -> suppressed
            [0.60, 0.60, 0.80, 0.80],  # 2: separate
            [0.20, 0.10, 0.40, 0.30],  # 3: overlaps 1 by 0.38 > 0.3 -> suppressed
            [0.70, 0.10, 0.90, 0.30],  # 4: below the confidence floor
        ],
        dtype=np.float32,
    )
    scores = np.array([0.9, 0.95, 0.5, 0.4, 0.1], dtype=np.float32)
    kept = nms(boxes, scores, 0.1, 0.3, 400)
    assert kept.tolist() == [1, 2]  # 1 outscores 0 and suppresses it; 4 is not strictly above 0.1


def test_nms_keeps_a_box_whose_overlap_is_at_the_threshold_and_ties_keep_their_order() -> None:
    boxes = np.array([[0.0, 0.0, 0.2, 0.2], [0.1, 0.0, 0.3, 0.2], [0.5, 0.5, 0.7, 0.7]], dtype=np.float32)
    scores = np.array([0.8, 0.8, 0.8], dtype=np.float32)
    assert nms(boxes, scores, 0.1, 0.34, 400).tolist() == [0, 1, 2]  # IoU 1/3 <= 0.34: kept
    assert nms(boxes, scores, 0.1, 0.33, 400).tolist() == [0, 2]  # IoU 1/3 > 0.33: gone
    assert nms(boxes, scores, 0.1, 0.34, 2).tolist() == [0, 1]  # top_k cuts before NMS
    assert nms(boxes, scores, 0.9, 0.3, 400).tolist() == []


def test_detection_output_rows_are_confidence_then_corners_most_confident_first() -> None:
    priors = np.array([[0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.9, 0.9], [0.52, 0.5, 0.92, 0.9]], dtype=np.float32)
    loc = np.zeros((3, 4), np.float32)
    conf = np.array([[0.4, 0.6], [0.1, 0.9], [0.2, 0.8]], dtype=np.float32)
    rows = detection_output(loc, conf, priors, params())
    np.testing.assert_allclose(rows, [[0.9, 0.5, 0.5, 0.9, 0.9], [0.6, 0.1, 0.1, 0.3, 0.3]], atol=1e-6)
    assert detection_output(loc, conf, priors, params(keep_top_k=1)).shape == (1, 5)
    assert detection_output(loc, conf, priors, params(confidence_threshold=0.95)).shape == (0, 5)


def test_detection_output_refuses_heads_that_do_not_match_the_priors() -> None:
    priors = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="do not match"):
        detection_output(np.zeros((4, 4), np.float32), np.zeros((4, 2), np.float32), priors, params())


# --- the card that carries these parameters --------------------------------------------------


def _card_copy(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    data = json.loads((DEFAULT_DIR / CARD_FILE).read_text())
    edit(data)
    (tmp_path / CARD_FILE).write_text(json.dumps(data))
    return tmp_path


def test_the_shipped_card_carries_the_prototxt_post_processing() -> None:
    card = DetectorCard.load(verify=False)  # no file read: the parameters only
    assert card.priors == (PriorLevel((16.0, 32.0), 8.0), PriorLevel((64.0, 128.0), 16.0), PriorLevel((256.0, 512.0), 32.0))
    assert card.detection == params()
    assert card.onnx.name == "retinaface.onnx" and card.model.name.endswith(".caffemodel")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["files"].pop("onnx"), "onnx"),
        (lambda d: d.pop("postprocess"), "postprocess"),
        (lambda d: d["postprocess"]["priors"][0].update(step=12.0), "power of two"),
        (lambda d: d["postprocess"].update(variance=[0.1, 0.2]), "4 variances"),
        (lambda d: d["postprocess"]["detection_output"].update(code_type="CORNER"), "CENTER_SIZE"),
        (lambda d: d["postprocess"]["detection_output"].update(top_k="many"), "many"),
    ],
    ids=["no-onnx-file", "no-postprocess", "odd-step", "two-variances", "corner-code", "bad-top-k"],
)
def test_a_card_with_broken_post_processing_is_refused(tmp_path: Path, edit: Callable[[dict[str, Any]], None], message: str) -> None:
    with pytest.raises(CardError, match=message):
        DetectorCard.load(_card_copy(tmp_path, edit), verify=False)


@pytest.mark.parametrize("size", [(480, 640), (360, 480), (101, 77), (640, 480)], ids=["640x480", "480x360", "small", "portrait"])
def test_the_blob_of_an_rgb_frame_is_the_one_of_its_bgr_copy(size: tuple[int, int]) -> None:
    """RetinaFace.blob resizes the RGB frame and swaps inside blobFromImage; the Caffe
    convention (and the parity study) flipped the whole frame to BGR first: the same bytes."""
    import cv2

    from webapp.face.retinaface import RetinaFace

    detector = RetinaFace(DetectorCard.load(verify=False))  # no session: blob() needs none
    rgb = np.random.default_rng(size[0]).integers(0, 255, (*size, 3), dtype=np.uint8)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    expected = cv2.dnn.blobFromImage(np.ascontiguousarray(detector.network_input(bgr)), 1.0, mean=detector.card.mean)
    np.testing.assert_array_equal(detector.blob(rgb), expected)
