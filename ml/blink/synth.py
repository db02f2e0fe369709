"""Photo attacks in simulation: a flat picture held still, hand-held, or tilted in front of a camera.

A printed photo or a phone screen is a plane. Moving it in 3D moves every point of its image by
one homography ``H = K (R - t n^T / d) K^-1`` (Hartley & Zisserman, "Multiple View Geometry",
2nd ed., result 13.1), so simulating the attack is warping a still with ``cv2.warpPerspective``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from ml.blink.frames import BROWSER_JPEG_QUALITY, decode_rgb
from ml.blink.tracks import Track, track_of
from webapp.challenge.geometry import rotation
from webapp.face import FaceEngine, encode_jpeg


def webcam_frame(rgb: np.ndarray, width: int = 480, height: int = 360, fill: int = 120) -> np.ndarray:
    """Fit a photo into a 4:3 frame on grey, as if it filled part of a webcam's view."""
    h, w = rgb.shape[:2]
    scale = min(width / w, height / h) * 0.9
    small = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    out = np.full((height, width, 3), fill, np.uint8)
    y, x = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
    out[y : y + small.shape[0], x : x + small.shape[1]] = small
    return out


def plane_homography(
    size: tuple[int, int],
    yaw: float = 0.0,
    pitch: float = 0.0,
    roll: float = 0.0,
    shift: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
) -> np.ndarray:
    """Homography of the image plane rotated by yaw/pitch/roll degrees about its centre,
    shifted by ``shift`` pixels and brought ``scale`` times closer, seen by a pinhole camera with
    focal length = image width (the service's own camera approximation in head_pose)."""
    h, w = size
    f = float(w)
    cx, cy = w / 2.0, h / 2.0
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    pts3 = np.column_stack([corners[:, 0] - cx, corners[:, 1] - cy, np.zeros(4)])
    rotated = pts3 @ rotation(yaw, pitch, roll).T
    depth = f / scale
    z = rotated[:, 2] + depth
    proj = np.column_stack([f * rotated[:, 0] / z + cx + shift[0], f * rotated[:, 1] / z + cy + shift[1]])
    return cv2.getPerspectiveTransform(corners.astype(np.float32), proj.astype(np.float32))


def camera_noise(rgb: np.ndarray, rng: np.random.Generator, sigma: float, gain: float) -> np.ndarray:
    noisy = rgb.astype(np.float32) * gain + rng.normal(0.0, sigma, rgb.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def jpeg_roundtrip(rgb: np.ndarray, quality: int = BROWSER_JPEG_QUALITY) -> np.ndarray:
    return decode_rgb(encode_jpeg(rgb, quality))


def motion_path(kind: str, n: int, fps: float, rng: np.random.Generator) -> list[dict[str, float]]:
    """Per-frame plane pose of a photo: ``still`` (on a stand), ``handheld`` (tremor and drift)
    or ``tilt`` (rocked about both axes by up to 35 degrees, the trick that fakes head turns and
    squashes eyes)."""
    out = []
    drift = np.zeros(5)
    phase = rng.uniform(0, 2 * np.pi, 2)
    for i in range(n):
        t = i / fps
        if kind == "still":
            pose = {"yaw": 0.0, "pitch": 0.0, "roll": 0.0, "dx": rng.normal(0, 0.15), "dy": rng.normal(0, 0.15), "scale": 1.0}
        elif kind == "handheld":
            drift = 0.9 * drift + rng.normal(0, [0.6, 0.6, 0.3, 1.2, 1.2])
            pose = {"yaw": drift[0], "pitch": drift[1], "roll": drift[2], "dx": drift[3], "dy": drift[4], "scale": 1.0 + 0.003 * drift[0]}
        elif kind == "tilt":
            pose = {
                "yaw": 30.0 * math.sin(2 * math.pi * 0.35 * t + phase[0]),
                "pitch": 35.0 * math.sin(2 * math.pi * 0.5 * t + phase[1]),
                "roll": rng.normal(0, 0.5),
                "dx": rng.normal(0, 1.0),
                "dy": rng.normal(0, 1.0),
                "scale": 1.0,
            }
        else:
            raise ValueError(kind)
        out.append(pose)
    return out


def photo_track(
    rgb: np.ndarray, name: str, kind: str, rng: np.random.Generator, engine: FaceEngine, n: int = 90, fps: float = 15.0
) -> Track:
    """A dense "clip" of a photo presented to the camera, landmarks by the service's engine."""
    base = webcam_frame(rgb)
    size = base.shape[:2]
    sigma = rng.uniform(1.5, 4.0)

    def frames() -> Iterator[tuple[float, np.ndarray]]:
        for i, pose in enumerate(motion_path(kind, n, fps, rng)):
            hmat = plane_homography(size, pose["yaw"], pose["pitch"], pose["roll"], (pose["dx"], pose["dy"]), pose["scale"])
            frame = cv2.warpPerspective(
                base, hmat, (size[1], size[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(90, 90, 90)
            )
            yield i / fps, jpeg_roundtrip(camera_noise(frame, rng, sigma, float(rng.normal(1.0, 0.01))))

    return track_of(name, frames(), engine)


def list_photos(root: Path, per_person: int) -> list[Path]:
    """Up to ``per_person`` images from each person folder under ``root`` (sorted, deterministic)."""
    out: list[Path] = []
    for person in sorted(p for p in root.rglob("*") if p.is_dir() and not any(c.is_dir() for c in p.iterdir())):
        files = sorted(f for f in person.iterdir() if f.suffix.lower() in (".jpg", ".jpeg", ".png"))
        out.extend(files[:per_person])
    return out
