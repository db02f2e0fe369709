"""Face-track bridging: following a head through the frames the frontal detector loses.

dlib's HOG detector is frontal: it loses a head turned past about 40 degrees, then finds it
again when the head comes back, a little elsewhere and at another scale. Compared with the
last landmarks it saw, that reappearance can look like a jump (another photo, a cut), which
resets the step the user is in the middle of. The context detector (RetinaFace) keeps seeing
turned faces, so on the frames HOG misses its box carries the track: when every missed frame
holds one box that moved like a head from the last face, and the returning face lies inside
the last box, the reappearance is the same head, not a jump.

Bridged frames feed nothing else: no step, identity or liveness evidence is taken from them,
and the continuity cues (challenge/continuity.py) still compare the faces on either side.
Measured on the shared live videos at 8 fps, 640 px (``ml/studies/README.md``, "turns through
the detector"): of the frames HOG missed, RetinaFace at its 0.6 floor found the face on 37 of 37
(jomariya), 17 of 17 (Arun, turning), 17 of 17 (tranvanluyt), 1 of 4 (krzysiek) and 22 of 46
(saikan45, where HOG finds no frame at all).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from webapp.config import DEFAULTS


@dataclass(frozen=True)
class BridgeSettings:
    """How far a box may move between bridged frames, in box widths (a face box is about
    2.5 inter-ocular distances wide, so the track check's 4 IOD/s is 1.6 widths/s)."""

    max_speed: float = DEFAULTS["TRACK_BRIDGE_MAX_SPEED"]  # box widths per second
    max_shift: float = DEFAULTS["TRACK_BRIDGE_MAX_SHIFT"]  # box widths, whatever the gap
    max_scale_speed: float = DEFAULTS["TRACK_MAX_SCALE_SPEED"]  # |log width change| per second


def _centre(box: Sequence[float]) -> tuple[float, float]:
    return (float(box[0]) + float(box[2])) / 2.0, (float(box[1]) + float(box[3])) / 2.0


def _width(box: Sequence[float]) -> float:
    return max(1e-6, float(box[2]) - float(box[0]))


def box_follows(prev: Sequence[float], cur: Sequence[float], dt: float, s: BridgeSettings = BridgeSettings()) -> bool:
    """Did the box ``cur`` come from ``prev`` within ``dt`` seconds, as a head moves?"""
    gap = max(0.0, float(dt))
    (x0, y0), (x1, y1) = _centre(prev), _centre(cur)
    w = (_width(prev) + _width(cur)) / 2.0
    shift = math.hypot(x1 - x0, y1 - y0) / w
    scale = abs(math.log(_width(cur) / _width(prev)))
    return shift <= min(s.max_shift, s.max_speed * gap + 0.1) and scale <= s.max_scale_speed * gap + 0.15


def face_inside(landmarks: np.ndarray | Sequence[Sequence[float]], box: Sequence[float]) -> bool:
    """Is the centre of the face's landmarks inside ``box`` (left, top, right, bottom)?"""
    cx, cy = np.asarray(landmarks, np.float64).mean(axis=0)
    return float(box[0]) <= cx <= float(box[2]) and float(box[1]) <= cy <= float(box[3])
