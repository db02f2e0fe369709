"""How a login frame is searched for faces: around the previous frame's face first.

HOG on the whole 480 px frame was the biggest stage of a login frame (18-27 ms of CPU, up to
70 ms when the pad-and-retry ran). A login streams frames of one face that moves a little
between frames, so most frames need only a look where the face just was. The previous frame's
one face (its box and the region searches since the last full pass) is carried in the attempt
state, never in process memory: any worker may take the next frame. Per frame:

* **No track** (the attempt's first frame, or the previous frame showed no face or several):
  the **wide** search, ``FaceEngine.detect`` as for enrollment stills (480 px, pad-and-retry),
  exactly as before. A face coming back, or a second face, is searched as it always was.
* **Track, a full pass due** (every ``FACE_TRACK_FULL_EVERY``-th frame): the wide search.
* **Track** otherwise: the **region** (``FaceEngine.detect_region``: a grey crop around the
  previous box, about a fifth of the pixels). Kept when it finds exactly one face *and* the
  context detector (RetinaFace, run on the whole frame for every frame anyway) is not
  confident of a face elsewhere. Several faces in the region, or a confident face outside it:
  the wide search. No face in the region (the head moved or turned): the **quick** pass
  (``FaceEngine.detect_quick``, 320 px), then the wide one if that finds nothing or misses a
  face the context detector is confident of. Without a context detector the quick pass is
  skipped (nothing could vouch for it missing nothing).

A frame whose face is encoded for identity (a few per login) gets the wide search whatever the
track, so its descriptor comes from the box it always came from (see ``detect_login_faces``).

Why the multiple-face rule keeps working: a second face is searched by the wide search, which
runs on every frame once the track is lost (two faces are not a track), at least every
``FACE_TRACK_FULL_EVERY`` frames while it holds, and at once whenever the context detector is
confident of a face outside the region. The trade-off: a second face that only HOG sees is
noticed up to ``FACE_TRACK_FULL_EVERY - 1`` frames (0.5 s at 8 fps) late; the rule's grace
(MULTIPLE_FACES_GRACE_*: 2 s, 20 frames) is far longer, and from the first frame that shows
both faces every frame gets the wide search again. The quick pass (a face must be about a
quarter of the frame to be seen at 320 px) is only trusted when the region lost the one face.
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


@dataclass(frozen=True)
class Track:
    """The previous frame's one face, and whether this frame may search only around it."""

    box: Box
    region: bool  # False: the periodic full pass is due


def track_of(state: AttemptState, engine: FaceEngine) -> Track | None:
    """The attempt's face track for its next frame; None when there is none (or tracking is off)."""
    s = engine.settings
    if not s.track or state.track_box is None:
        return None
    return Track(Box.from_list(state.track_box), region=state.region_frames < s.track_full_every - 1)


def remember(state: AttemptState, detection: Detection | None) -> None:
    """Carry this frame's one face (or none) to the next frame's :func:`track_of`."""
    if detection is None or len(detection.boxes) != 1:
        state.track_box, state.region_frames = None, 0
        return
    state.track_box = detection.boxes[0].as_list()
    state.region_frames = state.region_frames + 1 if detection.search == REGION else 0


def confident_faces(context_boxes: list[ScoredBox] | None, floor: float | None) -> list[ScoredBox] | None:
    """The context detections at or above the detector's own confidence ``floor``: faces it is
    sure of (None without a context detector). One list per frame serves the search below and
    the track bridge's turned face (login/frames.py)."""
    if context_boxes is None or floor is None:
        return None
    return [b for b in context_boxes if b.confidence >= floor]


def detect_login_faces(
    engine: FaceEngine,
    rgb: np.ndarray,
    track: Track | None,
    seen: list[ScoredBox] | None,
    exact: bool = False,
) -> Detection:
    """The faces of one login frame (see the module docstring for the order of the searches).

    ``seen``: the frame's :func:`confident_faces` (None without a context detector).
    ``exact``: the frame's face will be encoded: search it as enrollment stills are searched.
    The 128-d descriptor is computed from landmarks fitted inside the box, and a box from the
    coarser searches moves it (measured on ../shared/datasets/identity: region boxes by up to
    0.23, median 0.05; the match tolerance is 0.5), so identity is judged on the boxes it always
    was. Only the few encoded frames of a login (login/identity.py) pay for it.
    """

    def wide() -> Detection:
        boxes = engine.detect(rgb)
        if not boxes and track is not None:  # the region sees a face at the border the retry may miss
            region = engine.detect_region(rgb, track.box)
            if len(region) == 1:
                return Detection(region, REGION)
        return Detection(boxes, WIDE)

    if not engine.settings.track or track is None or exact or not track.region:
        return wide()
    boxes = engine.detect_region(rgb, track.box)
    if len(boxes) == 1 and (seen is None or not unexplained(seen, boxes)):
        return Detection(boxes, REGION)
    if boxes or seen is None:
        return wide()  # several faces, or one and another the context detector is sure of
    quick = engine.detect_quick(rgb)
    if not quick or unexplained(seen, quick):
        return wide()
    return Detection(quick, QUICK)


def unexplained(context: list[ScoredBox], boxes: list[Box]) -> bool:
    """Is a context detection not one of the HOG ``boxes``? (its centre lies in none of them,
    and it overlaps none by IoU 0.2: the rule of ``retinaface.matching_box``)"""
    for c in context:
        cx, cy = (c.x1 + c.x2) / 2.0, (c.y1 + c.y2) / 2.0
        cbox = c.as_box()
        if not any((b.left <= cx <= b.right and b.top <= cy <= b.bottom) or cbox.iou(b) >= 0.2 for b in boxes):
            return True
    return False
