"""Frames built from the test photos: webcam-sized, noisy (never byte-identical), composed."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache

import cv2
import numpy as np

from tests.support.faces import face_photo
from webapp.challenge.geometry import rotation
from webapp.face.image import encode_jpeg, read_image_file


@cache
def photo_rgb(name: str) -> np.ndarray:
    return read_image_file(str(face_photo(name)))


def webcam_frame(rgb: np.ndarray, width: int = 480, height: int = 360) -> np.ndarray:
    """Fit a photo into a width x height frame (letterboxed on grey), like a 4:3 webcam image."""
    h, w = rgb.shape[:2]
    scale = min(width / w, height / h)
    small = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    out = np.full((height, width, 3), 120, np.uint8)
    y, x = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
    out[y : y + small.shape[0], x : x + small.shape[1]] = small
    return out


def noisy_jpeg(rgb: np.ndarray, seed: int, amplitude: int = 3, quality: int = 90) -> bytes:
    """JPEG of ``rgb`` with faint sensor-like noise, so consecutive frames differ in bytes."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(-amplitude, amplitude + 1, rgb.shape)
    return encode_jpeg(np.clip(rgb.astype(np.int16) + noise, 0, 255).astype(np.uint8), quality)


def face_crop(rgb: np.ndarray, size: int = 220, scale: float = 2.2) -> np.ndarray:
    """The photo's face with some surroundings, as a size x size image."""
    from webapp.face import CropSpec, FaceEngine, crop_face

    box = FaceEngine().detect(rgb)[0]
    return crop_face(rgb, box, CropSpec(size=size, scale=scale))


def jittered_jpeg(rgb: np.ndarray, seed: int, max_shift: float = 2.5, max_degrees: float = 0.6, quality: int = 90) -> bytes:
    """JPEG of ``rgb`` moved by a small random shift and rotation, with sensor-like noise.

    What a camera sees of a person (or a hand-held photo) that is *almost* still: unlike pure
    noise on an identical picture, these frames are not re-encoded copies of each other, so
    they pass the near-duplicate check (webapp/replay/hashes.py) as a live camera's do.
    """
    rng = np.random.default_rng(seed)
    h, w = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(-max_degrees, max_degrees)), 1.0)
    matrix[:, 2] += rng.uniform(-max_shift, max_shift, 2)
    moved = cv2.warpAffine(rgb, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
    return noisy_jpeg(moved, seed, quality=quality)


def tilted(rgb: np.ndarray, yaw: float, pitch: float = 0.0) -> np.ndarray:
    """The frame as seen when the picture itself is turned in front of the camera: the image
    plane rotated ``yaw`` degrees about its vertical axis (and ``pitch`` about the horizontal),
    re-projected by a pinhole camera. This is what holding up a photo or a phone and swivelling
    it looks like - the attack the planar-motion cue exists for."""
    h, w = rgb.shape[:2]
    f = float(w)
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    centred = np.column_stack([corners[:, 0] - w / 2, corners[:, 1] - h / 2, np.zeros(4)])
    cam = centred @ rotation(yaw, pitch).T + np.array([0.0, 0.0, f])
    projected = np.column_stack([f * cam[:, 0] / cam[:, 2] + w / 2, f * cam[:, 1] / cam[:, 2] + h / 2])
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), projected.astype(np.float32))
    return cv2.warpPerspective(rgb, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)


def side_by_side(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A 480x360 frame with the faces of two photos next to each other (about 100 px each)."""
    return webcam_frame(np.hstack([face_crop(a), face_crop(b)]))


def swap_red_blue(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[..., ::-1])


def png_bytes(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


def gif_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(out, format="GIF")
    return out.getvalue()


def blank_jpeg(width: int = 480, height: int = 360) -> bytes:
    return encode_jpeg(np.full((height, width, 3), 90, np.uint8))


@cache
def portrait(name: str) -> np.ndarray:
    """A 480x360 webcam-like frame of the photo's person, face about 140 px wide."""
    return webcam_frame(face_crop(photo_rgb(name), size=360, scale=2.6))


def jittered_frames(
    n: int, seed: int = 0, photo: str = "obama2.jpg", transform: Callable[[np.ndarray], np.ndarray] | None = None
) -> list[bytes]:
    """``n`` camera frames of a photo held in front of the camera (it shifts a little between
    frames), seeds ``seed``..``seed + n - 1``; ``transform`` alters the picture first."""
    rgb = portrait(photo)
    if transform is not None:
        rgb = transform(rgb)
    return [jittered_jpeg(rgb, s) for s in range(seed, seed + n)]
