"""Continuity cues: is this frame the next moment of the same scene, or a cut to another picture?

A slideshow of photos (2-3 photos of the enrolled person in different head poses, each re-sent
with a little jitter) passes landmark-based turn steps, because each photo really shows a turned
head. A real session is one continuous scene; three cues compare each face frame with the
previous face frame of the attempt:

* **scene** - the background (the image outside the face, enlarged to cover head, neck and
  shoulders) stays the same up to camera motion and exposure drift. Each frame keeps a 24x18
  grey thumbnail; two thumbnails are compared after a sub-cell global shift search and a
  gain/offset fit (gain clamped: exposure does not jump within a second), and the cue is the
  *median* absolute residual in grey levels over the background cells (gain and offset by
  least squares). The median ignores up to half of the cells changing (someone walking behind
  the user, a shoulder the mask missed); a photo switch changes almost all of them. Unmeasurable (NaN) when too few
  background cells remain (a face filling the frame).
* **pose** - yaw and pitch (geometry.head_pose) move at a physiological speed on the server
  clock: the change between two frames ``dt`` seconds apart is at most ``slack + speed * dt``.
  ``slack`` absorbs solvePnP jitter on one frame pair; ``speed`` is degrees per second.
* **face** - the 128-d face descriptor the identity check already computes changes gradually:
  Euclidean distance between consecutive frames at most ``base + rate * dt`` (capped). Photos
  of the same person taken at different times differ by about the identity tolerance (0.3-0.5).

What they catch (``python -m ml.studies.continuity``, ml/studies/README.md): with the
defaults below, 0 of 17864 consecutive live face-frame pairs break, and 9.9 % of slideshow
photo switches do (scene 4.6 %, pose 4.6 %, face 0.8 %). The live clips are hard material:
hand-held phones, close-ups that leave no background, fast head shakes and solvePnP noise
(40-degree yaw jumps between consecutive frames). Pairwise continuity is therefore a weak,
safe signal at these thresholds, not a slideshow detector by itself.

Every function is pure: frames, boxes, angles and time deltas come in, plain values go out.
Per-frame signatures are small JSON dicts (about 800 characters) that the attempt state keeps
for the previous face frame only. Thresholds were calibrated on the shared live videos at 4-10
fps with ``python -m ml.studies.continuity`` (figures in ml/studies/README.md).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

SIGNATURE_VERSION = 1
THUMB_SIZE = (24, 18)  # cells across, down: 20x20-pixel blocks of a 480x360 frame
_ENC_SCALE = 254.0  # descriptor components (|x| < 0.5) stored as int8 of round(x * 254)

# Reason codes for the policy (one per cue).
SCENE_BREAK = "scene_break"
POSE_JUMP = "pose_jump"
FACE_JUMP = "face_jump"


@dataclass(frozen=True)
class SceneSettings:
    """Background comparison (calibration: ml/studies/README.md, ``python -m ml.studies.continuity``).

    ``max_residual`` is the median background residual in grey levels above which two frames
    are not one scene: live pairs at 4-10 fps reach p99.9 7.8 and max 19.1 (sivakumar/Jaya, a
    hand-held phone panning for 0.85 s), so 25 leaves 30 % margin. ``max_shift`` 3 cells: with
    1.5 the hand-held clips hit the bound and reached 53. ``min_cells`` 80 (of 432): with 40,
    close-up frames with a sliver of background left reached 33.
    """

    max_residual: float = 25.0
    min_cells: int = 80  # background cells needed for a verdict (of 24x18 = 432)
    max_shift: float = 3.0  # global shift searched, in cells (1 cell = 1/24 of the frame width)
    gain_range: tuple[float, float] = (0.7, 1.4)  # exposure change allowed between two frames
    mask_side: float = 0.6  # face box widths masked on each side of the face
    mask_top: float = 0.6  # face box heights masked above it; everything below is masked


@dataclass(frozen=True)
class PoseSettings:
    """Head-pose speed limits: ``|d angle| <= slack + speed * dt`` (degrees, seconds).

    solvePnP on dlib landmarks is noisy pair to pair: on the live clips yaw changes by up to 58
    degrees between consecutive face frames both within +-30 degrees (p99.9 48 for dt <= 0.3 s;
    fast head shakes plus landmark noise), pitch flips by 18 degrees within 67 ms, and near profile the estimate
    flips sign (71 -> -44 degrees in one frame). Pairs with ``|yaw| > max_abs_yaw`` on either
    side are therefore not judged, and the envelope of the rest at 200 deg/s needs a slack of
    32 (yaw) and 9.4 (pitch) degrees; the defaults add 25 % and 60 %.
    """

    yaw_slack: float = 40.0
    yaw_speed: float = 200.0
    pitch_slack: float = 15.0
    pitch_speed: float = 200.0
    max_abs_yaw: float = 50.0


@dataclass(frozen=True)
class FaceSettings:
    """Face-descriptor change limit: ``distance <= min(cap, base + rate * dt)``.

    Live consecutive frames reach 0.58 (p99.9 0.51; apfol/real2 turning 29 degrees in 0.22 s),
    whatever the dt, so the limit is flat at 0.65: above the identity mismatch distance (0.6),
    i.e. it flags a switch to a clearly different-looking picture, not to another photo of the
    same person (those are 0.3-0.5 apart).
    """

    base: float = 0.65
    rate: float = 0.0
    cap: float = 0.65


@dataclass(frozen=True)
class ContinuitySettings:
    scene: SceneSettings = field(default_factory=SceneSettings)
    pose: PoseSettings = field(default_factory=PoseSettings)
    face: FaceSettings = field(default_factory=FaceSettings)


@dataclass(frozen=True)
class FrameSignature:
    """What one face frame keeps for the next comparison (JSON via :meth:`to_json`)."""

    thumb: np.ndarray  # (18, 24) uint8 grey thumbnail of the whole frame
    box: tuple[float, float, float, float]  # face box (left, top, right, bottom) / frame size
    yaw: float
    pitch: float
    encoding: np.ndarray | None = None  # (128,) float, dequantised descriptor

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "v": SIGNATURE_VERSION,
            "bg": base64.b64encode(np.ascontiguousarray(self.thumb, np.uint8).tobytes()).decode("ascii"),
            "box": [round(float(v), 4) for v in self.box],
            "yaw": round(float(self.yaw), 2),
            "pitch": round(float(self.pitch), 2),
        }
        if self.encoding is not None:
            q = np.clip(np.round(np.asarray(self.encoding, np.float64) * _ENC_SCALE), -127, 127).astype(np.int8)
            out["enc"] = base64.b64encode(q.tobytes()).decode("ascii")
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FrameSignature:
        w, h = THUMB_SIZE
        thumb = np.frombuffer(base64.b64decode(data["bg"]), np.uint8).reshape(h, w)
        enc = None
        if data.get("enc"):
            enc = np.frombuffer(base64.b64decode(data["enc"]), np.int8).astype(np.float64) / _ENC_SCALE
        box = tuple(float(v) for v in data["box"])
        return cls(thumb=thumb, box=(box[0], box[1], box[2], box[3]), yaw=float(data["yaw"]), pitch=float(data["pitch"]), encoding=enc)


def frame_signature(
    image: np.ndarray,
    box: Sequence[float],
    yaw: float,
    pitch: float,
    encoding: np.ndarray | None = None,
) -> FrameSignature:
    """Signature of one face frame: ``image`` RGB or grey (any size), ``box`` the face
    (left, top, right, bottom) in its pixels, head pose in degrees, optional face descriptor.

    The descriptor is stored as int8 (step 1/254: the distance moves by about 0.01), because
    the attempt state is rewritten on every frame.
    """
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    h, w = grey.shape[:2]
    thumb = cv2.resize(grey.astype(np.uint8, copy=False), THUMB_SIZE, interpolation=cv2.INTER_AREA)
    x0, y0, x1, y1 = (float(v) for v in box)
    nbox = (x0 / w, y0 / h, x1 / w, y1 / h)
    enc = None
    if encoding is not None:
        enc = np.clip(np.round(np.asarray(encoding, np.float64) * _ENC_SCALE), -127, 127) / _ENC_SCALE
    return FrameSignature(thumb=thumb, box=nbox, yaw=float(yaw), pitch=float(pitch), encoding=enc)


@dataclass(frozen=True)
class Continuity:
    """Measured change between the previous and the current face frame (NaN = not measurable)."""

    dt: float  # server-clock seconds between the two frames
    scene: float  # median background residual, grey levels
    scene_cells: int  # background cells it was measured on
    shift: tuple[float, float]  # global shift found (cells across, down)
    gain: float
    yaw_change: float  # |d yaw|, degrees
    pitch_change: float
    max_abs_yaw: float  # the larger |yaw| of the two frames
    face: float  # descriptor distance


def background_mask(box_a: Sequence[float], box_b: Sequence[float], s: SceneSettings = SceneSettings()) -> np.ndarray:
    """True for thumbnail cells outside both faces' head-and-body regions.

    Each normalised face box is widened by ``mask_side`` box widths on each side and
    ``mask_top`` heights above, and continued down to the bottom of the frame (neck, shoulders,
    torso move with the person, not with the scene). A cell is masked when any part of it
    touches the region.
    """
    w, h = THUMB_SIZE
    keep = np.ones((h, w), bool)
    for x0, y0, x1, y1 in (box_a, box_b):
        bw, bh = x1 - x0, y1 - y0
        c0 = max(0, math.floor((x0 - s.mask_side * bw) * w))
        c1 = min(w, math.ceil((x1 + s.mask_side * bw) * w))
        r0 = max(0, math.floor((y0 - s.mask_top * bh) * h))
        keep[r0:, c0:c1] = False
    return keep


_PAD = 3  # cells of edge replication around the thumbnail (the largest shift searched)


def _shift_stack(img: np.ndarray, shifts: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """``img`` (h, w) moved by each (dx, dy) of ``shifts`` (K, 2; |d| <= 2 cells): bilinear
    interpolation, edges replicated, all K shifts gathered at once: (K, h, w), or (K, n) for
    only the ``keep`` cells (a boolean (h, w) mask, row-major order: the same values as the full
    stack indexed ``[:, keep]``, without interpolating the masked cells, half of them or more)."""
    h, w = img.shape
    padded = cv2.copyMakeBorder(img, _PAD, _PAD, _PAD, _PAD, cv2.BORDER_REPLICATE)
    sy = np.arange(h)[None, :] + _PAD - shifts[:, 1:2]  # (K, h) source rows
    sx = np.arange(w)[None, :] + _PAD - shifts[:, 0:1]  # (K, w) source columns
    y0 = np.clip(np.floor(sy).astype(int), 0, h + 2 * _PAD - 2)
    x0 = np.clip(np.floor(sx).astype(int), 0, w + 2 * _PAD - 2)
    if keep is None:
        fy, fx = (sy - y0)[:, :, None], (sx - x0)[:, None, :]
        r0, c0 = y0[:, :, None], x0[:, None, :]
    else:
        rows, cols = np.nonzero(keep)
        fy, fx = (sy - y0)[:, rows], (sx - x0)[:, cols]
        r0, c0 = y0[:, rows], x0[:, cols]
    r1, c1 = r0 + 1, c0 + 1
    top = padded[r0, c0] * (1 - fx) + padded[r0, c1] * fx
    bottom = padded[r1, c0] * (1 - fx) + padded[r1, c1] * fx
    return np.asarray(top * (1 - fy) + bottom * fy)


def _residuals(moved: np.ndarray, cur: np.ndarray, gain_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate (rows of ``moved``, K x n cells): median |cur - (gain * moved + offset)|,
    gain and offset fitted by least squares, the gain clamped."""
    mm = moved.mean(axis=1, keepdims=True)
    pm = moved - mm
    cm = cur - cur.mean()
    var = np.einsum("kn,kn->k", pm, pm)
    gain = np.where(var > 1e-6, pm @ cm / np.maximum(var, 1e-6), 1.0)
    gain = np.clip(gain, gain_range[0], gain_range[1])
    r = np.abs(cm[None, :] - gain[:, None] * pm)
    mid = r.shape[1] // 2
    return np.partition(r, mid, axis=1)[:, mid], gain


