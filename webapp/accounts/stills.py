"""Still images (enrollment photos, the admin checks) judged with the detector, measurements
and models a login frame meets, so ``admin/liveness`` scores a still exactly as a login frame
is scored and enrollment judges quality with the measurements login uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from webapp.face.types import Box, FaceObservation
from webapp.liveness import LivenessScore
from webapp.login.frames import score_liveness
from webapp.runtime.worker import Runtime
from webapp.settings import EnrollSettings


@dataclass(frozen=True)
class StillFace:
    """The single face of a still image, or why there is none usable."""

    reason: str | None  # None = usable; else "no_face" | "multiple_faces" | "low_quality"
    observation: FaceObservation | None = None
    faces: int = 0
    problems: tuple[str, ...] = ()


def single_face(rgb: np.ndarray, rt: Runtime, quality_bars: EnrollSettings | None = None) -> StillFace:
    """Find exactly one face in a still (enrollment photo, admin check) and measure it."""
    boxes = rt.require_face().detect(rgb)
    if not boxes:
        return StillFace("no_face")
    if len(boxes) > 1:
        return StillFace("multiple_faces", faces=len(boxes))
    obs = rt.engine.observe(rgb, boxes[0], encode=True)
    if quality_bars is not None:
        problems = obs.quality.problems(quality_bars.min_face_px, quality_bars.min_sharpness, quality_bars.brightness_range)
        if problems:
            return StillFace("low_quality", obs, 1, tuple(problems))
    return StillFace(None, obs, 1)


def score_still(
    rgb: np.ndarray, rt: Runtime, references: Mapping[str, np.ndarray] | None = None
) -> tuple[int, Box | None, LivenessScore | None]:
    """Passive liveness of the largest face in a still, scored as a login frame is: with the
    claimed user's ``references`` the identity-aware members vote, without them they abstain."""
    boxes = rt.require_face().detect(rgb)
    if not boxes:
        return 0, None, None
    return len(boxes), boxes[0], score_liveness(rt, rgb, boxes[0], references)[0]
