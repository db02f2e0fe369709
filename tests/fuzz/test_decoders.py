"""Property tests of the frame and enrollment decoders (hypothesis): whatever the bytes, the
answer is a bounded RGB image or the decoder's own error, never anything else (issue 11, item 7)."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import cv2
import numpy as np
import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.errors import ApiError
from webapp.face.image import ImageError, ImageLimits, OversizedImage, decode_image
from webapp.web.uploads import decode_upload

LIMITS = ImageLimits(max_bytes=256 * 1024, max_pixels=640 * 480, max_side=640)
FAST = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
HTTP = settings(FAST, max_examples=60)  # each example is a request through the whole app


def _seed_image(fmt: str) -> bytes:
    rgb = (np.indices((24, 32)).sum(axis=0)[..., None] * [3, 5, 7] % 256).astype(np.uint8)
    ok, buf = cv2.imencode(fmt, rgb)
    assert ok
    return buf.tobytes()


SEEDS = [_seed_image(".jpg"), _seed_image(".png")]


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    """A real JPEG or PNG with bytes flipped, cut off, or spliced in."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["flip", "cut", "insert"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(max_size=64))
    return bytes(data)


def _check(data: bytes, limits: ImageLimits = LIMITS) -> None:
    try:
        rgb = decode_image(data, limits)
    except ImageError:
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    h, w = rgb.shape[:2]
    assert 0 < h <= limits.max_side and 0 < w <= limits.max_side and h * w <= limits.max_pixels


@FAST
@given(st.binary(max_size=4096))
def test_any_bytes_decode_or_raise_an_image_error(data: bytes) -> None:
    _check(data)


@FAST
@given(mutated_images())
def test_damaged_images_decode_or_raise_an_image_error(data: bytes) -> None:
    _check(data)


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


@FAST
@given(st.integers(641, 2**31 - 1), st.integers(1, 2**31 - 1))
def test_declared_giant_images_are_refused_before_decoding(width: int, height: int) -> None:
    data = _png_header(width, height) + zlib.compress(b"\x00" * 1024)
    with pytest.raises(ImageError) as exc:
        decode_image(data, LIMITS)
    assert isinstance(exc.value, OversizedImage | ImageError)


@FAST
@given(st.one_of(st.binary(max_size=2048), mutated_images()), st.sampled_from(["frame", "still"]))
def test_upload_decoding_answers_only_4xx_api_errors(data: bytes, kind: Any) -> None:
    try:
        decode_upload(data, LIMITS, kind)
    except ApiError as exc:
        assert exc.code is not None and 400 <= exc.code < 500


# --- the HTTP decoders: JSON start bodies, multipart frames and enrollment uploads ---------------


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"RATE_LIMIT_ATTEMPTS": 0, "RATE_LIMIT_FRAMES": "", "ACCOUNT_SLOWDOWN_AFTER": 0}  # every example gets an answer


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@HTTP
@given(body=st.one_of(json_values, st.dictionaries(st.just("username"), json_values, min_size=1)))
def test_login_start_bodies_never_500(app: Flask, body: Any) -> None:
    r = app.test_client().post("/api/v1/login/start", json=body)
    assert r.status_code in (201, 400, 415, 423, 429), (body, r.status_code, r.get_data()[:200])


@HTTP
@given(
    field=st.sampled_from(["frame", "image", "x"]),
    data=st.binary(max_size=2048),
    mimetype=st.sampled_from(["image/jpeg", "image/png", "text/plain", "application/octet-stream", ""]),
    seq=st.one_of(st.none(), st.text(max_size=30), st.integers().map(str)),
)
def test_frame_uploads_never_500(app: Flask, field: str, data: bytes, mimetype: str, seq: str | None) -> None:
    client = app.test_client()
    attempt_id = client.post("/api/v1/login/start", json={"username": "fuzz"}).get_json()["attempt_id"]
    form: dict[str, Any] = {field: (io.BytesIO(data), "f.jpg", mimetype or None)}
    if seq is not None:
        form["seq"] = seq
    r = client.post(f"/api/v1/login/{attempt_id}/frames", data=form, content_type="multipart/form-data")
    assert 400 <= r.status_code < 500, (r.status_code, r.get_data()[:200])


@pytest.fixture
def admin_headers(app: Flask) -> dict[str, str]:
    from tests.support.api import admin_token, auth

    runner = app.test_cli_runner()
    headers = auth(admin_token(runner))
    assert (
        app.test_client().post("/api/v1/admin/users", json={"username": "eve", "display_name": "Eve"}, headers=headers).status_code == 201
    )
    return headers


@HTTP
@given(
    images=st.lists(st.one_of(st.binary(max_size=1024), mutated_images().filter(lambda d: not _decodes(d))), min_size=0, max_size=4),
    source=st.sampled_from(["upload", "webcam", "camera", ""]),
)
def test_enrollment_uploads_never_500(app: Flask, admin_headers: dict[str, str], images: list[bytes], source: str) -> None:
    form: dict[str, Any] = {"images": [(io.BytesIO(d), f"{i}.jpg", "image/jpeg") for i, d in enumerate(images)], "source": source}
    r = app.test_client().post("/api/v1/admin/users/eve/faces", data=form, content_type="multipart/form-data", headers=admin_headers)
    if r.status_code == 201:  # an upload enrollment answers per image: every one refused, none stored
        body = r.get_json()
        assert body["enrolled"] == 0 and len(body["rejected"]) == len(images)
    else:
        assert 400 <= r.status_code < 500, (r.status_code, r.get_data()[:200])


def _decodes(data: bytes) -> bool:
    """A still that decodes would reach the dlib face detector (a slow test's business)."""
    try:
        decode_image(data, LIMITS)
    except ImageError:
        return False
    return True
