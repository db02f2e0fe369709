"""The analysis of one login frame, in one pass and one direction: replay lookups, then the
face, identity, passive liveness and the landmark signals the challenge reads.

Its output, :class:`FrameReport`, holds complete :class:`~webapp.login.facts.FrameFacts` for
the policy, the frame's hashes (stored for later replay lookups) and the audit record of what
was seen. Nothing here decides: the policy does, and the service commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from webapp.challenge import screenlight
from webapp.challenge.continuity import frame_signature
from webapp.challenge.geometry import eye_aspect_ratio, head_pose, inter_ocular_distance
from webapp.challenge.steps import FaceSignals
from webapp.db.models import utcnow
from webapp.face.match import best_distance
from webapp.face.retinaface import ScoredBox, matching_box
from webapp.face.types import Box, FaceObservation
from webapp.liveness import LivenessScore
from webapp.login.facts import FrameFacts
from webapp.login.hints import FrameLook, look_at
from webapp.login.tracking import Detection, Track, confident_faces, detect_login_faces
from webapp.ops.metrics import substage
from webapp.replay import ReplayFacts, seen
from webapp.replay.hashes import FrameHash, frame_hash
from webapp.runtime.worker import Runtime
from webapp.settings import ReplaySettings


@dataclass(frozen=True)
class FrameReport:
    """A login frame's facts for the policy, its hashes, the audit record of what was seen, and
    how it looks for the sign-in guidance (login/hints.py; never read by the policy)."""

    facts: FrameFacts
    hashes: FrameHash | None = None
    audit: dict[str, Any] = field(default_factory=dict)
    look: FrameLook | None = None
    detection: Detection | None = None  # the faces HOG found and how (None: not searched)


@dataclass(frozen=True)
class FrameContext:
    """What the analysis needs to know about the attempt a frame belongs to."""

    attempt_id: int
    username: str
    created_at: datetime
    templates: np.ndarray  # the claimed user's identity encodings, (n, 128)
    references: Mapping[str, np.ndarray]  # their liveness reference embeddings per model
    encode: bool = True  # compute the identity encoding of this frame's face (login/identity.py)
    track: Track | None = None  # the previous frame's one face (login/tracking.py)
    # Measure the skin and background colour (challenge/screenlight.py): only an attempt whose
    # challenge drew a screen-light plan judges them, and the measure is 8 % of a frame's CPU.
    measure_light: bool = False


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
    data: bytes, rgb: np.ndarray, ctx: FrameContext, rt: Runtime, replay: ReplaySettings, arrived_at: datetime
) -> FrameReport:
    """Everything one frame shows. A frame whose bytes another attempt already sent is not
    analysed further: it is a replay whatever it shows."""
    t = _seconds_since(ctx.created_at, arrived_at)
    sha = hashlib.sha256(data).hexdigest()
    with substage("replay"):
        replayed = seen.seen_in_other_attempt(sha, ctx.attempt_id)
    if replayed:
        facts = FrameFacts(sha256=sha, faces=0, replay=ReplayFacts(seen_in_other_attempt=True), t=t, t_done=_now(ctx))
        return FrameReport(facts, None, {"replayed": True})
    with substage("replay"):
        hashes = frame_hash(rgb)
    with substage("detection"):
        context_boxes = context_detections(rt, rgb)
        detector = rt.context_detector()
        sure = confident_faces(context_boxes, detector.card.min_confidence if detector else None)
        detection = detect_login_faces(rt.engine, rgb, ctx.track, sure, exact=ctx.encode)
    boxes = detection.boxes
    audit: dict[str, Any] = {"faces": len(boxes), "search": detection.search}
    face: dict[str, Any] = {}
    if not boxes and sure is not None:
        tracked = turned_face(sure)
        if tracked is not None:
            face = {"tracked_box": (tracked.x1, tracked.y1, tracked.x2, tracked.y2)}
            audit["tracked_box"] = tracked.as_list()
    quality = None
    if len(boxes) == 1:
        box = boxes[0]
        with substage("landmarks_encoding"):
            obs = rt.engine.observe(rgb, box, encode=ctx.encode)
        distance = best_distance(obs.encoding, ctx.templates) if obs.encoding is not None else float("nan")
        with substage("liveness"):
            live, context = score_liveness(rt, rgb, box, ctx.references, context_boxes)
        signals = face_signals(obs, rgb.shape)
        quality = obs.quality
        audit = {
            "faces": 1,
            "search": detection.search,
            "box": box.as_list(),
            "distance": round(distance, 4) if np.isfinite(distance) else None,
            "encoded": obs.encoding is not None,
            "live": live.live_score,
            "context_box": context.as_list() if context else None,
            "models": live.models,
            "ear": round(signals.ear, 4),
            "yaw": round(signals.yaw, 2),
            "pitch": round(signals.pitch, 2),
            "iod": round(signals.iod or 0.0, 2),
            "quality": obs.quality.score(),
        }
        signature = frame_signature(rgb, box.as_list(), signals.yaw, signals.pitch, obs.encoding)
        light = screenlight.measure(rgb, box.as_list(), obs.landmarks) if ctx.measure_light else None
        if light is not None:
            audit["light"] = light.audit()
        face = {
            "distance": distance if obs.encoding is not None else None,
            "encoded": obs.encoding is not None,
            "live_score": live.live_score,
            "signals": signals,
            "landmarks": obs.landmarks,
            "signature": signature,
            "light": light,
        }
    with substage("replay"):
        near = seen.is_near_duplicate(hashes, ctx.username, replay.lookback_attempts, replay.near)
    facts = FrameFacts(sha256=sha, faces=len(boxes), replay=ReplayFacts(near_duplicate=near), t=t, t_done=_now(ctx), **face)
    return FrameReport(facts, hashes, audit, look_at(rgb, boxes, quality, tracked=facts.tracked_box is not None), detection)


def context_detections(rt: Runtime, rgb: np.ndarray) -> list[ScoredBox] | None:
    """The context detector's boxes down to its matched-face floor, run once per frame and
    shared by the liveness framing and the track bridge; None without a context detector."""
    detector = rt.context_detector()
    return detector.detect(rgb, detector.card.matched_confidence) if detector is not None else None


def turned_face(sure: list[ScoredBox]) -> ScoredBox | None:
    """The one face the context detector is confident of (its :func:`confident_faces`) on a
    frame the frontal detector found none: most often a turned head (challenge/bridge.py)."""
    return sure[0] if len(sure) == 1 else None


def score_liveness(
    rt: Runtime,
    rgb: np.ndarray,
    box: Box,
    references: Mapping[str, np.ndarray] | None,
    context_boxes: list[ScoredBox] | None = None,
) -> tuple[LivenessScore, ScoredBox | None]:
    """Passive liveness of the face dlib found in ``box``; members framed on the context
    detector's box get that detector's box of the same face (or abstain when it missed it).
    ``context_boxes``: the frame's :func:`context_detections` when the caller has run them."""
    if context_boxes is None:
        context_boxes = context_detections(rt, rgb)
    context = matching_box(context_boxes, box) if context_boxes is not None else None
    return rt.require_ensemble().score_face(rgb, box, references, context), context


def _seconds_since(start: datetime, moment: datetime) -> float:
    return (moment - start).total_seconds()


def _now(ctx: FrameContext) -> float:
    return _seconds_since(ctx.created_at, utcnow())