def _grid(centre: tuple[float, float], half: float, step: float) -> np.ndarray:
    v = np.arange(-half, half + 1e-9, step)
    gx, gy = np.meshgrid(centre[0] + v, centre[1] + v)
    return np.column_stack([gx.ravel(), gy.ravel()])


def scene_change(
    prev: FrameSignature, cur: FrameSignature, s: SceneSettings = SceneSettings()
) -> tuple[float, int, tuple[float, float], float]:
    """(median residual, cells, shift, gain) of the background between two signatures.

    The previous thumbnail is moved by the best (dx, dy) within ``max_shift`` cells (a 1/2-cell
    grid, then a 1/8-cell grid around the best), so a camera that moved or shook does not count.
    """
    keep = background_mask(prev.box, cur.box, s)
    cells = int(keep.sum())
    if cells < s.min_cells:
        return float("nan"), cells, (0.0, 0.0), 1.0
    a = prev.thumb.astype(np.float32)
    b = cur.thumb.astype(np.float32)[keep]
    limit = min(float(s.max_shift), float(_PAD))
    best: tuple[float, tuple[float, float], float] = (float("inf"), (0.0, 0.0), 1.0)
    for shifts in (_grid((0.0, 0.0), limit, 0.5), None):
        if shifts is None:
            shifts = _grid(best[1], 0.375, 0.125)
            shifts = shifts[(np.abs(shifts) <= limit + 1e-9).all(axis=1)]
        res, gain = _residuals(_shift_stack(a, shifts, keep), b, s.gain_range)
        k = int(np.argmin(res))
        if res[k] < best[0]:
            best = (float(res[k]), (float(shifts[k, 0]), float(shifts[k, 1])), float(gain[k]))
    return best[0], cells, (round(best[1][0], 3), round(best[1][1], 3)), round(best[2], 4)


