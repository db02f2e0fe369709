"""Capture-quality measurements of a detected face (size, blur, light)."""

from __future__ import annotations

import cv2
import numpy as np

from webapp.face.crop import CropSpec, crop_face
from webapp.face.types import Box, Quality

# Sharpness is measured on a fixed-size crop so that it does not grow with resolution:
# the variance of the Laplacian of a 128 px grey face (Pech-Pacheco et al., 2000).
_QUALITY_CROP = CropSpec(size=128, scale=1.0)


def measure_quality(rgb: np.ndarray, box: Box) -> Quality:
    """Size, sharpness and brightness of the face inside ``box``."""
    face = crop_face(rgb, box, _QUALITY_CROP)
    grey = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    brightness = float(grey.mean())
    return Quality(face_px=int(min(box.width, box.height)), sharpness=round(sharpness, 2), brightness=round(brightness, 2))
