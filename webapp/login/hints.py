"""Sign-in guidance: what a person should change in front of the camera, from what the
server already measured on the frame (face count, face box against the frame, the face's light
against the background's, blur) and the current step's time left on the server clock.

Hints are codes (``move_closer``, ``too_dark``...), never scores: the page turns them into
sentences from its text catalogue (webapp/texts/). Nothing here decides anything: the policy
does, and it never reads a hint. :func:`look_at` measures (numpy, no models);
:func:`hints_for` and :func:`step_seconds_left` are pure.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from webapp.config import DEFAULTS
from webapp.db.models import STATE_COLLECTING
from webapp.face.types import Box, Quality
from webapp.login.policy import CHALLENGE_FAILED, Policy, Verdict, current_step
from webapp.login.state import AttemptState

# Hint codes, in the order the page shows them (the first one is the one to fix first).
MULTIPLE_FACES = "multiple_faces"
TOO_DARK = "too_dark"
TOO_BRIGHT = "too_bright"
BACKLIT = "backlit"
NO_FACE = "no_face"
MOVE_CLOSER = "move_closer"
MOVE_BACK = "move_back"
OFF_CENTRE = "off_centre"
BLURRED = "blurred"
ORDER = (MULTIPLE_FACES, TOO_DARK, TOO_BRIGHT, BACKLIT, NO_FACE, MOVE_CLOSER, MOVE_BACK, OFF_CENTRE, BLURRED)
# Hints about where the face is: with none of them (and one face) the face fits the oval.
POSITION = frozenset({NO_FACE, MULTIPLE_FACES, MOVE_CLOSER, MOVE_BACK, OFF_CENTRE})

# Grey levels are measured on a small copy of the frame: the averages do not need detail.
_THUMB_WIDTH = 96


@dataclass(frozen=True)
class GuidanceSettings:
    """Where guidance starts to speak (GUIDE_* in webapp/config.py)."""

    min_face_share: float = DEFAULTS["GUIDE_MIN_FACE_SHARE"]  # face box width / frame width
    max_face_share: float = DEFAULTS["GUIDE_MAX_FACE_SHARE"]
    max_offset: float = DEFAULTS["GUIDE_MAX_OFFSET"]  # face centre from frame centre, share of the frame side
    dark_level: float = DEFAULTS["GUIDE_DARK_LEVEL"]  # mean grey of the face (or the frame when no face)
    bright_level: float = DEFAULTS["GUIDE_BRIGHT_LEVEL"]
    backlit_margin: float = DEFAULTS["GUIDE_BACKLIT_MARGIN"]  # background grey minus face grey
    min_sharpness: float = DEFAULTS["GUIDE_MIN_SHARPNESS"]  # variance of the Laplacian, face/quality.py


@dataclass(frozen=True)
class FrameLook:
    """How a frame looks to a photographer: no identity, no liveness, nothing stored."""

    faces: int
    frame_grey: float  # mean grey level of the whole frame, 0..255
    face_share: float | None = None  # face box width / frame width (one face only)
    offset_x: float | None = None  # face centre minus frame centre, share of the frame width (camera's view)
    offset_y: float | None = None  # same, share of the frame height
    face_grey: float | None = None  # mean grey level of the face crop
    background_grey: float | None = None  # mean grey level outside the face box
    sharpness: float | None = None
    tracked: bool = False  # no frontal face, but the tracker follows a turned head (challenge/bridge.py)


def look_at(rgb: np.ndarray, boxes: list[Box], quality: Quality | None, tracked: bool = False) -> FrameLook:
    """Measure the frame (a few small numpy operations on a thumbnail)."""
    h, w = rgb.shape[:2]
    scale = _THUMB_WIDTH / max(1, w)
    thumb = cv2.resize(rgb, (_THUMB_WIDTH, max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(thumb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    frame_grey = round(float(grey.mean()), 1)
    if len(boxes) != 1 or quality is None:
        return FrameLook(faces=len(boxes), frame_grey=frame_grey, tracked=tracked and not boxes)
    box = boxes[0]
    cx, cy = box.center
    mask = np.ones(grey.shape, bool)
    top, bottom = max(0, int(box.top * scale)), min(grey.shape[0], int(np.ceil(box.bottom * scale)))
    left, right = max(0, int(box.left * scale)), min(grey.shape[1], int(np.ceil(box.right * scale)))
    mask[top:bottom, left:right] = False
    background = float(grey[mask].mean()) if mask.any() else frame_grey
    return FrameLook(
        faces=1,
        frame_grey=frame_grey,
        face_share=round(box.width / w, 3),
        offset_x=round((cx - w / 2) / w, 3),
        offset_y=round((cy - h / 2) / h, 3),
        face_grey=round(quality.brightness, 1),
        background_grey=round(background, 1),
        sharpness=quality.sharpness,
    )


def hints_for(look: FrameLook | None, cfg: GuidanceSettings) -> list[str]:
    """The hint codes a frame calls for, most important first (empty: nothing to change)."""
    if look is None:  # a frame that was not analysed (its bytes were seen before)
        return []
    found: set[str] = set()
    if look.faces > 1:
        found.add(MULTIPLE_FACES)
    if look.faces != 1 or look.face_grey is None:
        if look.frame_grey < cfg.dark_level:
            found.add(TOO_DARK)
        elif look.frame_grey > cfg.bright_level:
            found.add(TOO_BRIGHT)
        if look.faces == 0 and not look.tracked:  # a head turned away is still in view
            found.add(NO_FACE)
        return [h for h in ORDER if h in found]
    if look.face_grey < cfg.dark_level:
        found.add(TOO_DARK)
    elif look.face_grey > cfg.bright_level:
        found.add(TOO_BRIGHT)
    if look.background_grey is not None and look.background_grey - look.face_grey > cfg.backlit_margin:
        found.add(BACKLIT)
    if look.face_share is not None:
        if look.face_share < cfg.min_face_share:
            found.add(MOVE_CLOSER)
        elif look.face_share > cfg.max_face_share:
            found.add(MOVE_BACK)
    if abs(look.offset_x or 0.0) > cfg.max_offset or abs(look.offset_y or 0.0) > cfg.max_offset:
        found.add(OFF_CENTRE)
    # A dark face has little contrast, which reads as blur: say what to fix first, the light.
    if look.sharpness is not None and look.sharpness < cfg.min_sharpness and TOO_DARK not in found:
        found.add(BLURRED)
    return [h for h in ORDER if h in found]


def face_fits(look: FrameLook | None, hints: list[str]) -> bool:
    """One face, where the oval wants it: the page turns the oval green."""
    return look is not None and look.faces == 1 and not POSITION.intersection(hints)


def step_seconds_left(state: AttemptState, challenge: list[str], policy: Policy, t: float) -> float | None:
    """Seconds of the current step's budget left at server-clock second ``t`` (None: no step
    running). The step's clock starts at its first face frame, as in policy._challenge; this
    reads the same state and budgets, and changes nothing."""
    step = current_step(state, challenge, policy)
    if step is None:
        return None
    budget = policy.max_seconds_for(step)
    if state.step_started_t is None:
        return round(budget, 1)
    return round(max(0.0, budget - (t - state.step_started_t)), 1)


def missed_step(state: AttemptState, challenge: list[str]) -> str | None:
    """The step an attempt denied as challenge_failed was on (None when every step was done)."""
    return challenge[state.step_index] if state.step_index < len(challenge) else None


@dataclass(frozen=True)
class Guidance:
    """What the page shows besides the server's prompt: codes and seconds, never a score."""

    hints: list[str]
    face_fits: bool
    step_seconds_left: float | None
    missed_step: str | None  # on a challenge_failed denial: the step that was not seen


def guidance(
    look: FrameLook | None, state: AttemptState, challenge: list[str], policy: Policy, verdict: Verdict, t: float, cfg: GuidanceSettings
) -> Guidance:
    """The guidance for one answered frame (``state`` as the policy left it)."""
    collecting = verdict.state == STATE_COLLECTING
    tips = hints_for(look, cfg) if collecting else []
    return Guidance(
        hints=tips,
        face_fits=collecting and face_fits(look, tips),
        step_seconds_left=step_seconds_left(state, challenge, policy, t) if collecting else None,
        missed_step=missed_step(state, challenge) if verdict.reason == CHALLENGE_FAILED else None,
    )
