from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from tests.support.frames import gif_bytes, png_bytes
from webapp.face.image import ImageLimits, NotAnImage, OversizedImage, UnsupportedImage, decode_image, encode_jpeg

LIMITS = ImageLimits(max_bytes=1_000_000, max_pixels=2_000_000, max_side=2000)


def _rgb(w: int = 64, h: int = 48) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height: enough to trip the size checks."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    data = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat = b"IDAT" + zlib.compress(b"\x00" * 16)
    return data + struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat)) + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def test_jpeg_round_trip_is_rgb() -> None:
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[..., 0] = 250  # pure red must stay in channel 0 (RGB, not OpenCV's BGR)
    out = decode_image(encode_jpeg(rgb, 95), LIMITS)
    assert out.shape == (40, 60, 3)
    assert out[..., 0].mean() > 240 and out[..., 2].mean() < 15


def test_png_accepted() -> None:
    rgb = _rgb()
    np.testing.assert_array_equal(decode_image(png_bytes(rgb), LIMITS), rgb)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", NotAnImage),
        (b"hello, I am not an image", NotAnImage),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, NotAnImage),  # a JPEG magic with nothing behind it
        (gif_bytes(), UnsupportedImage),
    ],
    ids=["empty", "text", "jpeg-magic-only", "gif"],
)
def test_bad_bytes(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_image(data, LIMITS)


def test_truncated_jpeg_refused() -> None:
    data = encode_jpeg(_rgb(200, 150))
    with pytest.raises(NotAnImage, match="truncated"):
        decode_image(data[: len(data) * 2 // 3], LIMITS)


def test_truncated_png_refused() -> None:
    data = png_bytes(_rgb(200, 150))
    with pytest.raises(NotAnImage):
        decode_image(data[: len(data) // 2], LIMITS)


def test_too_many_bytes() -> None:
    with pytest.raises(OversizedImage):
        decode_image(encode_jpeg(_rgb(300, 300), 100), ImageLimits(max_bytes=1000, max_pixels=10**7, max_side=5000))


def test_declared_dimensions_checked_before_decoding() -> None:
    with pytest.raises(OversizedImage):
        decode_image(_png_header_only(50_000, 50_000), LIMITS)
    with pytest.raises(OversizedImage):
        decode_image(_png_header_only(3000, 10), LIMITS)  # one side over max_side
