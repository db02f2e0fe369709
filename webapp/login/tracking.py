"""How a login frame is searched for faces: around the previous frame's face first.

HOG on the whole 480 px frame was the biggest stage of a login frame (18-27 ms of CPU, up to
70 ms when the pad-and-retry ran). A login streams frames of one face that moves a little
between frames, so most frames need only a look where the face just was. Per frame, in order:

1. **Region** (``FaceEngine.detect_region``, about a fifth of the pixels): when the previous
   frame showed exactly one face (its box is carried in the attempt state, never in process
   memory: any worker may take the next frame) and a full pass ran within the last
   ``FACE_TRACK_FULL_EVERY`` frames. Accepted only when it finds exactly one face *and* the
   context detector (RetinaFace, run on the whole frame for every frame anyway) is not
   confident of any face elsewhere; anything else falls through to a full pass.
2. **Quick full pass** (``FaceEngine.detect_quick``): the frame at 320 px, with the
   pad-and-retry.
3. **Wide full pass** (``FaceEngine.detect``, the enrollment search at 480 px): only when the
   context detector is confident of a face the quick pass did not find (a small face in the
   background, a turned head), when the quick pass lost the previous frame's face, or on every
   full pass when there is no context detector.

A frame whose face is encoded for identity (a few per login) gets the wide search whatever the
track, so its descriptor comes from the box it always came from (see ``detect_login_faces``).

Why the multiple-face rule keeps working: a second face is found by the full passes, which run
on every frame once the track is lost (two faces are not a track) and at least every
``FACE_TRACK_FULL_EVERY`` frames while it holds, and at once whenever the context detector is
confident of a face outside the region. The trade-off: a second face that only HOG sees is
noticed up to ``FACE_TRACK_FULL_EVERY - 1`` frames (0.5 s at 8 fps) late; the rule's grace
(MULTIPLE_FACES_GRACE_*: 2 s, 20 frames) is far longer, and from the first frame that shows
both faces every frame is a full pass again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from webapp.face.engine import FaceEngine
from webapp.face.retinaface import ScoredBox
from webapp.face.types import Box
from webapp.login.state import AttemptState

REGION, QUICK, WIDE = "region", "quick", "wide"


@dataclass(frozen=True)
class Detection:
    """The faces of a login frame (original coordinates, largest first) and how they were found."""

    boxes: list[Box]
    search: str  # REGION, QUICK or WIDE


def region_hint(state: AttemptState, engine: FaceEngine) -> Box | None:
    """The box to search around in the attempt's next frame; None when a full pass is due."""
    s = engine.settings
    if not s.track or state.track_box is None or state.region_frames >= s.track_full_every - 1:
        return None
    return Box.from_list(state.track_box)


def remember(state: AttemptState, detection: Detection | None) -> None:
    """Carry this frame's one face (or none) to the next frame's :func:`region_hint`."""
    if detection is None or len(detection.boxes) != 1:
        state.track_box, state.region_frames = None, 0
        return
    state.track_box = detection.boxes[0].as_list()
    state.region_frames = state.region_frames + 1 if detection.search == REGION else 0


def detect_login_faces(
    engine: FaceEngine,
    rgb: np.ndarray,
    around: Box | None,
    context_boxes: list[ScoredBox] | None,
    confident: float | None,
    exact: bool = False,
) -> Detection:
    """The faces of one login frame (see the module docstring for the order of the searches).

    ``context_boxes``: the frame's context detections (None without a context detector);
    ``confident``: that detector's own confidence floor, above which a box is taken as a face.
    ``exact``: the frame's face will be encoded: search it as enrollment stills are searched.
    The 128-d descriptor is computed from landmarks fitted inside the box, and a box from the
    coarser searches moves it (measured on ../shared/datasets/identity: region boxes by up to
    0.23, median 0.05; the match tolerance is 0.5), so identity is judged on the boxes it always
    was. Only the few encoded frames of a login (login/identity.py) pay for it.
    """
    if not engine.settings.track:
        return Detection(engine.detect(rgb), WIDE)
    if exact:
        boxes = engine.detect(rgb)
        if not boxes and around is not None:  # the region sees faces at the border the retry may miss
            region = engine.detect_region(rgb, around)
            if len(region) == 1:
                return Detection(region, REGION)
        return Detection(boxes, WIDE)
    seen = [b for b in context_boxes if b.confidence >= confident] if context_boxes is not None and confident is not None else None
    if around is not None:
        boxes = engine.detect_region(rgb, around)
        if len(boxes) == 1 and (seen is None or not unexplained(seen, boxes)):
            return Detection(boxes, REGION)
    if seen is None:
        return Detection(engine.detect(rgb), WIDE)
    boxes = engine.detect_quick(rgb)
    # The wide search where the quick one may have missed a face: one the context detector is
    # confident of, or the face of the previous frame (the track is lost on this frame).
    if unexplained(seen, boxes) or (around is not None and not boxes):
        return Detection(engine.detect(rgb), WIDE)
    return Detection(boxes, QUICK)


def unexplained(context: list[ScoredBox], boxes: list[Box]) -> bool:
    """Is a context detection not one of the HOG ``boxes``? (its centre lies in none of them,
    and it overlaps none by IoU 0.2: the rule of ``retinaface.matching_box``)"""
    for c in context:
        cx, cy = (c.x1 + c.x2) / 2.0, (c.y1 + c.y2) / 2.0
        cbox = c.as_box()
        if not any((b.left <= cx <= b.right and b.top <= cy <= b.bottom) or cbox.iou(b) >= 0.2 for b in boxes):
            return True
    return False
