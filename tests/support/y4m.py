"""Write Y4M video files: Chromium plays them as its fake camera
(--use-file-for-fake-video-capture), looping at the end."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np


def write_y4m(path: Path, frames_rgb: Iterable[np.ndarray], fps: int = 15) -> Path:
    """Frames must share one even width and height; 4:2:0 chroma as Chromium expects."""
    frames = list(frames_rgb)
    if not frames:
        raise ValueError("no frames")
    h, w = frames[0].shape[:2]
    if w % 2 or h % 2:
        raise ValueError("Y4M 4:2:0 needs even dimensions")
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            if rgb.shape[:2] != (h, w):
                raise ValueError("all frames must have the same size")
            fh.write(b"FRAME\n")
            fh.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path
