"""The screen-light challenge: the page lights the face with a colour sequence the server drew.

The idea behind AWS Face Liveness' colour sequence, iProov's Flashmark and the NDSS 2018 "Face
Flashing" protocol: a screen at arm's length adds a little light of its own colour to the face,
and much less to the background behind the user. The server draws a random sequence of saturated
colours and durations (OS CSPRNG) when the attempt starts, tells the page only the colour to show
*now* (never the rest of the sequence), records when it told it (server clock), and checks that the
colour of the face, relative to the background, followed the sequence in colour and time. A
recording made before the attempt, shown on a screen or injected as a virtual camera, cannot
follow a sequence drawn afterwards; a screen tinting the whole picture moves face and background
together, which the face/background ratio cancels.

Everything here is pure (numpy and OpenCV on arrays, plain JSON-able dicts): the plan of one
attempt lives in its ``AttemptState.light`` and is advanced by the ``screen_light`` step
(webapp/challenge/steps.py). Calibration: ``python -m ml.studies.screenlight``.

Measurement. Per face frame, the mean *linear* RGB (sRGB decoded) of the skin (the landmark hull
without eyes and mouth) and of the background (outside the face box widened sideways and upwards
and continued down to the frame bottom, so neck and chest, which the screen lights too, are
excluded), clipped and black pixels left out. The statistic is the log ratio face / background per
channel: camera gains (auto-exposure, white balance) multiply both and cancel, as do the skin's
own reflectances; what remains is ``log(1 + r * s_c)``, ``r`` the screen-to-ambient illuminance
ratio on the face and ``s_c`` the shown colour's channel. Only its chromatic part (the mean over
the channels removed, frame by frame) is judged: brightness also changes with head movement and a
moving camera, chromaticity hardly (ml/studies/README.md, screen light).
"""

from __future__ import annotations

import math
import random
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from webapp.config import DEFAULTS

# Saturated colours of the backdrop, as sRGB triples. Primaries move one camera channel each,
# secondaries two: every one changes the face's chromaticity, which is what is judged. White and
# black change brightness only (no chromatic signal); they are available, not in the default.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "cyan": (0, 255, 255),
    "magenta": (255, 0, 255),
    "yellow": (255, 255, 0),
    "white": (255, 255, 255),
    "black": (0, 0, 0),
}

# Reason codes of the step's failures (audit detail; the user sees challenge_failed).
TOO_FEW_FRAMES = "light_too_few_frames"
NO_RESPONSE = "light_no_response"
WEAK_RESPONSE = "light_weak_response"
GLOBAL_TINT = "light_global_tint"
OUT_OF_SYNC = "light_out_of_sync"
TOO_BRIGHT = "light_too_bright"
FAILURE_CODES = (TOO_FEW_FRAMES, NO_RESPONSE, WEAK_RESPONSE, GLOBAL_TINT, OUT_OF_SYNC, TOO_BRIGHT)

# Lags searched on a 50 ms grid; for the audit only, up to this much further (a response that
# follows the sequence but too late is reported as out of sync, not as no response).
_LAG_STEP_S = 0.05
_DIAGNOSTIC_LAG_S = 2.5
_EPS = 1e-3  # linear-light floor in the logs (a black pixel is about 0.0003)
# Face hull without the eyes (36-47) and the inner mouth (60-67): skin, mostly.
_EYES = (tuple(range(36, 42)), tuple(range(42, 48)))
_MOUTH = tuple(range(60, 68))
_MIN_FACE_PIXELS = 300
_MIN_BACKGROUND_SHARE = 0.04  # of the frame


def _srgb_to_linear_lut() -> np.ndarray:
    v = np.arange(256, dtype=np.float64) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


_LINEAR = _srgb_to_linear_lut()
_LINEAR_LUT3 = np.ascontiguousarray(np.repeat(_LINEAR[None, :, None], 3, axis=2))  # cv2.LUT, 3 channels


def _linear_to_srgb_lut(levels: int = 8192) -> np.ndarray:
    v = np.linspace(0.0, 1.0, levels)
    s = np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.power(v, 1 / 2.4) - 0.055)
    return np.clip(np.round(s * 255), 0, 255).astype(np.uint8)


