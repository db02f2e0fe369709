"""From dense tracks to what the server sees: sparse client-rate frame streams and their windows.

A *stream* simulates one login attempt on a clip: the browser grabs the latest camera frame every
``1/fps`` s (random phase, jittered gaps, occasional stalls); frames without a face are dropped,
as the policy drops them; the attempt's open-eye baseline is the median EAR of its first three
face frames (``CHALLENGE_BASELINE_FRAMES``). Each stream yields one feature window per frame.

Labels come from the dense track's events (``ml.blink.labels``):

* 1 - a sampled frame (not the newest) lies inside a blink event with dense ratio below
  ``ENTER`` (the camera caught the eye closing), and the newest frame is after the event
  (it is open again);
* 0 - no frame of the window lies in any event (blink or ambiguous, +-50 ms), or the newest
  frame itself shows the eye closing (not yet a blink: the eye must be seen open again);
* -1 - anything in between (a reopening not yet complete, only a blink's shallow edge sampled,
  or an ambiguous dip): left out of training and of false-positive counts.

Synthetic blinks (:func:`inject_blinks`) multiply a real open-eye stretch of the dense EAR by a
blink profile, so positives keep the real landmark jitter of that face; their parameters span the
real events of the clips (closing 50-120 ms, held 0-300 ms, opening 80-250 ms, depth 0.30-0.65)
and slower "blink slowly" closures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ml.blink.labels import ENTER, EXIT, Event, ear_ratio, find_events
from ml.blink.tracks import Track
from webapp.challenge.blink import gaps, window_features

FPS_CHOICES = (4.0, 5.0, 6.0, 8.0, 10.0)
MARGIN_S = 0.05


@dataclass
class Clip:
    """A dense EAR series with its events (real, or real plus injected blinks)."""

    name: str
    t: np.ndarray
    ears: np.ndarray  # NaN without a face
    events: list[Event]
    ratio: np.ndarray  # dense EAR / rolling open level (for "was the eye caught closing")
    synthetic: int = 0  # number of injected blinks

    @classmethod
    def from_track(cls, track: Track) -> Clip:
        ears, ratio = ear_ratio(track)
        return cls(track.name, track.t, ears, find_events(track, ratio), ratio)


@dataclass
class Stream:
    """One simulated attempt: the face frames the server received."""

    clip: str
    fps: float
    t: np.ndarray  # server times (s)
    ears: np.ndarray
    dense_ratio: np.ndarray  # the dense ratio of the frame that was sent
    event_of: np.ndarray  # index into clip.events of the event the frame falls in, -1 if none
    baseline: float
    events: list[Event] = field(default_factory=list)


def client_times(start: float, end: float, fps: float, rng: np.random.Generator, stall_p: float = 0.05) -> np.ndarray:
    """Frame request times of a browser pacing itself at about ``fps`` with one request in flight."""
    out = []
    t = start + rng.uniform(0.0, 1.0 / fps)
    while t <= end:
        out.append(t)
        gap = (1.0 / fps) * float(np.exp(rng.normal(0.0, 0.15)))
        if rng.random() < stall_p:
            gap += rng.uniform(0.2, 0.6)  # a slow response or a busy tab
        t += gap
    return np.asarray(out)


def make_stream(clip: Clip, fps: float, rng: np.random.Generator, start: float | None = None, baseline_frames: int = 3) -> Stream | None:
    """Sample ``clip`` as a client would; None when fewer than ``baseline_frames + 3`` face frames."""
    t0 = clip.t[0] if start is None else start
    times = client_times(t0, clip.t[-1], fps, rng)
    idx = np.searchsorted(clip.t, times, side="right") - 1  # the latest camera frame at that time
    idx = idx[idx >= 0]
    keep = np.isfinite(clip.ears[idx])
    times, idx = times[: len(keep)][keep], idx[keep]
    if len(idx) < baseline_frames + 3:
        return None
    event_of = np.full(len(idx), -1)
    for n, e in enumerate(clip.events):
        inside = (clip.t[idx] >= e.start - MARGIN_S) & (clip.t[idx] <= e.end + MARGIN_S)
        event_of[inside] = n
    baseline = float(np.median(clip.ears[idx[:baseline_frames]]))
    return Stream(clip.name, fps, times, clip.ears[idx], clip.ratio[idx], event_of, baseline, clip.events)


def window_label(stream: Stream, j: int, window: int) -> int:
    """Label of the window ending at frame ``j`` (see the module doc)."""
    lo = max(0, j - window + 1)
    ev = stream.event_of[lo : j + 1]
    if (ev < 0).all():
        return 0
    newest = stream.event_of[j]
    if newest >= 0 and stream.events[newest].blink and stream.dense_ratio[j] < ENTER:
        return 0  # still closed: a blink needs the open eye after it
    for k in range(lo, j):  # never the newest frame: the eye must be seen open again
        n = stream.event_of[k]
        if n >= 0 and stream.events[n].blink and stream.dense_ratio[k] < ENTER and stream.t[j] > stream.events[n].end:
            return 1
    return -1


def stream_windows(stream: Stream, window: int, min_frames: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and labels of every window of a stream (one per frame from ``min_frames``)."""
    dts = gaps(stream.t.tolist())
    rows, labels = [], []
    for j in range(min_frames - 1, len(stream.t)):
        lo = max(0, j - window + 1)
        rows.append(window_features(stream.ears[lo : j + 1], dts[lo:j], stream.baseline, window))
        labels.append(window_label(stream, j, window))
    return np.asarray(rows, np.float32).reshape(len(rows), -1), np.asarray(labels, np.int8)


