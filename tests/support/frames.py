"""Frames built from the test photos: webcam-sized, noisy (never byte-identical), composed."""

from __future__ import annotations

import io
from functools import cache

import cv2
import numpy as np

from tests.support.faces import face_photo
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
