"""Event-level scoring of a streaming blink detector, the way the policy would use it.

At every face frame the detector reads the last ``window`` frames. A *firing* is a maximal run of
consecutive frames at or above the threshold (one firing = one "blink seen"). A blink event is
*detected* when a firing frame's window contains a frame sampled inside the event; it is
*catchable* when the client actually sampled the eye below ``ENTER`` during it (at 4 fps many
blinks fall between frames: no detector can see those, so both recalls are reported). A firing
whose windows touch no event at all is a *false blink*; firings touching only ambiguous dips
(see ``ml.blink.labels``) count neither way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ml.blink.labels import ENTER
from ml.blink.windows import Stream, stream_windows

Scorer = Callable[[np.ndarray], np.ndarray]  # feature rows -> blink probabilities


@dataclass
class StreamScore:
    events: int = 0  # real blink events inside the stream's time span
    catchable: int = 0
    detected: int = 0
    detected_catchable: int = 0
    false_firings: int = 0
    true_firings: int = 0
    seconds: float = 0.0

    def __iadd__(self, other: StreamScore) -> StreamScore:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))
        return self

    def summary(self) -> dict[str, float | int]:
        minutes = self.seconds / 60.0
        return {
            "events": self.events,
            "catchable": self.catchable,
            "recall": round(self.detected / self.events, 4) if self.events else float("nan"),
            "recall_catchable": round(self.detected_catchable / self.catchable, 4) if self.catchable else float("nan"),
            "false_per_min": round(self.false_firings / minutes, 3) if minutes else float("nan"),
            "false_firings": self.false_firings,
            "minutes": round(minutes, 2),
        }


def firings(fire: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) frame index of each run of True."""
    out, j, n = [], 0, len(fire)
    while j < n:
        if fire[j]:
            k = j
            while k + 1 < n and fire[k + 1]:
                k += 1
            out.append((j, k))
            j = k + 1
        else:
            j += 1
    return out


# How many frames back a firing of the rule detector may be credited to a blink event (the rule
# has no feature window of its own; learned detectors use theirs).
RULE_WINDOW = 30


def score_fire(stream: Stream, fire: np.ndarray, window: int) -> StreamScore:
    """Score per-frame decisions ``fire`` (aligned with stream frames) against the stream's events."""
    res = StreamScore(seconds=float(stream.t[-1] - stream.t[0]))
    t0, t1 = stream.t[0], stream.t[-1]
    detected: set[int] = set()
    for a, b in firings(fire):
        touched: set[int] = set()
        for j in range(a, b + 1):
            lo = max(0, j - window + 1)
            touched.update(int(e) for e in stream.event_of[lo : j + 1] if e >= 0)
        blinks = {e for e in touched if stream.events[e].blink}
        if blinks:
            res.true_firings += 1
            detected |= blinks
        elif not touched:
            res.false_firings += 1
    for n, e in enumerate(stream.events):
        if not e.blink or e.start < t0 or e.end > t1:
            continue
        res.events += 1
        caught = bool(np.any((stream.event_of == n) & (stream.dense_ratio < ENTER)))
        res.catchable += int(caught)
        if n in detected:
            res.detected += 1
            res.detected_catchable += int(caught)
    return res


def model_fire(stream: Stream, scorer: Scorer, window: int, threshold: float) -> np.ndarray:
    """Per-frame decisions of a learned detector (frames before the third never fire)."""
    x, _ = stream_windows(stream, window)
    fire = np.zeros(len(stream.t), bool)
    if len(x):
        fire[2:] = scorer(x) >= threshold
    return fire


def rule_fire(stream: Stream, closed_ratio: float = 0.75, reopen_ratio: float = 0.9) -> np.ndarray:
    """The current rule (webapp.challenge.steps.BlinkStep) as a streaming detector: one frame below
    ``closed_ratio`` x baseline, then one at or above ``reopen_ratio`` x baseline; then it resets."""
    fire = np.zeros(len(stream.t), bool)
    closed = False
    for j in range(3, len(stream.t)):  # the first three frames are the baseline
        r = stream.ears[j] / stream.baseline
        if not closed:
            closed = r < closed_ratio
        elif r >= reopen_ratio:
            fire[j] = True
            closed = False
    return fire