_ENCODE = _linear_to_srgb_lut()


def to_srgb8(lin: np.ndarray) -> np.ndarray:
    """Linear 0-1 -> sRGB 8 bits (a 13-bit lookup: finer than one output level everywhere); the
    inverse of the measurement's linearisation, for the simulations that render light."""
    return _ENCODE[np.clip(lin * (len(_ENCODE) - 1) + 0.5, 0, len(_ENCODE) - 1).astype(np.int32)]


@dataclass(frozen=True)
class LightSettings:
    """The sequence the server draws and how the step judges the face's response
    (LIGHT_* in webapp/config.py, where each default's origin is written)."""

    colours: int = DEFAULTS["LIGHT_COLOURS"]  # segments per sequence
    palette: tuple[str, ...] = tuple(DEFAULTS["LIGHT_PALETTE"])
    min_seconds: float = DEFAULTS["LIGHT_MIN_SECONDS"]  # one colour's shortest duration
    max_seconds: float = DEFAULTS["LIGHT_MAX_SECONDS"]
    transition_ms: int = DEFAULTS["LIGHT_TRANSITION_MS"]  # the page's fade; frames inside it are not judged
    max_lag_ms: int = DEFAULTS["LIGHT_MAX_LAG_MS"]  # tell -> reflection in a received frame, searched
    min_frames: int = DEFAULTS["LIGHT_MIN_FRAMES"]  # judged frames needed
    min_correlation: float = DEFAULTS["LIGHT_MIN_CORRELATION"]
    min_response: float = DEFAULTS["LIGHT_MIN_RESPONSE"]  # log-ratio change for a full channel
    min_own_share: float = DEFAULTS["LIGHT_MIN_OWN_SHARE"]  # of the face's change, not the background's
    bright_face_level: float = DEFAULTS["LIGHT_BRIGHT_FACE_LEVEL"]  # sRGB 0-255 skin level

    @property
    def sequence_max_seconds(self) -> float:
        return self.colours * self.max_seconds


# --- the plan: drawn at attempt start, told one colour at a time ----------------------------------


def draw_plan(cfg: LightSettings, rng: random.Random | None = None) -> dict[str, Any]:
    """A fresh random sequence (OS CSPRNG): ``cfg.colours`` colours, consecutive ones different,
    every camera channel both lit and unlit somewhere (else its response cannot be measured), and
    durations uniform in ``[min_seconds, max_seconds]`` (10 ms steps). ``rng``: tests and the
    simulation pass a seeded one; the service never does."""
    rand = rng or secrets.SystemRandom()
    palette = [c for c in cfg.palette if c in PALETTE]
    if len(palette) < 2 or cfg.colours < 2:
        raise ValueError("a light sequence needs at least two colours")
    for _ in range(1000):
        colours: list[str] = []
        while len(colours) < cfg.colours:
            pick = rand.choice(palette)
            if not colours or pick != colours[-1]:
                colours.append(pick)
        lit = np.array([PALETTE[c] for c in colours]) > 0
        if lit.any(axis=0).all() and (~lit).any(axis=0).all():
            break
    durations = [round(rand.uniform(cfg.min_seconds, cfg.max_seconds), 2) for _ in colours]
    return {"colours": colours, "durations": durations, "start": None, "told": [], "samples": []}


def sequence_end(plan: dict[str, Any]) -> float | None:
    start = plan.get("start")
    return None if start is None else float(start) + float(sum(plan["durations"]))


def segment_at(plan: dict[str, Any], t: float) -> int | None:
    """Index of the colour scheduled at server time ``t``; None before the start or after the end."""
    start = plan.get("start")
    if start is None or t < start:
        return None
    edge = float(start)
    for i, d in enumerate(plan["durations"]):
        edge += float(d)
        if t < edge:
            return i
    return None


def tell(plan: dict[str, Any], now: float) -> None:
    """Record what the answer being prepared tells the page: the colour scheduled ``now``. The
    sequence starts with the first answer; only changes are recorded, with the server time."""
    now = round(now, 4)  # stored so; the lookup must use the stored value
    if plan.get("start") is None:
        plan["start"] = now
    i = segment_at(plan, now)
    if i is None:
        return
    told = plan["told"]
    if not told or told[-1][1] != i:
        told.append([now, i])


