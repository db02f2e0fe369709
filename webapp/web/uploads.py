"""Reading image uploads from multipart requests, with the right error for each problem.

:func:`decode_upload` is the one mapping from image problems (``webapp.face.image``) to the API's
error shape: a login frame and a still image (enrollment, admin checks) name their errors
differently in the HTTP contract, so each kind has its row of the table.
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
from flask import request
from werkzeug.datastructures import FileStorage

from webapp.errors import ApiError, BadFrame, BadImage, FrameTooLarge, ImageTooLarge, InvalidRequest, UnsupportedMedia
from webapp.face.image import ImageError, ImageLimits, NotAnImage, OversizedImage, UnsupportedImage, decode_image

# A part may be labelled with any of these; anything else (text/plain, image/gif...) is refused.
_ACCEPTED_PART_TYPES = {"", "image/jpeg", "image/jpg", "image/pjpeg", "image/png", "application/octet-stream"}


def require_multipart() -> None:
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMedia("Send multipart/form-data with the image in a file field.")


def part_bytes(part: FileStorage, limit: int) -> bytes:
    """The part's bytes, reading at most ``limit + 1`` (the caller decides what "too big" is)."""
    if (part.mimetype or "") not in _ACCEPTED_PART_TYPES:
        raise UnsupportedMedia(f"{part.mimetype} is not accepted; send image/jpeg or image/png.")
    return part.stream.read(limit + 1)


def optional_int(name: str) -> int | None:
    """An optional integer form field (``seq``): None when absent, else a signed 64-bit value."""
    value = request.form.get(name)
    if value is None or value == "":
        return None
    return bounded_int(value, name, -(2**63), 2**63 - 1)  # the database stores a signed 64-bit integer


_INT_RE = re.compile(r"-?[0-9]{1,20}")


def bounded_int(raw: object, name: str, minimum: int, maximum: int) -> int:
    """Parse an integer request field strictly (ASCII digits, at most 20 of them: no '1_000', no
    other scripts' digits, no 10**5000) and within [minimum, maximum]; else 400 invalid_request.
    Every numeric field of the API goes through here, so none can reach the database or a
    C integer as an OverflowError (500)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise InvalidRequest(f"{name} must be an integer")
    text = str(raw).strip()
    if not _INT_RE.fullmatch(text):
        raise InvalidRequest(f"{name} must be an integer")
    number = int(text)
    if not minimum <= number <= maximum:
        raise InvalidRequest(f"{name} must be between {minimum} and {maximum}")
    return number


UploadKind = Literal["frame", "still"]
# (kind, image problem) -> API error. Stills answer a format they refuse as bad_image.
_IMAGE_ERRORS: dict[UploadKind, dict[type[ImageError], type[ApiError]]] = {
    "frame": {NotAnImage: BadFrame, UnsupportedImage: UnsupportedMedia, OversizedImage: FrameTooLarge},
    "still": {NotAnImage: BadImage, UnsupportedImage: BadImage, OversizedImage: ImageTooLarge},
}


def decode_upload(data: bytes, limits: ImageLimits, kind: UploadKind) -> np.ndarray:
    """Decode uploaded bytes to RGB, or raise the API error the contract names for ``kind``."""
    try:
        return decode_image(data, limits)
    except ImageError as exc:
        raise image_error(exc, kind) from None


def image_error(exc: ImageError, kind: UploadKind) -> ApiError:
    """The API error for an image problem (also used to report per-image rejections)."""
    error = next((api for err, api in _IMAGE_ERRORS[kind].items() if isinstance(exc, err)), BadImage if kind == "still" else BadFrame)
    return error(str(exc))
