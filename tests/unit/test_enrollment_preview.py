"""Webcam enrollment hints (webapp/accounts/preview.py): the sign-in's guidance at the
enrollment's quality bars, on frames whose face box a stand-in detector gives (no dlib here;
tests/api/test_admin_api.py runs the real detector through the endpoint)."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest

from webapp.accounts.preview import enrollment_guidance, preview_frame
from webapp.config import DEFAULTS
from webapp.face.types import Box
from webapp.login.hints import GuidanceSettings
from webapp.settings import EnrollSettings

GUIDE = GuidanceSettings()
BARS = EnrollSettings(
    limits=None,  # type: ignore[arg-type]  (not read here)
    max_images=DEFAULTS["ENROLL_MAX_IMAGES"],
    min_face_px=DEFAULTS["ENROLL_MIN_FACE_PX"],
    min_sharpness=DEFAULTS["ENROLL_MIN_SHARPNESS"],
    brightness_range=tuple(DEFAULTS["ENROLL_BRIGHTNESS_RANGE"]),  # type: ignore[arg-type]
    min_webcam_frames=DEFAULTS["ENROLL_MIN_FRAMES"],
)


@dataclass
class _Detector:
    boxes: list[Box]

    def detect(self, rgb: np.ndarray) -> list[Box]:
        return list(self.boxes)


def _runtime(*boxes: Box) -> Any:
    """A runtime whose face engine is the scripted detector (``require_face`` as the real
    Runtime's, with the models loaded)."""
    engine = _Detector(list(boxes))
    return SimpleNamespace(engine=engine, require_face=lambda: engine)


def _frame(level: int = 120, face_level: int = 130, box: Box | None = None, w: int = 640, h: int = 480, sharp: bool = True) -> np.ndarray:
    """A grey frame with a textured "face" patch in ``box`` (a checkerboard: sharp unless blurred)."""
    rgb = np.full((h, w, 3), level, np.uint8)
    if box is not None:
        yy, xx = np.mgrid[box.top : box.bottom, box.left : box.right]
        patch = np.where(((yy // 6) + (xx // 6)) % 2 == 0, face_level - 25, face_level + 25).astype(np.uint8)
        if not sharp:
            patch = cv2.GaussianBlur(patch, (0, 0), 6)
        rgb[box.top : box.bottom, box.left : box.right] = patch[..., None]
    return rgb


CENTRED = Box(240, 150, 400, 330)  # 160 px wide: 0.25 of the frame, centred


def test_the_sign_in_thresholds_tighten_to_the_enrollment_bars() -> None:
    cfg = enrollment_guidance(GUIDE, BARS)
    low, high = BARS.brightness_range
    assert cfg.dark_level == max(GUIDE.dark_level, low) and cfg.bright_level == min(GUIDE.bright_level, high)
    assert cfg.min_sharpness == max(GUIDE.min_sharpness, BARS.min_sharpness) > GUIDE.min_sharpness
    assert (cfg.min_face_share, cfg.max_face_share, cfg.max_offset) == (GUIDE.min_face_share, GUIDE.max_face_share, GUIDE.max_offset)


def test_a_good_face_fits_and_is_ready() -> None:
    p = preview_frame(_frame(box=CENTRED), _runtime(CENTRED), GUIDE, BARS)
    assert (p.faces, p.hints, p.face_fits, p.ready) == (1, [], True, True)


@pytest.mark.parametrize(
    ("frame", "boxes", "hints", "fits"),
    [
        (_frame(), [], ["no_face"], False),
        (_frame(level=15), [], ["too_dark", "no_face"], False),
        (_frame(box=CENTRED), [CENTRED, Box(20, 20, 120, 140)], ["multiple_faces"], False),
        (_frame(box=Box(290, 200, 350, 270)), [Box(290, 200, 350, 270)], ["move_closer"], False),  # 60 px: 0.09 of the width
        (_frame(box=Box(480, 150, 620, 320)), [Box(480, 150, 620, 320)], ["off_centre"], False),
        (_frame(face_level=45, box=CENTRED), [CENTRED], ["too_dark"], True),  # dark for enrollment (< 60), fits
        (_frame(box=CENTRED, sharp=False), [CENTRED], ["blurred"], True),
    ],
)
def test_each_problem_gets_its_hint(frame: np.ndarray, boxes: list[Box], hints: list[str], fits: bool) -> None:
    p = preview_frame(frame, _runtime(*boxes), GUIDE, BARS)
    assert p.hints == hints and p.face_fits is fits and p.ready is False


def test_a_face_below_the_enrollment_pixels_asks_to_come_closer_even_when_it_fills_the_frame() -> None:
    """A low-resolution camera: the face fills a quarter of a 240 px frame, but is 60 px."""
    box = Box(90, 60, 150, 130)
    p = preview_frame(_frame(box=box, w=240, h=180), _runtime(box), GUIDE, BARS)
    assert p.hints == ["move_closer"] and not p.ready


def test_the_api_document_lists_every_hint_code() -> None:
    from webapp.login.hints import ORDER
    from webapp.web.api.docs import openapi_document

    answer = openapi_document()["paths"]["/api/v1/admin/enrollment/preview"]["post"]["responses"]["200"]
    schema = answer["content"]["application/json"]["schema"]["properties"]
    assert schema["hints"]["items"]["enum"] == list(ORDER)
