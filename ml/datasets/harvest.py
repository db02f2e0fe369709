"""Harvest face images from videos and image folders into ``live/``/``spoof/`` trees.

Faces are found by the service's detector (``webapp.face.FaceEngine``) and cut by its crop policy
(``crop_face``), then filtered by detection confidence and capture quality (size, sharpness,
light from ``measure_quality``), so what lands in a dataset is what the login pipeline would
accept. The saved crop keeps context around the face (``scale`` x the box, default 1.6) so that
training and evaluation can run detection again and crop with each model's own spec.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ml.datasets.layout import IMAGE_SUFFIXES
from webapp.face import CropSpec, DetectorSettings, FaceEngine, crop_face, measure_quality, read_image_file

VIDEO_SUFFIXES = frozenset({".mp4", ".webm", ".avi", ".mov", ".mkv"})


@dataclass(frozen=True)
class HarvestConfig:
    every: int = 5  # keep every Nth video frame (neighbouring frames are near-duplicates)
    min_score: float = 0.3  # HOG detection score floor (the service default is 0: more misses here, fewer junk boxes)
    min_face_px: int = 60
    min_sharpness: float = 20.0  # variance of the Laplacian on a 128 px grey face (webapp.face.quality)
    brightness: tuple[float, float] = (40.0, 220.0)
    size: int = 256  # saved crop side
    scale: float = 1.6  # saved crop = scale x the face box: context so models can re-detect and re-crop
    jpeg_quality: int = 92
    max_per_source: int = 300


@dataclass
class HarvestStats:
    seen: int = 0
    saved: int = 0
    no_face: int = 0
    several_faces: int = 0
    low_quality: int = 0


def _engine(cfg: HarvestConfig) -> FaceEngine:
    # The service's detector with its default resizing, plus a stricter score floor.
    return FaceEngine(DetectorSettings(min_score=cfg.min_score, min_face_px=cfg.min_face_px))


def video_frames(path: Path, every: int) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB frame) for every ``every``-th frame of a video."""
    cap = cv2.VideoCapture(str(path))
    try:
        i = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            if i % every == 0:
                yield i, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            i += 1
    finally:
        cap.release()


def _accept(engine: FaceEngine, rgb: np.ndarray, cfg: HarvestConfig, stats: HarvestStats) -> np.ndarray | None:
    stats.seen += 1
    boxes = engine.detect(rgb)
    if not boxes:
        stats.no_face += 1
        return None
    if len(boxes) > 1:  # whose face is it? a label cannot say, so skip
        stats.several_faces += 1
        return None
    quality = measure_quality(rgb, boxes[0])
    if quality.problems(cfg.min_face_px, cfg.min_sharpness, cfg.brightness):
        stats.low_quality += 1
        return None
    return crop_face(rgb, boxes[0], CropSpec(cfg.size, cfg.scale))


def _save(rgb: np.ndarray, path: Path, quality: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])


def harvest(sources: list[Path], out_dir: Path, cfg: HarvestConfig | None = None) -> HarvestStats:
    """Faces from every video and image under ``sources`` into ``out_dir`` (e.g. ``data/myset/live``).

    Files are named ``<source stem>_<frame>.jpg``; re-running overwrites, never duplicates.
    """
    cfg = cfg or HarvestConfig()
    engine = _engine(cfg)
    stats = HarvestStats()
    files: list[Path] = []
    for src in sources:
        files.extend(sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src])
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    for video in (p for p in files if p.suffix.lower() in VIDEO_SUFFIXES):
        kept = 0
        for index, frame in video_frames(video, cfg.every):
            crop = _accept(engine, frame, cfg, stats)
            if crop is not None:
                _save(crop, out_dir / f"{video.stem}_{index:06d}.jpg", cfg.jpeg_quality)
                stats.saved += 1
                kept += 1
                if kept >= cfg.max_per_source:
                    break
    for image in images:
        crop = _accept(engine, read_image_file(str(image)), cfg, stats)
        if crop is not None:
            _save(crop, out_dir / f"{image.stem}.jpg", cfg.jpeg_quality)
            stats.saved += 1
    return stats
