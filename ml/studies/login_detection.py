"""Login-frame detection (webapp/login/tracking.py) against the enrollment search it replaced.

    python -m ml.studies.login_detection [--width 480] [--pad-every 10] [--json runs/login_detection.json]

Three checks, all on ../shared (nothing derived from it is written outside runs/):

* **clips**: every video of ../shared/datasets/videos (live and replay), sampled as the page
  sends it (8 fps, ``--width`` px, JPEG q85), played through the login search frame by frame,
  carrying the box and the region count exactly as the attempt state does
  (``track_of``/``remember``), with the context detector's boxes of the frame. Reported per
  clip: frames with exactly one face, none, several, for the old search (``FaceEngine.detect``
  on every frame) and the new one, the searches used, and the HOG CPU per frame of each.
* **pad**: every ``--pad-every``-th image of ../shared/datasets/pad, each as the first frame of
  an attempt (no track: the wide search, so the counts must be equal), the same counts.
* **identity**: every image of ../shared/datasets/identity with one old face: the 128-d encoding
  from the old box and from the box the quick pass and a region search around the old box give;
  the distance between them (max, median) is how much the coarser boxes would move a
  descriptor, which is why a frame to be encoded gets the wide search (the mismatch distance is
  0.6, the match tolerance about 0.5).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ml.blink.frames import decode_rgb
from ml.blink.paths import SHARED_IDENTITY, SHARED_VIDEOS
from ml.paths import RUNS_DIR
from ml.studies.attempts import attempt_frames, discover
from webapp.face.engine import FaceEngine
from webapp.face.image import read_image_file
from webapp.face.retinaface import RetinaFace
from webapp.face.types import Box
from webapp.login.state import AttemptState
from webapp.login.tracking import confident_faces, detect_login_faces, remember, track_of

SHARED_PAD = SHARED_VIDEOS.parent / "pad"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def _counts(results: list[list[Box]]) -> dict[str, int]:
    return {
        "one": sum(len(b) == 1 for b in results),
        "none": sum(not b for b in results),
        "several": sum(len(b) > 1 for b in results),
    }


def _timed(fn: Any) -> tuple[Any, float]:
    c0 = time.process_time()
    out = fn()
    return out, time.process_time() - c0


def compare_frames(engine: FaceEngine, detector: RetinaFace, frames: list[np.ndarray], track: bool) -> dict[str, Any]:
    """Old vs new search over ``frames`` (consecutive frames of one attempt when ``track``)."""
    old: list[list[Box]] = []
    new: list[list[Box]] = []
    searches: Counter[str] = Counter()
    cpu_old = cpu_new = 0.0
    state = AttemptState()
    floor = detector.card.min_confidence
    for rgb in frames:
        boxes, spent = _timed(lambda rgb=rgb: engine.detect(rgb))
        old.append(boxes)
        cpu_old += spent
        context = detector.detect(rgb, detector.card.matched_confidence)  # runs per frame anyway: not counted
        track_of_frame = track_of(state, engine) if track else None
        sure = confident_faces(context, floor)
        found, spent = _timed(lambda rgb=rgb, t=track_of_frame, sure=sure: detect_login_faces(engine, rgb, t, sure))
        cpu_new += spent
        new.append(found.boxes)
        searches[found.search] += 1
        remember(state, found)
    n = max(1, len(frames))
    return {
        "frames": len(frames),
        "old": _counts(old),
        "new": _counts(new),
        "searches": dict(searches),
        "hog_cpu_ms_per_frame": {"old": round(cpu_old * 1000 / n, 2), "new": round(cpu_new * 1000 / n, 2)},
    }


def clips(engine: FaceEngine, detector: RetinaFace, width: int) -> list[dict[str, Any]]:
    rows = []
    for src in discover(SHARED_VIDEOS, SHARED_IDENTITY):
        frames = [decode_rgb(data) for _t, data in attempt_frames(SHARED_VIDEOS / src.video, max_width=width)]
        row = {"video": src.video, "kind": src.kind, **compare_frames(engine, detector, frames, track=True)}
        print(json.dumps(row), file=sys.stderr, flush=True)
        rows.append(row)
    return rows


def pad_images(engine: FaceEngine, detector: RetinaFace, every: int) -> dict[str, Any]:
    paths = sorted(p for p in SHARED_PAD.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[::every]
    frames = [read_image_file(str(p)) for p in paths]
    return {"images": len(frames), "every": every, **compare_frames(engine, detector, frames, track=False)}


def identity_shift(engine: FaceEngine, detector: RetinaFace) -> dict[str, Any]:
    """Encoding distance between the old box's descriptor and the new searches' (same image)."""
    shifts: dict[str, list[float]] = {"quick": [], "region": []}
    for path in sorted(p for p in SHARED_IDENTITY.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        rgb = read_image_file(str(path))
        old = engine.detect(rgb)
        if len(old) != 1:
            continue
        ref = engine.observe(rgb, old[0]).encoding
        quick = engine.detect_quick(rgb)
        region = engine.detect_region(rgb, old[0])
        for name, boxes in (("quick", quick), ("region", region)):
            if len(boxes) == 1 and ref is not None:
                enc = engine.observe(rgb, boxes[0]).encoding
                assert enc is not None
                shifts[name].append(float(np.linalg.norm(enc - ref)))
    return {
        name: {
            "n": len(v),
            "median": round(statistics.median(v), 4) if v else None,
            "p99": round(float(np.percentile(v, 99)), 4) if v else None,
            "max": round(max(v), 4) if v else None,
        }
        for name, v in shifts.items()
    }


def totals(rows: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    picked = [r for r in rows if r["kind"] == kind]
    out: dict[str, Any] = {"clips": len(picked), "frames": sum(r["frames"] for r in picked)}
    for side in ("old", "new"):
        out[side] = {k: sum(r[side][k] for r in picked) for k in ("one", "none", "several")}
    n = max(1, out["frames"])
    out["hog_cpu_ms_per_frame"] = {
        side: round(sum(r["hog_cpu_ms_per_frame"][side] * r["frames"] for r in picked) / n, 2) for side in ("old", "new")
    }
    out["clips_with_fewer_one_face_frames"] = [r["video"] for r in picked if r["new"]["one"] < r["old"]["one"]]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, default=480, help="frame width (the login page sends 480)")
    ap.add_argument("--pad-every", type=int, default=10, help="take every n-th PAD image (0: skip the PAD set)")
    ap.add_argument("--skip-identity", action="store_true")
    ap.add_argument("--json", type=Path, default=RUNS_DIR / "login_detection.json")
    args = ap.parse_args(argv)
    engine, detector = FaceEngine(), RetinaFace.load()
    engine.load()
    rows = clips(engine, detector, args.width)
    result: dict[str, Any] = {"width": args.width, "live": totals(rows, "live"), "replay": totals(rows, "replay"), "clips": rows}
    print(json.dumps({k: result[k] for k in ("live", "replay")}, indent=1), file=sys.stderr, flush=True)
    if args.pad_every > 0:
        result["pad"] = pad_images(engine, detector, args.pad_every)
        print(json.dumps(result["pad"], indent=1), file=sys.stderr, flush=True)
    if not args.skip_identity:
        result["identity_encoding_shift"] = identity_shift(engine, detector)
        print(json.dumps(result["identity_encoding_shift"], indent=1), file=sys.stderr, flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
