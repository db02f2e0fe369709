"""Reading image uploads from multipart requests, with the right error for each problem.

:func:`decode_upload` is the one mapping from image problems (``webapp.face.image``) to the API's
error shape: a login frame and a still image (enrollment, admin checks) name their errors
differently in the HTTP contract, so each kind has its row of the table.
"""

from __future__ import annotations

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
    value = request.form.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer") from None
    if not -(2**63) <= number < 2**63:  # the database stores a signed 64-bit integer
        raise InvalidRequest(f"{name} must fit in a signed 64-bit integer")
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
