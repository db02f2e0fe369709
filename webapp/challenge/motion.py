"""Motion and timing cues that tell a present head from a picture moved in front of the camera.

Planarity. A photo or a phone screen is a plane: however it is shifted, rotated or tilted, its
image moves by one homography (Hartley & Zisserman, "Multiple View Geometry", 2nd ed., 13.1).
A real head is not flat: when it turns, the nose moves against the eye and mouth corners
(motion parallax), and no homography explains both. Between a reference frame (the attempt's
first face frame) and the current one we fit, on corresponding landmarks,

* a similarity (shift, in-plane rotation, zoom): its RMS residual ``similarity_rms`` is the
  motion beyond those, i.e. a turn or a tilt - the pair is *informative* when it is large;
* a homography: its RMS residual ``homography_rms`` is what no plane explains.

The cue is ``unexplained = homography_rms / similarity_rms``: the share of the out-of-plane
motion that a plane cannot explain. Measured (ml/blink/README.md): live head turns of 15 degrees
or more leave 0.70-0.93 of it unexplained (5th-95th percentile), tilted photos that solvePnP
reads as turns 0.20-0.68. Absolute residuals overlap (dlib places landmarks on a strongly tilted
photo with its 3-D face prior, so a photo is never perfectly planar in landmark space); the
ratio does not, much.

Points: nose (27-35), eye corners (36, 39, 42, 45), mouth corners (48, 54). Not the face
outline (on a turning head it is an occluding contour that slides over the skin, on a tilted
photo dlib's prior bends it), not the brows, eyelids or lips (they move without any head motion).
All residuals are divided by the inter-ocular distance, so they do not depend on face size.

(A variant on optical flow, which needs both frames' pixels, is research code: ml/studies/flow.py.)

Timing (:func:`update_timing`) keeps running statistics of the server-clock gaps between frames;
with one request in flight, gaps shorter than the server's own processing time cannot come from
the shipped client.

Every summary here is a small typed record stored as JSON in the attempt state, updated by
pure functions returning a new record.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import cv2
import numpy as np

from webapp.challenge.geometry import inter_ocular_distance
from webapp.config import DEFAULTS

# iBUG 68: nose 27-35, eye corners 36/39/42/45, mouth corners 48/54 (see the module doc).
PLANAR_POINTS: tuple[int, ...] = (*range(27, 36), 36, 39, 42, 45, 48, 54)


@dataclass(frozen=True)
class PlanarFit:
    """Residuals of the best similarity and homography between two landmark sets (IOD units)."""

    similarity_rms: float
    homography_rms: float

    @property
    def unexplained(self) -> float:
        """Share of the non-similarity motion that no homography explains (0 = a plane)."""
        if self.similarity_rms <= 0:
            return 0.0
        return min(1.0, self.homography_rms / self.similarity_rms)


def similarity_residual(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Per-point residuals of the least-squares similarity src -> dst (Umeyama, 1991)."""
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    var_s = float((s**2).sum() / len(src))
    scale = float(np.trace(np.diag(sig) @ sign) / var_s) if var_s > 0 else 1.0
    pred = scale * s @ rot.T + mu_d
    return np.asarray(np.linalg.norm(pred - dst, axis=1))


