"""The attempt-level study's helpers (ml/studies/attempts.py) on a tiny synthetic video: sampling,
browser encoding, windowing, source discovery and the attempt-level rates. No face models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from ml.blink.frames import video_frames
from ml.studies import attempts as study


def _write_video(path: Path, frames: int = 60, fps: float = 24.0, size: tuple[int, int] = (800, 600)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        img = np.full((size[1], size[0], 3), 40, np.uint8)
        cv2.circle(img, (100 + 8 * i, size[1] // 2), 60, (200, 180, 160), -1)
        writer.write(img)
    writer.release()
    return path


def test_sampling_encoding_and_windows(tmp_path: Path) -> None:
    video = _write_video(tmp_path / "clip.avi")  # 60 frames at 24 fps = 2.5 s
    frames = study.attempt_frames(video, fps=8.0, max_width=640)
    assert 19 <= len(frames) <= 21  # about 8 fps
    gaps = np.diff([t for t, _ in frames])
    assert np.all(gaps > 0.1) and np.all(gaps < 0.15)
    for _t, data in frames:
        rgb = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert rgb is not None
        assert rgb.shape[:2] == (480, 640)  # 800x600 scaled to 640 wide, aspect kept
    wins = study.windows(frames, 5)
    assert len(wins) == len(frames) // 5 and all(len(w) == 5 for w in wins)
    assert wins[1][0] == frames[5]  # non-overlapping, in order
    assert len(study.windows(frames, 5, limit=2)) == 2
    assert study.windows(frames, 25) == []  # a remainder shorter than a window is dropped


def test_no_upscaling_and_gaps(tmp_path: Path) -> None:
    small = np.zeros((100, 120, 3), np.uint8)
    rgb = cv2.imdecode(np.frombuffer(study.browser_jpeg(small), np.uint8), cv2.IMREAD_COLOR)
    assert rgb is not None
    assert rgb.shape[:2] == (100, 120)
    # A gap in the container: sampling resumes at the first tick after it, with no burst.
    times = [0.0, 0.04, 0.08, 0.12, 0.16, 1.0, 1.04, 1.08, 1.12, 1.16]
    picked = [t for t, _ in study.sample(((t, small) for t in times), fps=8.0)]
    assert picked == [0.0, 0.16, 1.0, 1.16]
    assert len(list(video_frames(_write_video(tmp_path / "v.avi", frames=10)))) == 10


def test_discover_classifies_and_picks_enrollment(tmp_path: Path) -> None:
    videos, identity = tmp_path / "videos", tmp_path / "identity"
    for rel in ("a/real.mp4", "a/fake.mp4", "b/fake.mp4", "sivakumar/Ann.mp4"):
        (videos / rel).parent.mkdir(parents=True, exist_ok=True)
        (videos / rel).write_bytes(b"")
    (identity / "sivakumar" / "Ann").mkdir(parents=True)
    got = {s.video: s for s in study.discover(videos, identity)}
    assert got["a/real.mp4"].kind == "live" and got["a/real.mp4"].enroll == "video:a/real.mp4"
    assert got["a/fake.mp4"].kind == "replay" and got["a/fake.mp4"].enroll == "video:a/real.mp4"
    assert got["b/fake.mp4"].enroll == "video:b/fake.mp4" and "replay itself" in got["b/fake.mp4"].note
    assert got["sivakumar/Ann.mp4"].enroll == "identity:sivakumar/Ann"
    (videos / "c").mkdir()
    (videos / "c" / "clip.mp4").write_bytes(b"")
    with pytest.raises(ValueError, match="VIEWED_KINDS"):
        study.discover(videos, identity)


def _row(kind: str, outcome: str, live: float | None) -> dict[str, Any]:
    return {"kind": kind, "outcome": outcome, "live_mean_frames": live, "live_mean_policy": live, "cpu_s": [0.1, 0.3], "frames_sent": 2}


def test_attempt_level_rates_and_sweep() -> None:
    rows = [
        _row("live", "granted", 0.9),
        _row("live", "spoof (passive)", 0.45),
        _row("live", "undecided", None),
        _row("live", "granted", 0.6),
        _row("replay", "spoof (passive)", 0.2),
        _row("replay", "granted", 0.55),
    ]
    s = study.summarise(rows)
    assert s["bpcer"] == 0.5 and s["live_reasons"] == {"spoof (passive)": 1, "undecided": 1}
    assert s["apcer"] == 0.5 and s["replay_granted"] == 1
    assert s["live_min_attempt_score"] == 0.45 and s["replay_max_attempt_score"] == 0.55
    assert s["cpu_per_frame_s"]["median"] == pytest.approx(0.2)
    sweep = study.threshold_sweep(rows, (0.4, 0.7))
    assert sweep["0.40"] == {"bpcer": 0.25, "apcer": 0.5}  # the undecided one stays not granted
    assert sweep["0.70"] == {"bpcer": 0.75, "apcer": 0.0}
    assert study.reason_of("denied", "spoof", "the face moved like a flat picture (3 of 4 turned frames planar)") == "spoof (planar motion)"
    assert study.reason_of("collecting", None, None) == "undecided"
