"""Turn untrusted uploaded bytes into an RGB array, or refuse them with a precise reason.

Every frame and enrollment photo enters the system through :func:`decode_image`, so the
checks here are the whole defence against decompression bombs, truncated uploads and
files that are not images at all. The header is parsed by Pillow (cheap, lazy) before any
pixel is decoded; the pixels are decoded by OpenCV, which is what the rest of the
pipeline uses.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

# Formats a browser's canvas.toBlob or a phone camera produce and that we accept.
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG"})


class ImageError(ValueError):
    """Base class: the bytes cannot be used as an image. ``code`` is the API error code."""

    code = "bad_image"


class NotAnImage(ImageError):
    """Empty, undecodable, or truncated bytes."""


class UnsupportedImage(ImageError):
    """A real image, but in a format we do not accept (GIF, WebP, BMP, TIFF...)."""

    code = "unsupported_media"


class OversizedImage(ImageError):
    """Too many bytes or too many pixels to process safely."""

    code = "too_large"


@dataclass(frozen=True)
class ImageLimits:
    """Upper bounds applied before decoding. Frames and enrollment photos use different ones."""

    max_bytes: int
    max_pixels: int
    max_side: int


def sniff_format(data: bytes) -> str | None:
    """Return the Pillow format name of ``data`` from its header, or None if unknown."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                return str(img.format) if img.format else None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        return "BOMB"
    except Exception:
        return None


def _is_truncated(data: bytes, fmt: str) -> bool:
    """Detect uploads cut short in transit.

    OpenCV happily decodes a truncated JPEG and fills the missing rows with grey, which would
    feed a half-grey face to the liveness model. A complete JPEG ends with the EOI marker
    (FFD9, possibly followed by padding) and a complete PNG with its IEND chunk.
    """
    tail = data[-64:].rstrip(b"\x00")
    if fmt == "JPEG":
        return not tail.endswith(b"\xff\xd9")
    if fmt == "PNG":
        return b"IEND" not in tail
    return False


def decode_image(data: bytes, limits: ImageLimits) -> np.ndarray:
    """Decode JPEG/PNG bytes to an RGB uint8 array of shape (H, W, 3).

    Raises a subclass of :class:`ImageError` naming exactly what is wrong.
    """
    if not data:
        raise NotAnImage("the image is empty")
    if len(data) > limits.max_bytes:
        raise OversizedImage(f"the image is larger than {limits.max_bytes} bytes")
    fmt = sniff_format(data)
    if fmt is None:
        raise NotAnImage("the data is not a decodable image")
    if fmt == "BOMB":
        raise OversizedImage("the image declares too many pixels")
    if fmt not in ACCEPTED_FORMATS:
        raise UnsupportedImage(f"{fmt} images are not accepted; send JPEG or PNG")
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
    if width < 1 or height < 1:
        raise NotAnImage("the image has no pixels")
    if width * height > limits.max_pixels or max(width, height) > limits.max_side:
        raise OversizedImage(f"the image is {width}x{height}; the limit is {limits.max_side} px a side")
    if _is_truncated(data, fmt):
        raise NotAnImage("the image is truncated")
    buf = np.frombuffer(data, dtype=np.uint8)
    # IMREAD_COLOR drops alpha and expands grey; the EXIF orientation of phone photos is applied.
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if bgr is None or bgr.ndim != 3 or bgr.shape[0] < 1:
        raise NotAnImage("the data is not a decodable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """Encode an RGB array as JPEG bytes (tests, tools and the evaluator use this)."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf.tobytes())


def read_image_file(path: str, limits: ImageLimits | None = None) -> np.ndarray:
    """Load an image file from disk through the same checks as an upload."""
    with open(path, "rb") as fh:
        data = fh.read()
    return decode_image(data, limits or ImageLimits(max_bytes=50_000_000, max_pixels=80_000_000, max_side=12_000))