def instruction(plan: dict[str, Any] | None, now: float, cfg: LightSettings) -> dict[str, Any] | None:
    """What the page is told: the colour to show now, and when to ask again (the next frame's
    answer will carry the next colour). None: no backdrop."""
    if not plan or not plan.get("told"):
        return None
    i = segment_at(plan, now)
    if i is None:
        return None
    start = float(plan["start"])
    edge = start + float(sum(plan["durations"][: i + 1]))
    name = plan["colours"][i]
    r, g, b = PALETTE[name]
    return {
        "colour": name,
        "css": f"#{r:02x}{g:02x}{b:02x}",
        "next_in_ms": max(0, round((edge - now) * 1000)),
        "transition_ms": cfg.transition_ms,
    }


# --- per-frame measurement ------------------------------------------------------------------------


@dataclass(frozen=True)
class LightSample:
    """Mean linear RGB (0-1) of the skin and of the background, and the skin's sRGB level."""

    face: tuple[float, float, float]
    background: tuple[float, float, float]
    level: float  # mean sRGB luma of the skin pixels, 0-255

    def audit(self) -> dict[str, Any]:
        return {"face": [round(v, 4) for v in self.face], "bg": [round(v, 4) for v in self.background], "level": round(self.level, 1)}


def face_mask(shape: tuple[int, int], box: Sequence[float], landmarks: np.ndarray | None) -> np.ndarray:
    """Skin pixels: the 68-point hull without eyes and inner mouth (or the box's centre without
    landmarks)."""
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    if landmarks is not None and len(landmarks) >= 68:
        pts = np.asarray(landmarks, np.float64)
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(pts).astype(np.int32)), 1)
        for part in (*_EYES, _MOUTH):
            hull = cv2.convexHull(np.round(pts[list(part)]).astype(np.int32))
            cv2.fillConvexPoly(mask, hull, 0)
            cv2.polylines(mask, [hull], True, 0, thickness=2)
    else:
        x0, y0, x1, y1 = (float(v) for v in box)
        bw, bh = x1 - x0, y1 - y0
        cv2.rectangle(mask, (round(x0 + 0.2 * bw), round(y0 + 0.25 * bh)), (round(x1 - 0.2 * bw), round(y1 - 0.1 * bh)), 1, -1)
    return mask.astype(bool)


def background_mask(shape: tuple[int, int], box: Sequence[float], side: float = 0.6, above: float = 0.6) -> np.ndarray:
    """Pixels outside the head-and-body region: the face box widened by ``side`` box widths each
    side and ``above`` heights upwards, continued down to the frame bottom (the screen lights
    neck and chest too)."""
    h, w = shape
    x0, y0, x1, y1 = (float(v) for v in box)
    bw, bh = x1 - x0, y1 - y0
    mask = np.ones((h, w), bool)
    left, right = max(0, math.floor(x0 - side * bw)), min(w, math.ceil(x1 + side * bw))
    top = max(0, math.floor(y0 - above * bh))
    mask[top:, left:right] = False
    return mask