def homography_residual(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Per-point residuals of the least-squares homography src -> dst (all points, no RANSAC:
    with dlib landmarks there are no gross outliers, and RANSAC would discard the very parallax
    we are measuring)."""
    hmat, _ = cv2.findHomography(src.astype(np.float64), dst.astype(np.float64), 0)
    if hmat is None:
        return np.full(len(src), np.inf)
    proj = cv2.perspectiveTransform(src.reshape(-1, 1, 2).astype(np.float64), hmat).reshape(-1, 2)
    return np.asarray(np.linalg.norm(proj - dst, axis=1))


def planarity(reference: np.ndarray, current: np.ndarray, points: tuple[int, ...] = PLANAR_POINTS) -> PlanarFit:
    """Planarity of the motion between two frames' 68 landmarks (see the module doc)."""
    ref, cur = np.asarray(reference, np.float64), np.asarray(current, np.float64)
    iod = (inter_ocular_distance(ref) + inter_ocular_distance(cur)) / 2.0
    return planarity_of_points(ref[list(points)], cur[list(points)], iod)


def planarity_of_points(src: np.ndarray, dst: np.ndarray, iod: float) -> PlanarFit:
    """:func:`planarity` on already selected corresponding points, scaled by ``iod`` pixels."""
    iod = max(1e-6, float(iod))
    sim = float(np.sqrt(np.mean(similarity_residual(src, dst) ** 2)) / iod)
    hom = float(np.sqrt(np.mean(homography_residual(src, dst) ** 2)) / iod)
    # A homography has more freedom than a similarity, so its residual can only be smaller;
    # numerical failure (degenerate points) must not make a pair look non-planar.
    return PlanarFit(similarity_rms=sim, homography_rms=min(hom, sim))


# --- per-attempt running summaries (JSON dicts) ----------------------------------------------


@dataclass(frozen=True)
class MotionSettings:
    """Thresholds of the planarity cue (measurements: ml/blink/README.md, ``ml.blink.cues``)."""

    min_motion: float = DEFAULTS["PLANAR_MIN_MOTION"]  # similarity_rms (IOD) from which a pair is informative (below: noise)
    min_turn: float = DEFAULTS["PLANAR_MIN_TURN_DEGREES"]  # |yaw - reference yaw| (degrees) from which a frame is turned
    max_unexplained: float = DEFAULTS["PLANAR_MAX_UNEXPLAINED"]  # a turned, informative frame at or below this is planar
    max_abs_yaw: float = DEFAULTS["PLANAR_MAX_ABS_YAW"]  # frames turned further are skipped: the 68-point fit is unreliable


@dataclass(frozen=True)
class FramePoints:
    """The planarity points of one frame rounded to 0.1 px, and its inter-ocular distance
    (about 300 bytes of JSON)."""

    pts: list[list[float]]
    iod: float

    @classmethod
    def of(cls, landmarks: np.ndarray) -> FramePoints:
        pts = [[round(float(x), 1), round(float(y), 1)] for x, y in np.asarray(landmarks)[list(PLANAR_POINTS)]]
        return cls(pts=pts, iod=round(inter_ocular_distance(np.asarray(landmarks)), 2))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FramePoints:
        return cls(pts=[list(map(float, p)) for p in data["pts"]], iod=float(data["iod"]))


MOTION_AUDIT_KEYS = ("turned", "planar_turned", "max_unexplained", "max_motion", "mean_step")


@dataclass(frozen=True)
class MotionSummary:
    """The attempt's planar-motion evidence (see :func:`update_motion` for the fields)."""

    frames: int
    turned: int
    planar_turned: int
    max_unexplained: float
    max_motion: float
    mean_step: float
    ref: FramePoints
    ref_yaw: float
    prev: FramePoints

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> MotionSummary | None:
        if not data:
            return None
        fields = {k: data[k] for k in ("frames", "turned", "planar_turned", "max_unexplained", "max_motion", "mean_step", "ref_yaw")}
        return cls(**fields, ref=FramePoints.from_json(data["ref"]), prev=FramePoints.from_json(data["prev"]))

    def audit(self) -> dict[str, Any]:
        """The fields the admin attempts table shows."""
        return {k: getattr(self, k) for k in MOTION_AUDIT_KEYS}


def _pair(a: FramePoints, b: FramePoints) -> PlanarFit:
    return planarity_of_points(np.asarray(a.pts, np.float64), np.asarray(b.pts, np.float64), (a.iod + b.iod) / 2.0)


def update_motion(
    summary: MotionSummary | None, landmarks: np.ndarray, yaw: float, settings: MotionSettings = MotionSettings()
) -> MotionSummary | None:
    """Fold one face frame (68 landmarks, head yaw in degrees) into the attempt's motion summary.

    Returns a new summary (``summary`` itself for a frame turned past ``max_abs_yaw``, which is
    not judged). The first judged frame becomes the reference. Fields: ``frames``;
    ``turned`` (informative frames turned by ``min_turn`` or more from the reference) and
    ``planar_turned`` (those whose motion a plane explains); ``max_unexplained`` over turned
    frames; ``max_motion`` (largest similarity residual); ``mean_step`` (mean frame-to-frame
    motion of the points, IOD, for the audit only: under sensor noise a photo's landmarks
    jitter as much as a still person's, so stillness does not separate them); ``ref``, ``ref_yaw``
    and ``prev`` points.
    """
    if abs(float(yaw)) > settings.max_abs_yaw:
        return summary  # near profile: neither a reference nor evidence
    cur = FramePoints.of(np.asarray(landmarks, np.float64))
    if summary is None:
        return MotionSummary(1, 0, 0, 0.0, 0.0, 0.0, cur, round(float(yaw), 2), cur)
    fit = _pair(summary.ref, cur)
    turned, planar_turned, max_unexplained = summary.turned, summary.planar_turned, summary.max_unexplained
    if fit.similarity_rms >= settings.min_motion and abs(float(yaw) - summary.ref_yaw) >= settings.min_turn:
        turned += 1
        if fit.unexplained <= settings.max_unexplained:
            planar_turned += 1
        max_unexplained = round(max(max_unexplained, fit.unexplained), 4)
    frames = summary.frames + 1
    steps = frames - 1
    mean_step = round(summary.mean_step + (point_shift(summary.prev, cur) - summary.mean_step) / steps, 4)
    return replace(
        summary,
        frames=frames,
        turned=turned,
        planar_turned=planar_turned,
        max_unexplained=max_unexplained,
        max_motion=round(max(summary.max_motion, fit.similarity_rms), 4),
        mean_step=mean_step,
        prev=cur,
    )


def point_shift(a: FramePoints, b: FramePoints) -> float:
    """RMS displacement of the stored points between two frames, in IOD units (no alignment)."""
    pa, pb = np.asarray(a.pts, np.float64), np.asarray(b.pts, np.float64)
    iod = max(1e-6, (a.iod + b.iod) / 2.0)
    return float(np.sqrt(np.mean(np.sum((pa - pb) ** 2, axis=1))) / iod)


def motion_is_planar(summary: MotionSummary | None, min_turned: int = 2, max_planar_share: float = 0.5) -> bool:
    """True when the attempt turned enough to judge and most turned frames moved like a plane.

    ``min_turned`` turned frames are needed for a verdict (a turn step produces several); the
    attempt is planar when more than ``max_planar_share`` of them are planar frames.
    """
    if summary is None:
        return False
    return summary.turned >= min_turned and summary.planar_turned > max_planar_share * summary.turned


@dataclass
class TimingStats:
    """Running statistics of server-clock gaps between frames (Welford's mean/variance)."""

    frames: int = 0
    last_t: float | None = None
    min_gap: float | None = None
    mean_gap: float = 0.0
    m2: float = 0.0
    fast: int = 0  # gaps shorter than the plausible minimum


def update_timing(stats: TimingStats | None, t: float, min_plausible_gap: float = 0.05) -> TimingStats:
    """Fold one frame's server arrival time (seconds) into the attempt's timing summary.

    ``min_plausible_gap``: the shipped client sends the next frame only after the previous
    response, and the server spends tens of milliseconds on each, so two frames of one attempt
    less than this apart were sent in parallel (a script, not the page).
    """
    s = replace(stats) if stats is not None else TimingStats()
    if s.last_t is not None:
        gap = float(t) - s.last_t
        n = s.frames  # number of gaps after this one
        delta = gap - s.mean_gap
        s.mean_gap += delta / n
        s.m2 += delta * (gap - s.mean_gap)
        s.min_gap = gap if s.min_gap is None else min(s.min_gap, gap)
        if gap < min_plausible_gap:
            s.fast += 1
    s.frames += 1
    s.last_t = float(t)
    s.mean_gap, s.m2 = round(s.mean_gap, 4), round(s.m2, 4)
    s.min_gap = None if s.min_gap is None else round(s.min_gap, 4)
    s.last_t = round(s.last_t, 4)
    return s
