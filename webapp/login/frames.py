"""The image pipeline every entry point shares: login frames, enrollment photos, admin checks.

One function per question, all on top of the same detector, crop and models, so that
``admin/liveness`` scores a still exactly as a login frame is scored and enrollment judges
quality with the same measurements login uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from webapp.challenge.geometry import eye_aspect_ratio, head_pose, inter_ocular_distance
from webapp.challenge.steps import FaceSignals
from webapp.face.match import best_distance
from webapp.face.types import Box, FaceObservation
from webapp.liveness import LivenessScore
from webapp.login.policy import FrameFacts
from webapp.replay.hashes import FrameHash, frame_hash
from webapp.runtime import Runtime


@dataclass(frozen=True)
class FrameReport:
    """A login frame's facts for the policy, its hashes, and the audit record of what was seen."""

    facts: FrameFacts
    hashes: FrameHash | None = None
    audit: dict[str, Any] = field(default_factory=dict)


def face_signals(obs: FaceObservation, image_shape: tuple[int, ...]) -> FaceSignals:
    pose = head_pose(obs.landmarks, (int(image_shape[0]), int(image_shape[1])))
    return FaceSignals(
        ear=eye_aspect_ratio(obs.landmarks),
        yaw=pose.yaw,
        pitch=pose.pitch,
        face_px=obs.quality.face_px,
        iod=inter_ocular_distance(obs.landmarks),
    )


def analyze_login_frame(
    rgb: np.ndarray,
    sha256: str,
    rt: Runtime,
    templates: np.ndarray,
    references: Mapping[str, np.ndarray],
) -> FrameReport:
    """Hash the frame and detect; then, for exactly one face: identity distance, passive
    liveness and landmark signals."""
    hashes = frame_hash(rgb)
    boxes = rt.engine.detect(rgb)
    if len(boxes) != 1:
        return FrameReport(FrameFacts(sha256=sha256, faces=len(boxes)), hashes, {"faces": len(boxes)})
    box = boxes[0]
    obs = rt.engine.observe(rgb, box, encode=True)
    assert obs.encoding is not None
    distance = best_distance(obs.encoding, templates)
    live = rt.require_ensemble().score_face(rgb, box, references)
    signals = face_signals(obs, rgb.shape)
    audit = {
        "faces": 1,
        "box": box.as_list(),
        "distance": round(distance, 4) if np.isfinite(distance) else None,
        "live": live.live_score,
        "models": live.models,
        "ear": round(signals.ear, 4),
        "yaw": round(signals.yaw, 2),
        "pitch": round(signals.pitch, 2),
        "iod": round(signals.iod or 0.0, 2),
        "quality": obs.quality.score(),
    }
    facts = FrameFacts(sha256=sha256, faces=1, distance=distance, live_score=live.live_score, signals=signals, landmarks=obs.landmarks)
    return FrameReport(facts, hashes, audit)


@dataclass(frozen=True)
class StillFace:
    """The single face of a still image, or why there is none usable."""

    reason: str | None  # None = usable; else "no_face" | "multiple_faces" | "low_quality"
    observation: FaceObservation | None = None
    faces: int = 0
    problems: tuple[str, ...] = ()


def single_face(rgb: np.ndarray, rt: Runtime, quality_bars: Mapping[str, Any] | None = None) -> StillFace:
    """Find exactly one face in a still (enrollment photo, admin check) and measure it."""
    boxes = rt.engine.detect(rgb)
    if not boxes:
        return StillFace("no_face")
    if len(boxes) > 1:
        return StillFace("multiple_faces", faces=len(boxes))
    obs = rt.engine.observe(rgb, boxes[0], encode=True)
    if quality_bars is not None:
        problems = obs.quality.problems(
            int(quality_bars["min_face_px"]),
            float(quality_bars["min_sharpness"]),
            tuple(quality_bars["brightness_range"]),  # type: ignore[arg-type]
        )
        if problems:
            return StillFace("low_quality", obs, 1, tuple(problems))
    return StillFace(None, obs, 1)


def score_still(
    rgb: np.ndarray, rt: Runtime, references: Mapping[str, np.ndarray] | None = None
) -> tuple[int, Box | None, LivenessScore | None]:
    """Passive liveness of the largest face in a still, scored as a login frame is: with the
    claimed user's ``references`` the identity-aware members vote, without them they abstain."""
    boxes = rt.engine.detect(rgb)
    if not boxes:
        return 0, None, None
    return len(boxes), boxes[0], rt.require_ensemble().score_face(rgb, boxes[0], references)
