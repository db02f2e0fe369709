"""Harvesting faces from a video and an image folder with the service's detector and quality bars."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ml.collect import main as collect_main
from ml.datasets.harvest import HarvestConfig, harvest
from tests.support.frames import photo_rgb, webcam_frame

pytestmark = pytest.mark.slow  # the service's dlib face detector


def _video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def test_every_nth_frame_with_one_sharp_face_becomes_a_crop(tmp_path: Path) -> None:
    face = webcam_frame(photo_rgb("obama.jpg"))
    blank = np.full_like(face, 120)
    blurred = cv2.GaussianBlur(face, (0, 0), 8)
    # 12 frames, every 2nd kept: faces at 0, 2, 4; blank at 6, 8; a blurred face at 10.
    frames = [face] * 6 + [blank] * 4 + [blurred] * 2
    video = _video(tmp_path / "clip.avi", frames)
    stats = harvest([video], tmp_path / "out" / "live", HarvestConfig(every=2, min_score=0.0, min_sharpness=20.0))
    saved = sorted(p.name for p in (tmp_path / "out" / "live").iterdir())
    assert saved == ["clip_000000.jpg", "clip_000002.jpg", "clip_000004.jpg"]
    assert (stats.seen, stats.saved, stats.no_face, stats.low_quality) == (6, 3, 2, 1)
    crop = cv2.imread(str(tmp_path / "out" / "live" / saved[0]))
    assert crop.shape == (256, 256, 3)


def test_cli_harvests_an_image_folder_and_reports_it(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "photos"
    src.mkdir()
    for name in ("obama.jpg", "obama2.jpg"):
        cv2.imwrite(str(src / name), cv2.cvtColor(webcam_frame(photo_rgb(name)), cv2.COLOR_RGB2BGR))
    collect_main(["faces", "--src", str(src), "--out", str(tmp_path / "data" / "myset" / "live")])
    assert "saved 2 of 2" in capsys.readouterr().out
    collect_main(["report", "--data", str(tmp_path / "data"), "--detect"])
    out = capsys.readouterr().out
    assert "myset" in out and "total: 2 live, 0 spoof" in out