def compare(prev: FrameSignature, cur: FrameSignature, dt: float, settings: ContinuitySettings = ContinuitySettings()) -> Continuity:
    """Every cue's measured value between the previous face frame and this one, ``dt`` s later."""
    scene, cells, shift, gain = scene_change(prev, cur, settings.scene)
    face = float("nan")
    if prev.encoding is not None and cur.encoding is not None:
        face = float(np.linalg.norm(prev.encoding - cur.encoding))
    return Continuity(
        dt=max(0.0, float(dt)),
        scene=scene,
        scene_cells=cells,
        shift=shift,
        gain=gain,
        yaw_change=abs(cur.yaw - prev.yaw),
        pitch_change=abs(cur.pitch - prev.pitch),
        max_abs_yaw=max(abs(prev.yaw), abs(cur.yaw)),
        face=face,
    )


def pose_excess(c: Continuity, s: PoseSettings = PoseSettings()) -> float:
    """Largest angle change beyond the allowed ``slack + speed * dt`` (degrees; > 0 = jump).
    NaN when either frame is turned beyond ``max_abs_yaw`` (the estimate flips there)."""
    if c.max_abs_yaw > s.max_abs_yaw:
        return float("nan")
    return max(c.yaw_change - (s.yaw_slack + s.yaw_speed * c.dt), c.pitch_change - (s.pitch_slack + s.pitch_speed * c.dt))


def face_limit(dt: float, s: FaceSettings = FaceSettings()) -> float:
    """Largest descriptor distance a live face reaches in ``dt`` seconds."""
    return min(s.cap, s.base + s.rate * max(0.0, dt))


def breaks(c: Continuity, settings: ContinuitySettings = ContinuitySettings()) -> list[str]:
    """Reason codes of the cues this pair breaks (empty = continuous). NaN never breaks."""
    out = []
    if math.isfinite(c.scene) and c.scene > settings.scene.max_residual:
        out.append(SCENE_BREAK)
    if pose_excess(c, settings.pose) > 0:  # NaN > 0 is False
        out.append(POSE_JUMP)
    if math.isfinite(c.face) and c.face > face_limit(c.dt, settings.face):
        out.append(FACE_JUMP)
    return out
