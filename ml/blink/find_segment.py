"""Find a clip segment with a steady face and then one clear blink (for a browser fake camera).

    python -m ml.blink.find_segment VIDEO [VIDEO ...] [--steady 2.5] [--after 1.0] [--top 3] [--json OUT]

For each labelled blink (``ml.blink.labels`` on the dense track), the shipped detector is run on
client-like windows over the dense frames: for every camera frame, the window of the preceding
frames at 4, 5 and 6 fps (every phase offset). The blink is *clear* when the detector fires on it
for most phases, i.e. a browser sampling the fake camera at any moment would very likely catch
it. Before the blink the face must be steady for ``--steady`` seconds: found in every frame, no
other dip of the eyes, small head yaw and little motion (so the baseline frames look like a
person waiting). The segment runs from the steady start to ``--after`` seconds after the blink.

Prints one line per candidate, best first (start, end, blink time, closed duration, detection
rate per rate, yaw range); ``--json`` writes them too.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ml.blink.labels import find_events
from ml.blink.paths import SHARED_VIDEOS
from ml.blink.tracks import Track, cached, ensure, extract
from webapp.challenge.blink import BlinkDetector, gaps, window_features
from webapp.challenge.geometry import inter_ocular_distance
from webapp.face import FaceEngine


@dataclass
class Segment:
    video: str
    start: float
    end: float
    blink_at: float
    closed_ms: float
    min_ratio: float
    detection: dict[str, float]  # fps -> share of phases in which the detector fired on the blink
    yaw_range: tuple[float, float]
    max_step_iod: float  # largest frame-to-frame landmark-centre motion in the steady part

    @property
    def score(self) -> float:
        return float(np.mean(list(self.detection.values()))) - 0.5 * self.max_step_iod


def load_track(video: Path) -> Track:
    """The cached dense track for a shared clip, else extract (and cache) it."""
    try:
        name = str(video.resolve().relative_to(SHARED_VIDEOS.resolve()))
        return ensure([name])[0]
    except ValueError:
        name = "other/" + video.name
        return cached(name, lambda: extract(video, name, FaceEngine()))


def detection_rate(track: Track, ears: np.ndarray, t_lo: float, t_hi: float, fps: float, detector: BlinkDetector, baseline: float) -> float:
    """Share of phase offsets at ``fps`` for which some window ending in [t_lo, t_hi] fires."""
    dense_fps = len(track.t) / max(1e-6, track.duration)
    step = max(1, round(dense_fps / fps))
    hits = 0
    for phase in range(step):
        fired = False
        ends = [j for j in range(phase, len(track.t), step) if t_lo <= track.t[j] <= t_hi]
        for j in ends:
            idx = [k for k in range(j, -1, -step) if np.isfinite(ears[k])][: detector.window][::-1]
            if len(idx) < 3:
                continue
            e = ears[idx]
            row = window_features(e, gaps(track.t[idx].tolist()), baseline, detector.window)
            if detector.probabilities(row[None, :])[0] >= detector.threshold:
                fired = True
                break
        hits += int(fired)
    return hits / step


def find(video: Path, steady: float = 2.5, after: float = 1.0, detector: BlinkDetector | None = None) -> list[Segment]:
    detector = detector or BlinkDetector.load()
    track = load_track(video)
    ears = track.ears()
    events = find_events(track)
    yaw = track.head_angles()[0]
    out = []
    for e in events:
        if not e.blink:
            continue
        start = e.start - 0.15 - steady
        pre = (track.t >= start) & (track.t < e.start - 0.1)
        if start < track.t[0] or pre.sum() < 5 or not np.all(track.faces[pre] == 1):
            continue
        if any(o is not e and o.end >= start and o.start <= e.start for o in events):
            continue  # another dip inside the steady part
        idx = np.flatnonzero(pre)
        centres = np.array([track.landmarks[i].mean(axis=0) for i in idx])
        iods = np.array([inter_ocular_distance(track.landmarks[i]) for i in idx])
        max_step = float(np.max(np.linalg.norm(np.diff(centres, axis=0), axis=1) / iods[1:])) if len(idx) > 1 else 0.0
        yaws = yaw[pre]
        baseline = float(np.median(ears[idx[:10]]))
        rates = {
            f"{fps:g}": round(detection_rate(track, ears, e.start, e.end + after, fps, detector, baseline), 3) for fps in (4.0, 5.0, 6.0)
        }
        out.append(
            Segment(
                video=str(video),
                start=round(float(start), 2),
                end=round(min(float(track.t[-1]), e.end + after), 2),
                blink_at=round(e.t_min, 2),
                closed_ms=round(e.closed_s * 1000),
                min_ratio=round(e.min_ratio, 3),
                detection=rates,
                yaw_range=(round(float(np.nanmin(yaws)), 1), round(float(np.nanmax(yaws)), 1)),
                max_step_iod=round(max_step, 3),
            )
        )
    return sorted(out, key=lambda s: s.score, reverse=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="+", type=Path)
    ap.add_argument("--steady", type=float, default=2.5, help="seconds of steady face before the blink")
    ap.add_argument("--after", type=float, default=1.0, help="seconds kept after the blink")
    ap.add_argument("--top", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    found: list[Segment] = []
    for video in args.videos:
        found += find(video, args.steady, args.after)
    found.sort(key=lambda s: s.score, reverse=True)
    if not found:
        print("no segment: no clear blink after a steady face (try a shorter --steady)")
    for s in found[: args.top]:
        print(
            f"{s.video}: {s.start:.2f}-{s.end:.2f} s  blink at {s.blink_at:.2f} s (closed {s.closed_ms:.0f} ms, EAR ratio {s.min_ratio})  "
            f"detected at 4/5/6 fps in {s.detection['4']:.0%}/{s.detection['5']:.0%}/{s.detection['6']:.0%} of phases  "
            f"yaw {s.yaw_range[0]:+.0f}..{s.yaw_range[1]:+.0f} deg  max step {s.max_step_iod:.2f} IOD"
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in found], indent=1))


if __name__ == "__main__":
    main()
