"""Learned blink detection over a short window of sparse frames.

Why learned: the server sees 4-8 frames a second, so a blink (100-400 ms) shows in zero to two
frames, often half-closed. A fixed "EAR < 0.75 x baseline" rule either misses shallow catches or
fires on landmark jitter. The detector instead reads the *shape* of the last few frames - a dip
from an open level, back up again, deep relative to this face's own jitter - normalised by the
user's open-eye baseline, with the server-clock gaps between frames.

The features are computed here (numpy, no model) and the classifier is a small scikit-learn
model exported to ONNX by ``ml/blink`` with a JSON card beside it (``webapp/assets/blink/``).
Training imports :func:`window_features` from this module, so serving and training compute the
same numbers. EAR is the eye aspect ratio of Soukupova & Cech (2016), mean of both eyes
(:func:`webapp.challenge.geometry.eye_aspect_ratio`).

Everything the detector needs per attempt is the list of recent EARs and frame times (floats),
so the state stays small JSON; see :func:`append_history`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from webapp.runtime.files import CardError, cpu_session, load_json, verify_file

FEATURES_VERSION = "blink-window-v1"
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "assets" / "blink"
CARD_FILE = "blink.json"
# Used when a window has no gaps to read (one frame): the client's nominal pacing (~5 fps).
NOMINAL_DT = 0.2
_CLOSED = 0.8  # fraction of the window's open level below which a frame counts as closed
_OPEN = 0.9  # ... and at or above which it counts as open
_SUMMARY_NAMES = (
    "min_ratio",
    "local_depth",
    "open_level",
    "drop_before",
    "rise_after",
    "second_local",
    "jitter",
    "depth_z",
    "closed_fraction",
    "closed_span_s",
    "dt_before",
    "dt_after",
    "last_local",
    "frames_since_min",
    "open_after",
    "open_before",
    "min_dt",
    "mean_dt",
)


def feature_names(window: int) -> list[str]:
    """Column names of :func:`window_features` (the model card lists them)."""
    return [*_SUMMARY_NAMES, *(f"ratio_{i}" for i in range(window))]


def gaps(times: Sequence[float]) -> list[float]:
    """Inter-frame gaps in seconds from server timestamps (``len(times) - 1`` values)."""
    return [float(b - a) for a, b in itertools.pairwise(times)]


def window_features(ears: Sequence[float] | np.ndarray, dts: Sequence[float] | np.ndarray, baseline_ear: float, window: int) -> np.ndarray:
    """Features of the last ``window`` frames (oldest first) as one float32 row.

    ``ears`` are per-frame mean EARs of face frames, ``dts[i]`` the server-clock gap between
    frame ``i`` and ``i+1`` (``len(ears) - 1`` values; extra leading gaps are ignored),
    ``baseline_ear`` the user's open-eye EAR from the start of the attempt. Shorter histories
    are padded on the left by repeating the oldest frame, which reads as "no evidence of an
    open eye before", never as a blink.

    Ratios are clipped to [0, 2]: a landmark failure must not produce an outlier the model
    never saw.
    """
    if window < 3:
        raise ValueError("a blink needs at least three frames: open, closed, open")
    if not math.isfinite(baseline_ear) or baseline_ear <= 0:
        raise ValueError(f"baseline EAR must be positive, got {baseline_ear}")
    if len(ears) == 0:
        raise ValueError("no frames")
    e = np.asarray(ears, dtype=np.float64)[-window:]
    d = np.asarray(dts, dtype=np.float64)
    if len(d) < len(ears) - 1:
        raise ValueError(f"{len(ears)} frames need {len(ears) - 1} gaps, got {len(d)}")
    d = d[len(d) - (len(e) - 1) :] if len(e) > 1 else np.zeros(0)
    d = np.clip(np.nan_to_num(d, nan=NOMINAL_DT), 0.0, 5.0)
    fill_dt = float(np.median(d)) if len(d) else NOMINAL_DT
    pad = window - len(e)
    e = np.concatenate([np.full(pad, e[0]), e])
    d = np.concatenate([np.full(pad, fill_dt), d])  # d[i] = gap between frame i and i+1 (window-1 values)
    r = np.clip(np.nan_to_num(e / baseline_ear, nan=1.0), 0.0, 2.0)

    k = int(np.argmin(r))
    others = np.delete(r, k)
    open_level = max(float(np.median(others)), 1e-3)
    local = r / open_level
    drop_before = float(local[:k].max() - local[k]) if k > 0 else 0.0
    rise_after = float(local[k + 1 :].max() - local[k]) if k < window - 1 else 0.0
    second_local = float(np.sort(local)[1])
    # Jitter: median absolute frame-to-frame change away from the dip, this face's landmark noise.
    steps = np.abs(np.diff(local))
    keep = np.ones(len(steps), bool)
    keep[max(0, k - 1) : k + 1] = False
    jitter = float(np.median(steps[keep])) if keep.any() else float(np.median(steps))
    depth_z = (1.0 - float(local[k])) / (jitter + 0.02)
    closed = np.flatnonzero(local < _CLOSED)
    times = np.concatenate([[0.0], np.cumsum(d)])
    closed_span = float(times[closed[-1]] - times[closed[0]]) if len(closed) else 0.0
    summary = [
        float(r[k]),
        float(local[k]),
        open_level,
        drop_before,
        rise_after,
        second_local,
        jitter,
        depth_z,
        len(closed) / window,
        closed_span,
        float(d[k - 1]) if k > 0 else 0.0,
        float(d[k]) if k < window - 1 else 0.0,
        float(local[-1]),
        float(window - 1 - k),
        float(local[k + 1 :].max() >= _OPEN) if k < window - 1 else 0.0,
        float(local[:k].max() >= _OPEN) if k > 0 else 0.0,
        float(d.min()),
        float(d.mean()),
    ]
    return np.asarray([*summary, *r.tolist()], dtype=np.float32)


@dataclass(frozen=True)
class BlinkCard:
    """The blink model's card: how to feed it and where its threshold came from."""

    name: str
    version: str
    file: str
    sha256: str
    features: str  # FEATURES_VERSION the model was trained with
    window: int
    threshold: float
    input_name: str
    output_name: str
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    limits: list[str] = field(default_factory=list)
    path: Path | None = None

    @classmethod
    def load(cls, directory: Path) -> BlinkCard:
        data = load_json(directory / CARD_FILE)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "path"}
        card = cls(**known, path=directory)
        if card.features != FEATURES_VERSION:
            raise CardError(f"blink model expects features {card.features}, this service computes {FEATURES_VERSION}")
        return card

    @property
    def model_path(self) -> Path:
        assert self.path is not None
        return self.path / self.file

    def verify_file(self) -> None:
        verify_file(self.model_path, self.sha256)


