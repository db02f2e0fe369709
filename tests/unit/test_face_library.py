from __future__ import annotations

import numpy as np
import pytest

from tests.support.frames import photo_rgb, side_by_side, webcam_frame
from webapp.face import Box, CropSpec, FaceEngine, crop_box, crop_face, match, measure_quality


def test_box_geometry() -> None:
    a, b = Box(0, 0, 10, 10), Box(5, 0, 15, 10)
    assert a.area == 100 and a.center == (5.0, 5.0)
    assert a.iou(b) == pytest.approx(50 / 150)
    assert a.iou(Box(20, 20, 30, 30)) == 0.0
    assert Box.from_list(a.as_list()) == a


def test_crop_box_is_a_scaled_square() -> None:
    region = crop_box(Box(100, 100, 200, 160), 1.5)
    assert region.width == region.height == 150
    assert region.center == (150.0, 130.0)


def test_crop_face_pads_outside_the_image_by_replication() -> None:
    rgb = np.zeros((100, 100, 3), np.uint8)
    rgb[:, :50] = 200  # left half bright
    crop = crop_face(rgb, Box(-20, 10, 40, 70), CropSpec(size=32, scale=1.0))
    assert crop.shape == (32, 32, 3) and crop.dtype == np.uint8
    assert crop[:, 0].mean() == 200  # the out-of-image left part repeats the edge, not black


def test_crop_face_outside_image_raises() -> None:
    with pytest.raises(ValueError):
        crop_face(np.zeros((10, 10, 3), np.uint8), Box(50, 50, 60, 60), CropSpec(16, 1.0))


def test_match_takes_the_nearest_template() -> None:
    enc = np.zeros(128)
    templates = np.stack([np.full(128, 0.1), np.full(128, 0.01)])
    result = match(enc, templates, tolerance=0.5)
    assert result.match and result.distance == pytest.approx(np.sqrt(128) * 0.01)
    empty = match(enc, np.zeros((0, 128)), tolerance=0.5)
    assert not empty.match and empty.distance == float("inf")


@pytest.mark.slow  # dlib: face detection
def test_detect_one_face_in_a_webcam_sized_frame() -> None:
    frame = webcam_frame(photo_rgb("obama.jpg"))
    boxes = FaceEngine().detect(frame)
    assert len(boxes) == 1
    assert 60 < boxes[0].width < 250


@pytest.mark.slow  # dlib: face detection
def test_detect_two_faces_largest_first() -> None:
    frame = side_by_side(photo_rgb("obama.jpg"), photo_rgb("biden.jpg"))
    boxes = FaceEngine().detect(frame)
    assert len(boxes) == 2
    assert boxes[0].area >= boxes[1].area


@pytest.mark.slow  # dlib: face detection
def test_detect_nothing_in_a_blank_frame() -> None:
    assert FaceEngine().detect(np.full((360, 480, 3), 128, np.uint8)) == []


@pytest.mark.slow  # dlib: face detection
def test_tight_crop_found_by_the_padded_retry() -> None:
    rgb = photo_rgb("obama.jpg")
    engine = FaceEngine()
    (box,) = engine.detect(rgb)
    tight = crop_face(rgb, box, CropSpec(size=150, scale=1.0))  # face fills the image, like dataset crops
    found = engine.detect(tight)
    assert len(found) == 1
    assert found[0].width > 100


@pytest.mark.slow  # dlib: face detection
def test_region_search_finds_the_face_near_its_last_box_in_original_coordinates() -> None:
    frame = webcam_frame(photo_rgb("obama.jpg"))
    engine = FaceEngine()
    (box,) = engine.detect(frame)
    # The face moved a little since the previous frame's box.
    moved = Box(box.left + 12, box.top - 8, box.right + 12, box.bottom - 8)
    (found,) = engine.detect_region(frame, moved)
    assert found.iou(box) > 0.6  # the same face, boxed where the full search boxes it
    # The region sees only the region: the second face of a crowded frame is not in it, which
    # is why the login search trusts a region only as login/tracking.py says.
    two = side_by_side(photo_rgb("obama.jpg"), photo_rgb("biden.jpg"))
    boxes = engine.detect(two)
    assert len(boxes) == 2 and len(engine.detect_region(two, boxes[0])) == 1
    assert engine.detect_region(frame, Box(2000, 2000, 2100, 2100)) == []  # off the frame


@pytest.mark.slow  # dlib: face detection
def test_region_search_sees_a_face_at_the_border_and_the_quick_pass_a_big_one() -> None:
    rgb = photo_rgb("obama.jpg")
    engine = FaceEngine()
    (box,) = engine.detect(rgb)
    tight = crop_face(rgb, box, CropSpec(size=150, scale=1.0))  # the face touches every border
    (found,) = engine.detect_region(tight, Box(0, 0, 150, 150))  # replicated edges, like the retry
    assert found.width > 100
    (quick,) = engine.detect_quick(webcam_frame(rgb))
    assert quick.iou(engine.detect(webcam_frame(rgb))[0]) > 0.6


@pytest.mark.slow  # dlib: face detection
def test_quality_reflects_blur_and_light() -> None:
    import cv2

    rgb = photo_rgb("obama.jpg")
    (box,) = FaceEngine().detect(rgb)
    sharp = measure_quality(rgb, box)
    blurred = measure_quality(cv2.GaussianBlur(rgb, (0, 0), 6), box)
    dark = measure_quality((rgb * 0.2).astype(np.uint8), box)
    assert blurred.sharpness < sharp.sharpness / 3
    assert dark.brightness < sharp.brightness / 3
    assert sharp.face_px == min(box.width, box.height)
    assert sharp.problems(80, 40.0, (40, 220)) == []
    assert any("dark" in p or "lit" in p for p in dark.problems(80, 40.0, (40, 220)))
