"""Video frames as the server receives them from the browser.

The login page scales each camera frame to a fixed size and sends ``canvas.toBlob(...,
'image/jpeg', 0.85)``; every measurement here goes through the same resize + JPEG round trip so
landmark jitter and hash distances include the browser's compression, not the video codec alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

BROWSER_SIDE = 480  # longest side (480x360 for a 4:3 webcam; portrait clips are not upscaled)
BROWSER_JPEG_QUALITY = 85  # canvas.toBlob quality 0.85


def browser_jpeg(bgr: np.ndarray, side: int = BROWSER_SIDE, quality: int = BROWSER_JPEG_QUALITY) -> bytes:
    """The JPEG bytes a browser would send for this camera frame."""
    h, w = bgr.shape[:2]
    scale = side / max(h, w)
    if scale != 1.0:
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        bgr = cv2.resize(bgr, (round(w * scale), round(h * scale)), interpolation=interp)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf.tobytes())


def decode_rgb(data: bytes) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("not a JPEG")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def video_frames(path: Path) -> Iterator[tuple[float, np.ndarray]]:
    """``(seconds, bgr)`` for every decodable frame, timestamps from the container.

    Some containers report no usable timestamps (a frame count of -1e17 in one clip); then the
    nominal frame rate gives them. apfol/real2.webm has real gaps (214 frames over 11.6 s), so
    container time is preferred whenever it increases.
    """
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise FileNotFoundError(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    index, last = 0, -1.0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if not np.isfinite(t) or t <= last:
                t = last + 1.0 / fps if last >= 0 else index / fps
            last = t
            index += 1
            yield t, frame
    finally:
        cap.release()
