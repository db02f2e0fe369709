"""Live quality hints for webcam enrollment: the sign-in's guidance (login/hints.py), measured on
one preview frame with the face-quality code enrollment itself uses (face/quality.py), so the
admin page shows the same oval and the same sentences as the sign-in.

The enrollment's bars are stricter than the sign-in's (ENROLL_MIN_FACE_PX, ENROLL_MIN_SHARPNESS,
ENROLL_BRIGHTNESS_RANGE): where they are, the preview speaks at them, so a frame the preview calls
good is one :func:`webapp.accounts.enrollment.enroll_images` keeps (barring a different person,
which needs the identity encoding, left to the capture itself). Nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from webapp.face.quality import measure_quality
from webapp.login.hints import MOVE_BACK, MOVE_CLOSER, ORDER, GuidanceSettings, face_fits, hints_for, look_at
from webapp.runtime.worker import Runtime
from webapp.settings import EnrollSettings


@dataclass(frozen=True)
class Preview:
    """What the enrollment page shows for one preview frame: codes, never scores."""

    faces: int
    hints: list[str]  # login/hints.py codes, the one to fix first first
    face_fits: bool  # one face where the oval wants it: the oval turns green
    ready: bool  # fits and nothing to fix: a frame enrollment would keep


def enrollment_guidance(guide: GuidanceSettings, bars: EnrollSettings) -> GuidanceSettings:
    """The sign-in's guidance thresholds, tightened to the enrollment's quality bars."""
    low, high = bars.brightness_range
    return replace(
        guide,
        dark_level=max(guide.dark_level, low),
        bright_level=min(guide.bright_level, high),
        min_sharpness=max(guide.min_sharpness, bars.min_sharpness),
    )


def preview_frame(rgb: np.ndarray, rt: Runtime, guide: GuidanceSettings, bars: EnrollSettings) -> Preview:
    """Detect, measure and hint one frame (one face detection and a few numpy operations: no
    landmarks, no encoding, no liveness model)."""
    boxes = rt.require_face().detect(rgb)
    quality = measure_quality(rgb, boxes[0]) if len(boxes) == 1 else None
    look = look_at(rgb, boxes, quality)
    found = set(hints_for(look, enrollment_guidance(guide, bars)))
    # A face the enrollment would call too small in pixels (a low-resolution camera), however
    # much of the frame it fills.
    if quality is not None and quality.face_px < bars.min_face_px and MOVE_BACK not in found:
        found.add(MOVE_CLOSER)
    hints = [h for h in ORDER if h in found]
    fits = face_fits(look, hints)
    return Preview(faces=len(boxes), hints=hints, face_fits=fits, ready=fits and not hints)
