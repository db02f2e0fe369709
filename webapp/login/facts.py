"""What the analysis of one login frame established: the policy's only input about a frame.

Built in one place (:func:`webapp.login.frames.analyze_login_frame`), complete when built, and
read by the pure policy (``webapp/login/policy.py``); neither imports the other's layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from webapp.challenge.continuity import FrameSignature
from webapp.challenge.screenlight import LightSample
from webapp.challenge.steps import FaceSignals
from webapp.replay import ReplayFacts


@dataclass(frozen=True)
class FrameFacts:
    """Times are server-clock seconds since the attempt started: ``t`` when the request
    arrived, ``t_done`` when its analysis finished (the moment it is folded into the attempt)."""

    sha256: str
    faces: int
    distance: float | None = None  # to the claimed user's nearest template; inf if none enrolled
    # False: the frame's face was not encoded (sparse encoding), so ``distance`` says nothing;
    # the face track binds it to the encoded frames around it.
    encoded: bool = True
    live_score: float | None = None
    signals: FaceSignals | None = None
    landmarks: np.ndarray | None = None  # (68, 2) of the one face
    signature: FrameSignature | None = None  # scene, pose and face, for continuity
    # No frontal face, but the context detector boxed exactly one (left, top, right, bottom):
    # a turned head, for track bridging only (challenge/bridge.py).
    tracked_box: tuple[float, float, float, float] | None = None
    light: LightSample | None = None  # skin and background colour, for the screen-light step
    replay: ReplayFacts = field(default_factory=ReplayFacts)
    t: float = 0.0
    t_done: float = 0.0
