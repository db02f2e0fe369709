"""The one face-crop policy shared by serving, training data collection and evaluation.

Liveness models are trained on crops made by :func:`crop_face` and the service feeds them
crops made by the same function, so a model never sees a framing at login that it did not
see in training. The crop is resized straight to the model input ("resize first"): the
shared datasets leak the class through crop size (spoof crops are often much smaller),
and a fixed output size removes that cue before any other processing.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from webapp.face.types import Box


@dataclass(frozen=True)
class CropSpec:
    """How a model wants its face: square side ``size`` px, ``scale`` x the face box."""

    size: int
    scale: float


def crop_box(box: Box, scale: float) -> Box:
    """The square region ``scale`` times the larger side of ``box``, centred on it.

    dlib's HOG boxes are tight (brows to chin); a scale slightly above 1 keeps the whole
    face, which is the framing of the face-crop datasets the models learn from.
    """
    cx, cy = box.center
    half = max(box.width, box.height) * scale / 2.0
    return Box(round(cx - half), round(cy - half), round(cx + half), round(cy + half))


def crop_face(rgb: np.ndarray, box: Box, spec: CropSpec) -> np.ndarray:
    """Cut the square crop around ``box`` and resize it to ``spec.size`` (uint8 RGB).

    Parts of the square outside the image are filled by edge replication, which looks like
    the border of a tight dataset crop rather than a black frame a model could latch onto.
    """
    region = crop_box(box, spec.scale)
    h, w = rgb.shape[:2]
    pad_left = max(0, -region.left)
    pad_top = max(0, -region.top)
    pad_right = max(0, region.right - w)
    pad_bottom = max(0, region.bottom - h)
    inner = rgb[
        max(0, region.top) : min(h, region.bottom),
        max(0, region.left) : min(w, region.right),
    ]
    if inner.size == 0:
        raise ValueError("the face box lies outside the image")
    if pad_left or pad_top or pad_right or pad_bottom:
        inner = cv2.copyMakeBorder(inner, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_REPLICATE)
    side = inner.shape[0]
    interp = cv2.INTER_AREA if side >= spec.size else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(inner, (spec.size, spec.size), interpolation=interp))