class BlinkDetector:
    """The shipped blink classifier behind a pure-looking interface.

    The worker's runtime (``webapp/runtime``) loads it once; the ONNX session is read-only, so
    calls are deterministic functions of their arguments and safe from any thread.
    """

    def __init__(self, card: BlinkCard, session: Any) -> None:
        self.card = card
        self._session = session

    @classmethod
    def load(cls, directory: Path = DEFAULT_DIR, verify: bool = True, threads: int = 1) -> BlinkDetector:
        card = BlinkCard.load(directory)
        if verify:
            card.verify_file()
        return cls(card, cpu_session(card.model_path, threads))

    @property
    def window(self) -> int:
        return self.card.window

    @property
    def threshold(self) -> float:
        return self.card.threshold

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """Blink probability of each feature row (batch form, used by the evaluation tools)."""
        out = self._session.run([self.card.output_name], {self.card.input_name: np.asarray(rows, np.float32).reshape(len(rows), -1)})[0]
        return np.asarray(out, dtype=np.float64)[:, 1]

    def probability(self, ears: Sequence[float], dts: Sequence[float], baseline_ear: float) -> float:
        """Probability that the last ``window`` frames show a complete blink (closed, then open)."""
        return float(self.probabilities(window_features(ears, dts, baseline_ear, self.window)[None, :])[0])

    def blink_seen(self, ears: Sequence[float], dts: Sequence[float], baseline_ear: float, threshold: float | None = None) -> bool:
        """``probability(...) >= threshold`` (the card's threshold unless one is given)."""
        if len(ears) < 3:
            return False
        return self.probability(ears, dts, baseline_ear) >= (self.threshold if threshold is None else threshold)


@dataclass(frozen=True)
class OperatingPoint:
    """The detector at a threshold chosen by configuration rather than the card's default.

    The card's threshold keeps false blinks on *live* users under 1 a minute; those cost no
    security (the person is live), while a missed blink costs a real user the attempt. The
    card's ``operating_points`` list the other thresholds with their false blinks on photos.
    """

    detector: BlinkDetector
    threshold: float

    @property
    def window(self) -> int:
        return self.detector.window

    def blink_seen(self, ears: Sequence[float], dts: Sequence[float], baseline_ear: float) -> bool:
        return self.detector.blink_seen(ears, dts, baseline_ear, self.threshold)


def frames_since_closed(ears: Sequence[float], window: int) -> int:
    """How many frames ago the lowest EAR of the last ``window`` frames was (0 = the newest).

    The policy uses it to accept a blink only when its closed frame arrived after the blink
    prompt: ``frames_since_closed(...) < frames spent on the step``.
    """
    recent = np.asarray(ears, dtype=np.float64)[-window:]
    if recent.size == 0:
        raise ValueError("no frames")
    return int(recent.size - 1 - int(np.argmin(np.nan_to_num(recent, nan=np.inf))))


def append_history(ears: list[float], times: list[float], ear: float, t: float, keep: int) -> None:
    """Add one face frame to the per-attempt blink history (mutated), keeping the last ``keep``.

    The attempt state stores these two lists (rounded floats, a few hundred bytes); the gaps the
    detector needs are :func:`gaps` of ``times``.
    """
    ears.append(round(float(ear), 4))
    times.append(round(float(t), 3))
    del ears[:-keep]
    del times[:-keep]