def blink_profile(t: np.ndarray, onset: float, close: float, hold: float, reopen: float, depth: float) -> np.ndarray:
    """Multiplier of the open-eye EAR during a blink: 1 -> ``depth`` -> 1 (raised-cosine edges).

    Closing is faster than reopening, as measured for spontaneous blinks (e.g. Caffier et al.,
    2003, "Experimental evaluation of eye-blink parameters as a drowsiness measure").
    """
    m = np.ones_like(t)
    a = (t >= onset) & (t < onset + close)
    m[a] = 1 - (1 - depth) * 0.5 * (1 - np.cos(np.pi * (t[a] - onset) / close))
    b = (t >= onset + close) & (t < onset + close + hold)
    m[b] = depth
    s = onset + close + hold
    c = (t >= s) & (t < s + reopen)
    m[c] = depth + (1 - depth) * 0.5 * (1 - np.cos(np.pi * (t[c] - s) / reopen))
    return m


def inject_blinks(clip: Clip, rng: np.random.Generator, per_second: float = 0.25, slow_share: float = 0.3) -> Clip:
    """A copy of ``clip`` with synthetic blinks on open-eye stretches far from real events."""
    ears = clip.ears.copy()
    events = list(clip.events)
    busy = [(e.start - 0.8, e.end + 0.8) for e in events]
    wanted = max(1, int(round(clip.t[-1] - clip.t[0]) * per_second))
    added = 0
    for _ in range(wanted * 20):
        if added >= wanted:
            break
        slow = rng.random() < slow_share
        close = rng.uniform(0.05, 0.12) if not slow else rng.uniform(0.10, 0.25)
        hold = rng.uniform(0.0, 0.12) if not slow else rng.uniform(0.15, 0.45)
        reopen = rng.uniform(0.08, 0.25) if not slow else rng.uniform(0.15, 0.35)
        depth = rng.uniform(0.30, 0.65)
        onset = rng.uniform(clip.t[0] + 0.8, clip.t[-1] - 1.5)
        total = close + hold + reopen
        if any(a < onset + total and onset < b for a, b in busy):
            continue
        near = (clip.t >= onset - 0.5) & (clip.t <= onset + total + 0.5)
        if near.sum() < 5 or not np.isfinite(ears[near]).all():
            continue
        m = blink_profile(clip.t, onset, close, hold, reopen, depth)
        ears = ears * m
        # Event span from the profile itself (the open level is unchanged outside it).
        closed = np.flatnonzero(m < ENTER)
        span = np.flatnonzero(m < EXIT)
        if len(closed) == 0:  # the profile fell between two 30 fps frames: still a blink, not catchable
            closed = span if len(span) else np.flatnonzero(near)[:1]
        events.append(
            Event(
                float(clip.t[span[0]]) if len(span) else onset,
                float(clip.t[span[-1]]) if len(span) else onset + total,
                float(clip.t[closed[0]]),
                float(clip.t[closed[-1]]),
                float(onset + close + hold / 2),
                depth,
                True,
                "",
            )
        )
        busy.append((onset - 0.8, onset + total + 0.8))
        added += 1
    events.sort(key=lambda e: e.start)
    ratio = clip.ratio * (ears / np.where(np.isfinite(clip.ears), clip.ears, 1.0))
    return Clip(clip.name, clip.t, ears, events, ratio, clip.synthetic + added)


def clip_windows(
    clip: Clip,
    window: int,
    rng: np.random.Generator,
    streams: int,
    fps_choices: tuple[float, ...] = FPS_CHOICES,
) -> tuple[np.ndarray, np.ndarray]:
    """Windows of ``streams`` simulated attempts on ``clip`` (random rate, phase and start)."""
    xs, ys = [], []
    for _ in range(streams):
        fps = float(rng.choice(fps_choices))
        start = float(rng.uniform(clip.t[0], clip.t[0] + 0.4 * (clip.t[-1] - clip.t[0])))
        s = make_stream(clip, fps, rng, start)
        if s is None:
            continue
        x, y = stream_windows(s, window)
        xs.append(x)
        ys.append(y)
    if not xs:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int8)
    return np.concatenate(xs), np.concatenate(ys)
