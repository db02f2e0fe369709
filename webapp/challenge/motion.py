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

Flow (:func:`flow_planarity`) fits a homography to corners tracked by pyramidal Lucas-Kanade
(Bouguet, 2000) on the face texture; it needs both frames' pixels, so it is offered for tools
and offline checks, while the per-attempt state keeps landmarks only.

Timing (:func:`update_timing`) keeps running statistics of the server-clock gaps between frames;
with one request in flight, gaps shorter than the server's own processing time cannot come from
the shipped client.

Every summary here is a small JSON dict, updated by pure functions returning a new dict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from webapp.challenge.geometry import inter_ocular_distance

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


@dataclass(frozen=True)
class FlowFit:
    """Homography fit to tracked corners inside the face box between two frames."""

    points: int  # corners tracked successfully
    motion: float  # median corner displacement / face width
    residual: float  # median homography residual / face width
    inlier_share: float  # share of corners within 1 % of face width of the RANSAC homography


def flow_planarity(prev_grey: np.ndarray, cur_grey: np.ndarray, box: tuple[int, int, int, int], max_corners: int = 100) -> FlowFit:
    """Track Shi-Tomasi corners of the face box with pyramidal LK and fit a homography (RANSAC).

    ``box`` is (left, top, right, bottom) in the previous frame; both images are grey uint8 of
    the same size.
    """
    x0, y0, x1, y1 = (int(v) for v in box)
    h, w = prev_grey.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    width = float(max(1, x1 - x0))
    mask = np.zeros_like(prev_grey)
    mask[y0:y1, x0:x1] = 255
    corners = cv2.goodFeaturesToTrack(prev_grey, max_corners, 0.01, max(3.0, width / 30.0), mask=mask)
    if corners is None or len(corners) < 8:
        return FlowFit(0 if corners is None else len(corners), 0.0, 0.0, 1.0)
    nxt, status, _err = cv2.calcOpticalFlowPyrLK(prev_grey, cur_grey, corners, np.zeros_like(corners), winSize=(15, 15), maxLevel=3)
    ok = status.ravel() == 1
    src, dst = corners.reshape(-1, 2)[ok], nxt.reshape(-1, 2)[ok]
    if len(src) < 8:
        return FlowFit(len(src), 0.0, 0.0, 1.0)
    motion = float(np.median(np.linalg.norm(dst - src, axis=1)) / width)
    hmat, _ = cv2.findHomography(src, dst, cv2.RANSAC, 0.01 * width)
    if hmat is None:
        return FlowFit(len(src), motion, float("inf"), 0.0)
    proj = cv2.perspectiveTransform(src.reshape(-1, 1, 2).astype(np.float64), hmat).reshape(-1, 2)
    res = np.linalg.norm(proj - dst, axis=1) / width
    return FlowFit(len(src), motion, float(np.median(res)), float(np.mean(res <= 0.01)))


# --- per-attempt running summaries (JSON dicts) ----------------------------------------------


@dataclass(frozen=True)
class MotionSettings:
    """Thresholds of the planarity cue (measurements: ml/blink/README.md, ``ml.blink.cues``)."""

    min_motion: float = 0.02  # similarity_rms (IOD) from which a pair is informative (below: landmark noise)
    min_turn: float = 15.0  # |yaw - reference yaw| (degrees) from which a frame is a turned frame
    max_unexplained: float = 0.55  # a turned, informative frame at or below this is planar


def _points(landmarks: np.ndarray) -> dict[str, Any]:
    """The planarity points rounded to 0.1 px plus the inter-ocular distance (about 300 bytes)."""
    pts = [[round(float(x), 1), round(float(y), 1)] for x, y in np.asarray(landmarks)[list(PLANAR_POINTS)]]
    return {"pts": pts, "iod": round(inter_ocular_distance(np.asarray(landmarks)), 2)}


def _pair(a: dict[str, Any], b: dict[str, Any]) -> PlanarFit:
    return planarity_of_points(
        np.asarray(a["pts"], np.float64), np.asarray(b["pts"], np.float64), (float(a["iod"]) + float(b["iod"])) / 2.0
    )