def _mean_linear(pixels: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """Mean linear RGB, count and mean sRGB of the ``mask`` pixels of ``pixels`` (uint8 RGB),
    clipped ones (any channel >= 250: no response can show there) and black ones left out."""
    r, g, b = cv2.split(pixels)
    peak = cv2.max(cv2.max(r, g), b)  # pixels.max(axis=2), the same bytes at a tenth of the cost
    keep = (mask & (peak < 250) & (peak > 8)).astype(np.uint8)
    n = int(cv2.countNonZero(keep))
    if n == 0:
        return np.zeros(3), 0, np.zeros(3)
    lin = cv2.LUT(pixels, _LINEAR_LUT3)
    return np.array(cv2.mean(lin, keep)[:3]), n, np.array(cv2.mean(pixels, keep)[:3])


def measure(rgb: np.ndarray, box: Sequence[float], landmarks: np.ndarray | None) -> LightSample | None:
    """The frame's skin and background colour, or None when either is too small to measure.

    The skin at full resolution within the face's bounding rectangle, the background on every
    second pixel (a mean over tens of thousands of pixels either way; about 1 ms per frame)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        return None
    h, w = int(rgb.shape[0]), int(rgb.shape[1])
    skin_mask = face_mask((h, w), box, landmarks)
    ys, xs = np.nonzero(skin_mask.any(axis=1))[0], np.nonzero(skin_mask.any(axis=0))[0]
    if len(ys) == 0:
        return None
    y0, y1, x0, x1 = int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1
    face, n_face, srgb = _mean_linear(np.ascontiguousarray(rgb[y0:y1, x0:x1]), skin_mask[y0:y1, x0:x1])
    small = np.ascontiguousarray(rgb[::2, ::2])
    bg, n_bg, _ = _mean_linear(small, background_mask(small.shape[:2], [v / 2 for v in box]))
    if n_face < _MIN_FACE_PIXELS or n_bg < _MIN_BACKGROUND_SHARE * small.shape[0] * small.shape[1]:
        return None
    level = float(srgb @ np.array([0.299, 0.587, 0.114]))
    return LightSample(
        face=(float(face[0]), float(face[1]), float(face[2])), background=(float(bg[0]), float(bg[1]), float(bg[2])), level=level
    )


def record(plan: dict[str, Any], t: float, sample: LightSample) -> None:
    """Keep one received frame's measurement (server arrival time) for the judgement."""
    colours = [round(v, 6) for v in (*sample.face, *sample.background)]
    plan["samples"].append([round(t, 4), *colours, round(sample.level, 1)])


# --- the judgement ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LightResult:
    """How the face followed the sequence. ``code`` is None when it passed."""

    code: str | None
    frames: int  # judged frames at the best lag
    correlation: float  # face/background log ratio vs the shown colour, at the best allowed lag
    response: float  # its slope: log-ratio change for a fully lit channel
    lag: float  # seconds
    face_correlation: float  # the face alone (camera gains included)
    face_response: float  # its slope
    background_correlation: float  # the background alone
    late_correlation: float  # best correlation at any lag up to 2.5 s (audit)
    late_lag: float
    level: float  # median skin level, sRGB

    @property
    def passed(self) -> bool:
        return self.code is None

    def audit(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def detail(self) -> str:
        return (
            f"{self.code or 'light_ok'}: r={self.correlation:.2f} slope={self.response:.3f} lag={self.lag:.2f}s "
            f"face r={self.face_correlation:.2f} bg r={self.background_correlation:.2f} "
            f"late r={self.late_correlation:.2f}@{self.late_lag:.1f}s level={self.level:.0f} n={self.frames}"
        )


def stimulus(plan: dict[str, Any], times: np.ndarray, lag: float, transition: float) -> np.ndarray:
    """The colour (linear, 0/1 per channel) on the page at ``times - lag`` for each frame; NaN
    rows before the first colour or inside a fade. The page changes colour when it receives an
    answer, so the told times (not the schedule) say what it showed."""
    out = np.full((len(times), 3), np.nan)
    told = plan.get("told") or []
    if not told:
        return out
    at = np.array([float(t) for t, _ in told])
    colours = np.array([np.array(PALETTE[plan["colours"][int(i)]], np.float64) / 255.0 for _, i in told])
    shown = times - lag
    idx = np.searchsorted(at, shown, side="right") - 1
    ok = (idx >= 0) & (shown - at[np.clip(idx, 0, None)] >= transition)
    out[ok] = colours[idx[ok]]
    return out


def _chroma(x: np.ndarray) -> np.ndarray:
    """The chromatic part of per-channel logs (or of a colour): each frame's mean over the
    channels removed. Brightness changes - head movement, auto-exposure, a hand-held camera
    panning over a brighter background - move all channels together and leave it."""
    return x - x.mean(axis=1, keepdims=True)


def _fit(values: np.ndarray, stim: np.ndarray, times: np.ndarray) -> tuple[float, float]:
    """Pooled partial correlation and slope of the chromatic part of ``values`` (logs) on that of
    ``stim`` over the three channels, each channel's offset and linear drift (slow lighting or
    pose change) removed first."""
    values, stim = _chroma(values), _chroma(stim)
    design = np.column_stack([np.ones_like(times), times - times.mean()])
    proj = design @ np.linalg.pinv(design)
    rv = values - proj @ values
    rs = stim - proj @ stim
    keep = (rs**2).sum(axis=0) > 1e-9  # channels whose stimulus varied
    if keep.sum() < 2:
        return float("nan"), float("nan")
    rv, rs = rv[:, keep], rs[:, keep]
    ss, vv = float((rs**2).sum()), float((rv**2).sum())
    cross = float((rv * rs).sum())
    if vv <= 0:
        return 0.0, 0.0
    return cross / math.sqrt(ss * vv), cross / ss


def _scan(
    plan: dict[str, Any], samples: np.ndarray, lags: np.ndarray, cfg: LightSettings, face_only: bool = False
) -> tuple[float, float, float, int]:
    """(best correlation, its slope, its lag, its frame count) over ``lags`` of the log ratio
    face / background (or of the face alone)."""
    times = samples[:, 0]
    ratio = np.log(samples[:, 1:4] + _EPS)
    if not face_only:
        ratio = ratio - np.log(samples[:, 4:7] + _EPS)
    best = (float("nan"), float("nan"), 0.0, 0)
    for lag in lags:
        stim = stimulus(plan, times, float(lag), cfg.transition_ms / 1000.0)
        ok = ~np.isnan(stim[:, 0])
        if ok.sum() < cfg.min_frames:
            continue
        r, slope = _fit(ratio[ok], stim[ok], times[ok])
        if not math.isnan(r) and (math.isnan(best[0]) or r > best[0]):
            best = (r, slope, float(lag), int(ok.sum()))
    return best


def evaluate(plan: dict[str, Any], cfg: LightSettings) -> LightResult:
    """Did the face follow the sequence? See the module docstring; each failure has its code."""
    samples = np.asarray(plan.get("samples") or [], np.float64).reshape(-1, 8)
    level = float(np.median(samples[:, 7])) if len(samples) else 0.0
    allowed = np.arange(0.0, cfg.max_lag_ms / 1000.0 + 1e-9, _LAG_STEP_S)
    r, slope, lag, n = _scan(plan, samples, allowed, cfg) if len(samples) else (float("nan"), float("nan"), 0.0, 0)
    if math.isnan(r):
        return LightResult(TOO_FEW_FRAMES, n, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, level)
    late = np.arange(allowed[-1] + _LAG_STEP_S, _DIAGNOSTIC_LAG_S + 1e-9, _LAG_STEP_S)
    late_r, _, late_lag, _ = _scan(plan, samples, late, cfg)
    late_r = 0.0 if math.isnan(late_r) else late_r
    # The face alone, at its own best lag, and the background at that lag.
    face_r, face_slope, face_lag, _ = _scan(plan, samples, allowed, cfg, face_only=True)
    times = samples[:, 0]
    stim = stimulus(plan, times, face_lag, cfg.transition_ms / 1000.0)
    ok = ~np.isnan(stim[:, 0])
    bg_r, _ = _fit(np.log(samples[ok, 4:7] + _EPS), stim[ok], times[ok])
    # The background must respond less than the face: most of the face's change is its own.
    # (Auto-exposure dimming both only raises the share; a tint of the whole picture leaves
    # the ratio a residue of the JPEG and gamma non-linearities, a few % of the face's change.)
    global_tint = face_r >= cfg.min_correlation and slope < cfg.min_own_share * face_slope
    code: str | None = None
    if r >= cfg.min_correlation and not global_tint:
        code = None if slope >= cfg.min_response else WEAK_RESPONSE
    elif global_tint:
        code = GLOBAL_TINT  # face and background changed colour together: the picture, not the light
    elif late_r >= cfg.min_correlation and late_r > r:
        code = OUT_OF_SYNC
    elif level >= cfg.bright_face_level:
        code = TOO_BRIGHT
    else:
        code = NO_RESPONSE
    return LightResult(code, n, r, slope, lag, face_r, face_slope, bg_r, late_r, late_lag, level)
