"""Where the frontal detector loses a live face, and whether the context detector bridges it.

    python -m ml.studies.detector_gaps --json runs/detector_gaps.json

Every live clip of ../shared/datasets/videos, sampled as the page sends it (8 fps, <= 640 px,
JPEG q85: ``ml.studies.attempts.attempt_frames``), goes through the service's two detectors:
dlib HOG (``FaceEngine.detect``) and RetinaFace (``webapp/face/retinaface.py``). Reported per
clip: frames, frames with one HOG face, HOG misses, misses where RetinaFace is confident of
exactly one face (its card floor), and the HOG gaps *between two HOG faces* that the service's
bridge (``webapp/challenge/bridge.py``: one box per missed frame, each following the last,
the first containing the last face, the returning face inside the last box) would join. Box
centres stand in for landmark centres. Nothing derived from the shared data is written
outside runs/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ml.blink.frames import decode_rgb
from ml.blink.paths import SHARED_IDENTITY, SHARED_VIDEOS
from ml.paths import RUNS_DIR
from ml.studies.attempts import attempt_frames, discover
from webapp.challenge.bridge import BridgeSettings, box_follows

Box4 = tuple[float, float, float, float]


@dataclass
class ClipGaps:
    video: str
    frames: int = 0
    hog_one: int = 0
    hog_missed: int = 0
    missed_tracked: int = 0  # HOG missed, RetinaFace confident of exactly one face
    gaps_bridged: int = 0
    gaps_not_bridged: int = 0
    why_not: dict[str, int] = field(default_factory=dict)


def _inside(x: float, y: float, box: Box4) -> bool:
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def _centre(box: Box4) -> tuple[float, float]:
    return (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0


def bridge_gaps(
    frames: list[tuple[float, list[Box4], Box4 | None]], settings: BridgeSettings | None = None
) -> tuple[int, int, Counter[str]]:
    """(bridged, not bridged, why) over the HOG gaps between two HOG faces of one clip.

    ``frames``: (server-like time, HOG boxes, the context detector's one confident box or None).
    """
    settings = settings or BridgeSettings()
    bridged = lost_gaps = 0
    why: Counter[str] = Counter()
    last: Box4 | None = None
    bridge: tuple[Box4, float] | None = None
    lost = in_gap = False
    for t, hog, tracked in frames:
        if len(hog) == 1:
            if in_gap:
                if bridge is not None and not lost and _inside(*_centre(hog[0]), bridge[0]):
                    bridged += 1
                else:
                    lost_gaps += 1
                    if not lost:
                        why["returning face outside the last box"] += 1
            last, bridge, lost, in_gap = hog[0], None, False, False
            continue
        if last is None or len(hog) > 1:
            lost = lost or last is not None
            continue
        in_gap = True
        if lost:
            continue
        if tracked is None:
            lost = True
            why["no single confident box"] += 1
        elif bridge is None and not _inside(*_centre(last), tracked):
            lost = True
            why["first box off the last face"] += 1
        elif bridge is not None and not box_follows(bridge[0], tracked, t - bridge[1], settings):
            lost = True
            why["box jumped"] += 1
        else:
            bridge = (tracked, t)
    return bridged, lost_gaps, why


def measure_clip(engine: Any, detector: Any, videos: Path, video: str) -> ClipGaps:
    out = ClipGaps(video)
    seen: list[tuple[float, list[Box4], Box4 | None]] = []
    floor = detector.card.min_confidence
    for t, data in attempt_frames(videos / video):
        rgb = decode_rgb(data)
        hog = [(float(b.left), float(b.top), float(b.right), float(b.bottom)) for b in engine.detect(rgb)]
        confident = [b for b in detector.detect(rgb, floor)]
        tracked = (confident[0].x1, confident[0].y1, confident[0].x2, confident[0].y2) if len(confident) == 1 else None
        out.frames += 1
        out.hog_one += len(hog) == 1
        if not hog:
            out.hog_missed += 1
            out.missed_tracked += tracked is not None
        seen.append((t, hog, tracked))
    out.gaps_bridged, out.gaps_not_bridged, why = bridge_gaps(seen)
    out.why_not = dict(why)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path, default=RUNS_DIR / "detector_gaps.json")
    ap.add_argument("--videos", type=Path, default=SHARED_VIDEOS)
    ap.add_argument("--identity", type=Path, default=SHARED_IDENTITY)
    args = ap.parse_args(argv)
    from webapp.face.engine import FaceEngine
    from webapp.face.retinaface import RetinaFace

    engine, detector = FaceEngine(), RetinaFace.load()
    rows = []
    for src in discover(args.videos, args.identity):
        if src.kind != "live":
            continue
        row = measure_clip(engine, detector, args.videos, src.video)
        rows.append(row)
        print(
            f"{row.video:32s} frames {row.frames:3d}  HOG one face {row.hog_one:3d}  HOG missed {row.hog_missed:3d}"
            f"  of which RetinaFace one face {row.missed_tracked:3d}"
            f"  gaps bridged {row.gaps_bridged}/{row.gaps_bridged + row.gaps_not_bridged}"
            f"  {row.why_not or ''}",
            file=sys.stderr,
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
