"""The face-crop policies shared by serving, training data collection and evaluation.

Liveness models are trained on crops made by :func:`crop_face` (``square``: our own models, on
dlib boxes) or :func:`silent_face_crop` (``silentface``: the pretrained MiniFASNet members, on
RetinaFace boxes), and the service feeds them crops made by the same functions, so a model
never sees a framing at login that it did not see in training. The crop is resized straight to the model input ("resize first"): the
shared datasets leak the class through crop size (spoof crops are often much smaller),
and a fixed output size removes that cue before any other processing.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from webapp.face.types import Box

SQUARE = "square"  # crop_face on the dlib box
SILENTFACE = "silentface"  # silent_face_crop on the RetinaFace box
CROP_POLICIES = (SQUARE, SILENTFACE)


@dataclass(frozen=True)
class CropSpec:
    """How a model wants its face: square side ``size`` px, ``scale`` x the face box, cut by
    ``policy`` around the box of the detector the model was trained with."""

    size: int
    scale: float
    policy: str = SQUARE

    @property
    def box(self) -> str:
        """Which detector's box the crop is framed on ("dlib" or "retinaface")."""
        return "retinaface" if self.policy == SILENTFACE else "dlib"


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


def silent_face_region(src_w: int, src_h: int, box: tuple[int, int, int, int], scale: float) -> tuple[int, int, int, int]:
    """The Silent-Face crop rectangle (x1, y1, x2, y2, inclusive) for an ``[x, y, w, h]`` box.

    As the pretrained MiniFASNet members were trained (Silent-Face-Anti-Spoofing,
    ``src/generate_patches.py``): the box is scaled about its centre, the scale shrinks until the
    scaled box fits the image (``(side - 1) / box side``), a box sticking out is shifted back
    inside, and the corners are truncated to integers. Most of what the model sees is context
    around the face: screen edges, hands, paper borders.
    """
    x, y, bw, bh = box
    bw, bh = max(bw, 1), max(bh, 1)
    scale = min((src_h - 1) / bh, (src_w - 1) / bw, scale)
    new_w, new_h = bw * scale, bh * scale
    cx, cy = bw / 2 + x, bh / 2 + y
    x1, y1, x2, y2 = cx - new_w / 2, cy - new_h / 2, cx + new_w / 2, cy + new_h / 2
    if x1 < 0:
        x2 -= x1
        x1 = 0
    if y1 < 0:
        y2 -= y1
        y1 = 0
    if x2 > src_w - 1:
        x1 -= x2 - src_w + 1
        x2 = src_w - 1
    if y2 > src_h - 1:
        y1 -= y2 - src_h + 1
        y2 = src_h - 1
    return int(x1), int(y1), int(x2), int(y2)


def silent_face_crop(image: np.ndarray, box: tuple[int, int, int, int], spec: CropSpec) -> np.ndarray:
    """The ``silentface`` crop of an ``[x, y, w, h]`` box (uint8, the channel order of ``image``),
    resized with cv2's default bilinear interpolation as in training."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = silent_face_region(w, h, box, spec.scale)
    region = image[max(0, y1) : y2 + 1, max(0, x1) : x2 + 1]
    if region.size == 0:
        raise ValueError("the crop region is empty")
    return np.ascontiguousarray(cv2.resize(region, (spec.size, spec.size)))
