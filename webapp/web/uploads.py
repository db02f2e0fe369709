"""Reading image uploads from multipart requests, with the right error for each problem."""

from __future__ import annotations

from flask import request
from werkzeug.datastructures import FileStorage

from webapp.errors import InvalidRequest, UnsupportedMedia

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
        return int(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer") from None