def update_motion(
    summary: dict[str, Any] | None, landmarks: np.ndarray, yaw: float, settings: MotionSettings = MotionSettings()
) -> dict[str, Any]:
    """Fold one face frame (68 landmarks, head yaw in degrees) into the attempt's motion summary.

    Returns a new dict. The first frame becomes the reference. Fields: ``frames``;
    ``turned`` (informative frames turned by ``min_turn`` or more from the reference) and
    ``planar_turned`` (those whose motion a plane explains); ``max_unexplained`` over turned
    frames; ``max_motion`` (largest similarity residual); ``mean_step`` (mean frame-to-frame
    motion of the points, IOD, for the audit only: under sensor noise a photo's landmarks
    jitter as much as a still person's, so stillness does not separate them); ``ref``, ``ref_yaw``
    and ``prev`` points.
    """
    lm = np.asarray(landmarks, np.float64)
    cur = _points(lm)
    if not summary:
        return {
            "frames": 1,
            "turned": 0,
            "planar_turned": 0,
            "max_unexplained": 0.0,
            "max_motion": 0.0,
            "mean_step": 0.0,
            "ref": cur,
            "ref_yaw": round(float(yaw), 2),
            "prev": cur,
        }
    s = dict(summary)
    fit = _pair(s["ref"], cur)
    s["frames"] = int(s["frames"]) + 1
    s["max_motion"] = round(max(float(s["max_motion"]), fit.similarity_rms), 4)
    if fit.similarity_rms >= settings.min_motion and abs(float(yaw) - float(s["ref_yaw"])) >= settings.min_turn:
        s["turned"] = int(s["turned"]) + 1
        if fit.unexplained <= settings.max_unexplained:
            s["planar_turned"] = int(s["planar_turned"]) + 1
        s["max_unexplained"] = round(max(float(s["max_unexplained"]), fit.unexplained), 4)
    steps = s["frames"] - 1
    s["mean_step"] = round(float(s["mean_step"]) + (point_shift(s["prev"], cur) - float(s["mean_step"])) / steps, 4)
    s["prev"] = cur
    return s


def point_shift(a: dict[str, Any], b: dict[str, Any]) -> float:
    """RMS displacement of the stored points between two frames, in IOD units (no alignment)."""
    pa, pb = np.asarray(a["pts"], np.float64), np.asarray(b["pts"], np.float64)
    iod = max(1e-6, (float(a["iod"]) + float(b["iod"])) / 2.0)
    return float(np.sqrt(np.mean(np.sum((pa - pb) ** 2, axis=1))) / iod)


def motion_is_planar(summary: dict[str, Any], min_turned: int = 2, max_planar_share: float = 0.5) -> bool:
    """True when the attempt turned enough to judge and most turned frames moved like a plane.

    ``min_turned`` turned frames are needed for a verdict (a turn step produces several); the
    attempt is planar when more than ``max_planar_share`` of them are planar frames.
    """
    turned = int(summary.get("turned", 0))
    return turned >= min_turned and int(summary.get("planar_turned", 0)) > max_planar_share * turned


@dataclass
class TimingStats:
    """Running statistics of server-clock gaps between frames (Welford's mean/variance)."""

    frames: int = 0
    last_t: float | None = None
    min_gap: float | None = None
    mean_gap: float = 0.0
    m2: float = 0.0
    fast: int = 0  # gaps shorter than the plausible minimum


def update_timing(stats: dict[str, Any] | None, t: float, min_plausible_gap: float = 0.05) -> dict[str, Any]:
    """Fold one frame's server arrival time (seconds) into the attempt's timing summary.

    ``min_plausible_gap``: the shipped client sends the next frame only after the previous
    response, and the server spends tens of milliseconds on each, so two frames of one attempt
    less than this apart were sent in parallel (a script, not the page).
    """
    s = TimingStats(**(stats or {}))
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
    out = asdict(s)
    for k in ("mean_gap", "m2", "min_gap", "last_t"):
        if out[k] is not None:
            out[k] = round(out[k], 4)
    return out
