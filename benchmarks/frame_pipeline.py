"""Per-frame server time of the login pipeline, stage by stage and end to end.

    python -m benchmarks.frame_pipeline [--frames 40] [--json runs/bench-frame.json]

Frames are 480x360 JPEGs of face_recognition's test photos (what the login page sends). The
end-to-end figure goes through the HTTP API in-process (Flask test client, SQLite file), so it
includes decoding, analysis, the policy and the database write, but not the network.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tests.support.frames import jittered_jpeg, noisy_jpeg, portrait
from webapp.challenge.blink import BlinkDetector
from webapp.challenge.geometry import eye_aspect_ratio, head_pose
from webapp.challenge.motion import update_motion
from webapp.config import DEFAULTS
from webapp.face import FaceEngine, ImageLimits, decode_image
from webapp.liveness import load_ensemble
from webapp.replay.hashes import frame_hash


def _time(fn: Callable[[], Any], n: int) -> dict[str, float]:
    fn()  # warm-up
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return {"median_ms": round(statistics.median(samples), 2), "p90_ms": round(float(np.percentile(samples, 90)), 2)}


def stages(n: int) -> dict[str, dict[str, float]]:
    frame = portrait("obama2.jpg")
    data = noisy_jpeg(frame, 0)
    limits = ImageLimits(2 << 20, 1920 * 1080, 1920)
    engine = FaceEngine()
    engine.load()
    ensemble = load_ensemble(Path(DEFAULTS["LIVENESS_MODEL_DIR"]))
    ensemble.load()
    rgb = decode_image(data, limits)
    box = engine.detect(rgb)[0]
    obs = engine.observe(rgb, box)
    # The user's enrolled liveness embeddings, as a login has them: without them the
    # identity-aware members abstain and the timing would leave them out.
    refs = {name: emb[None] for name, emb in ensemble.embed_references(rgb, box).items()}
    motion0 = update_motion(None, obs.landmarks, 0.0)
    blink = BlinkDetector.load(Path(DEFAULTS["BLINK_MODEL_DIR"]))
    return {
        "decode_jpeg": _time(lambda: decode_image(data, limits), n),
        "detect_hog": _time(lambda: engine.detect(rgb), n),
        "landmarks_68": _time(lambda: engine.observe(rgb, box, encode=False), n),
        "landmarks_and_encoding": _time(lambda: engine.observe(rgb, box, encode=True), n),
        "liveness_ensemble": _time(lambda: ensemble.score_face(rgb, box, refs), n),
        "geometry_ear_pose": _time(lambda: (eye_aspect_ratio(obs.landmarks), head_pose(obs.landmarks, rgb.shape[:2])), n),
        "frame_hashes": _time(lambda: frame_hash(rgb), n),
        "motion_summary": _time(lambda: update_motion(motion0, obs.landmarks, 20.0), n),
        "blink_detector": _time(lambda: blink.probability([0.3, 0.29, 0.31, 0.12, 0.3] * 2, [0.12] * 9, 0.3), n),
    }


def end_to_end(n: int) -> dict[str, float]:
    from tests.conftest import make_app
    from tests.support.api import enroll, post_frame, start

    tmp = Path(tempfile.mkdtemp())
    app = make_app(
        tmp,
        DEFAULTS["LIVENESS_MODEL_DIR"],
        CHALLENGE_STEP_MAX_FRAMES=10_000,
        BLINK_STEP_MAX_FRAMES=10_000,
        ATTEMPT_MAX_FRAMES=10_000,
        ATTEMPT_TTL_SECONDS=3600,
    )
    from tests.support.faces import face_photo

    enroll(app, "alice", "Alice", [face_photo("obama.jpg").read_bytes()])
    client = app.test_client()
    attempt_id = start(client).get_json()["attempt_id"]
    frame = portrait("obama2.jpg")
    frames = [jittered_jpeg(frame, i) for i in range(n + 1)]
    post_frame(client, attempt_id, frames[0])
    samples = []
    for data in frames[1:]:
        t = time.perf_counter()
        r = post_frame(client, attempt_id, data)
        samples.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.get_json()
    return {"median_ms": round(statistics.median(samples), 2), "p90_ms": round(float(np.percentile(samples, 90)), 2), "frames": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result: dict[str, Any] = {"stages": stages(args.frames), "http_frame_end_to_end": end_to_end(args.frames)}
    for name, t in result["stages"].items():
        print(f"{name:26s} median {t['median_ms']:7.2f} ms   p90 {t['p90_ms']:7.2f} ms")
    e2e = result["http_frame_end_to_end"]
    print(f"{'POST frame (end to end)':26s} median {e2e['median_ms']:7.2f} ms   p90 {e2e['p90_ms']:7.2f} ms")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
