"""Blink events from a dense (about 30 fps) eye-aspect-ratio track: the training labels.

How a label is made (documented in the model card):

1. EAR per frame = mean of both eyes (Soukupova & Cech 2016) on the browser-encoded frame.
2. The open-eye level ``b(t)`` is a rolling median of EAR over +-1 s of face frames: blinks take
   under 15 % of the time, so the median is the open eye, and it follows slow changes (head
   pitch, distance) that a clip-wide median would not.
3. ``r(t) = EAR / b(t)``. A candidate event is a maximal run of face frames with ``r < ENTER``
   (0.80), widened to where ``r`` is back above ``EXIT`` (0.90) on each side.
4. The candidate is a blink when it is deep (min ``r`` <= ``DEPTH`` = 0.65), both eyes close
   together (each eye's own ratio < 0.8 at the minimum: not a wink or a one-eye landmark slip),
   it is short (closed run <= ``MAX_CLOSED_S`` = 0.7 s: longer is eyes held shut or a look down,
   which are not what "blink" asks for), the face is present throughout, and the head does not
   pitch by more than ``MAX_PITCH_CHANGE`` degrees across it (looking down lowers EAR slowly).
5. Rejected deep candidates are kept as ``ambiguous``: windows touching them are left out of
   training and of false-positive counts.

These thresholds were chosen by looking at the dense tracks (runs/blink/ear_tracks.png) and at
eye crops of every candidate (``python -m ml.blink.labels --crops DIR``).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ml.blink.paths import BLINK_RUNS, LIVE_VIDEOS, REPLAY_VIDEOS
from ml.blink.tracks import Track, load

ENTER = 0.80
EXIT = 0.90
DEPTH = 0.65
EYE_MAX = 0.80
MAX_CLOSED_S = 0.7
MAX_PITCH_CHANGE = 10.0
BASELINE_HALF_WINDOW_S = 1.0


@dataclass(frozen=True)
class Event:
    """One dip of the dense EAR ratio; ``blink`` says whether it counts as a blink."""

    start: float  # s, first frame below EXIT before the closed run
    end: float  # s, last frame below EXIT after it
    closed_start: float  # s, first frame below ENTER
    closed_end: float  # s, last frame below ENTER
    t_min: float
    min_ratio: float
    blink: bool
    why: str  # "" for blinks; the failed condition otherwise

    @property
    def closed_s(self) -> float:
        return self.closed_end - self.closed_start


def open_level(t: np.ndarray, ears: np.ndarray, half: float = BASELINE_HALF_WINDOW_S) -> np.ndarray:
    """Rolling median of EAR over +-``half`` s of face frames (NaN where no face nearby)."""
    out = np.full(len(t), np.nan)
    ok = np.isfinite(ears)
    for i in range(len(t)):
        sel = ok & (np.abs(t - t[i]) <= half)
        if sel.sum() >= 5:
            out[i] = float(np.median(ears[sel]))
    return out


def ear_ratio(track: Track) -> tuple[np.ndarray, np.ndarray]:
    """(dense EAR, EAR / rolling open level): what events are found on and clips carry."""
    ears = track.ears()
    return ears, ears / open_level(track.t, ears)


def find_events(track: Track, ratio: np.ndarray | None = None) -> list[Event]:
    """Every dip of the EAR ratio below ENTER, judged blink or not (see the module doc).
    ``ratio``: the track's :func:`ear_ratio` when the caller already has it."""
    t = track.t
    ratio = ratio if ratio is not None else ear_ratio(track)[1]
    eyes = track.eye_ears()
    eye_ratio = eyes / np.stack([open_level(t, eyes[:, 0]), open_level(t, eyes[:, 1])], axis=1)
    pitch = track.head_angles()[1]
    below = np.isfinite(ratio) & (ratio < ENTER)
    events: list[Event] = []
    i, n = 0, len(t)
    while i < n:
        if not below[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and below[j + 1]:
            j += 1
        # widen to where the ratio is back above EXIT (or the face is lost)
        a, b = i, j
        while a > 0 and np.isfinite(ratio[a - 1]) and ratio[a - 1] < EXIT:
            a -= 1
        while b + 1 < n and np.isfinite(ratio[b + 1]) and ratio[b + 1] < EXIT:
            b += 1
        seg = slice(a, b + 1)
        k = a + int(np.nanargmin(ratio[seg]))
        why = ""
        face_gap = (a == 0 or not np.isfinite(ratio[a - 1])) or (b == n - 1 or not np.isfinite(ratio[b + 1]))
        if ratio[k] > DEPTH:
            why = "shallow"
        elif not (np.nanmax(eye_ratio[k]) < EYE_MAX):
            why = "one eye"
        elif t[j] - t[i] > MAX_CLOSED_S:
            why = "too long"
        elif face_gap:
            why = "face lost"
        elif np.nanmax(pitch[seg]) - np.nanmin(pitch[seg]) > MAX_PITCH_CHANGE:
            why = "pitch change"
        # merge with the previous event when the widened spans overlap
        if events and t[a] <= events[-1].end:
            prev = events.pop()
            keep_new = ratio[k] < prev.min_ratio
            events.append(
                Event(
                    prev.start,
                    float(t[b]),
                    prev.closed_start,
                    float(t[j]),
                    float(t[k]) if keep_new else prev.t_min,
                    float(min(ratio[k], prev.min_ratio)),
                    prev.blink or not why,
                    "" if (prev.blink or not why) else prev.why,
                )
            )
        else:
            events.append(Event(float(t[a]), float(t[b]), float(t[i]), float(t[j]), float(t[k]), float(ratio[k]), not why, why))
        i = b + 1
    # a shallow dip is ordinary jitter, not ambiguous: keep only deep non-blinks as ambiguous
    return [e for e in events if e.blink or e.why != "shallow"]


def blinks(events: list[Event]) -> list[Event]:
    return [e for e in events if e.blink]


def save_crops(track: Track, events: list[Event], video: Path, out: Path) -> None:
    """Eye-region strips (open before, closed at the minimum) for checking labels by eye.

    Written under runs/ (git-ignored): they are derived from the shared videos.
    """
    import cv2

    from ml.blink.frames import browser_jpeg, decode_rgb, video_frames

    wanted: dict[int, str] = {}
    for n, e in enumerate(events):
        k = int(np.argmin(np.abs(track.t - e.t_min)))
        before = int(np.argmin(np.abs(track.t - (e.start - 0.3))))
        wanted[k] = f"{n:02d}_min_{'blink' if e.blink else e.why.replace(' ', '-')}"
        wanted.setdefault(before, f"{n:02d}_before")
    out.mkdir(parents=True, exist_ok=True)
    for idx, (_t, bgr) in enumerate(video_frames(video)):
        if idx in wanted and track.has_face[idx]:
            rgb = decode_rgb(browser_jpeg(bgr))
            lm = track.landmarks[idx]
            x0, x1 = int(lm[36:48, 0].min()) - 15, int(lm[36:48, 0].max()) + 15
            y0, y1 = int(lm[36:48, 1].min()) - 15, int(lm[36:48, 1].max()) + 15
            crop = rgb[max(0, y0) : y1, max(0, x0) : x1]
            crop = cv2.resize(crop, (240, max(1, round(240 * crop.shape[0] / max(1, crop.shape[1])))))
            cv2.imwrite(str(out / f"{wanted[idx]}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*")
    ap.add_argument("--crops", type=Path, default=None, help="write eye crops of every event under this folder")
    ap.add_argument("--json", type=Path, default=BLINK_RUNS / "events.json")
    args = ap.parse_args(argv)
    import json

    from ml.blink.paths import SHARED_VIDEOS

    report = {}
    for name in args.names or [*LIVE_VIDEOS, *REPLAY_VIDEOS]:
        track = load(name)
        events = find_events(track)
        report[name] = [asdict(e) for e in events]
        print(f"{name}: {len(blinks(events))} blinks, {len(events) - len(blinks(events))} ambiguous")
        for e in events:
            print(
                f"   {e.t_min:6.2f}s min {e.min_ratio:.2f} closed {e.closed_s * 1000:4.0f} ms "
                f"span {(e.end - e.start) * 1000:4.0f} ms {'BLINK' if e.blink else e.why}"
            )
        if args.crops:
            save_crops(track, events, SHARED_VIDEOS / name, args.crops / name.replace("/", "__"))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
