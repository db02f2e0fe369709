"""Which search a login frame gets (webapp/login/tracking.py), with a scripted engine: the
region is trusted only when it is unambiguous, and a full pass is never more than
FACE_TRACK_FULL_EVERY frames away, so a second face cannot hide from the policy."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from webapp.face.engine import DetectorSettings
from webapp.face.retinaface import ScoredBox
from webapp.face.types import Box
from webapp.login.state import AttemptState
from webapp.login.tracking import QUICK, REGION, WIDE, Detection, detect_login_faces, region_hint, remember

FACE = Box(100, 100, 200, 200)
OTHER = Box(350, 120, 430, 200)
FRAME = np.zeros((360, 480, 3), np.uint8)
FLOOR = 0.6


def scored(box: Box, confidence: float = 0.9) -> ScoredBox:
    return ScoredBox(box.left, box.top, box.right, box.bottom, confidence)


@dataclass
class ScriptedEngine:
    """Answers each search with fixed boxes and records which searches ran."""

    region: list[Box] = field(default_factory=list)
    quick: list[Box] = field(default_factory=list)
    wide: list[Box] = field(default_factory=list)
    settings: DetectorSettings = field(default_factory=DetectorSettings)
    calls: list[str] = field(default_factory=list)

    def detect_region(self, rgb: np.ndarray, around: Box) -> list[Box]:
        self.calls.append(REGION)
        return list(self.region)

    def detect_quick(self, rgb: np.ndarray) -> list[Box]:
        self.calls.append(QUICK)
        return list(self.quick)

    def detect(self, rgb: np.ndarray) -> list[Box]:
        self.calls.append(WIDE)
        return list(self.wide)


def run(engine: ScriptedEngine, around: Box | None, context: list[ScoredBox] | None) -> Detection:
    return detect_login_faces(engine, FRAME, around, context, FLOOR if context is not None else None)  # type: ignore[arg-type]


def test_one_face_in_the_region_that_the_context_detector_agrees_with_needs_no_full_pass() -> None:
    engine = ScriptedEngine(region=[FACE], quick=[FACE], wide=[FACE])
    found = run(engine, FACE, [scored(FACE), scored(OTHER, 0.3)])  # 0.3: below the detector's own floor
    assert (found.boxes, found.search, engine.calls) == ([FACE], REGION, [REGION])


def test_a_confident_face_outside_the_region_forces_the_full_passes() -> None:
    # HOG's region saw one face; RetinaFace is sure of a second one elsewhere (someone behind).
    engine = ScriptedEngine(region=[FACE], quick=[FACE], wide=[FACE, OTHER])
    found = run(engine, FACE, [scored(FACE), scored(OTHER)])
    # The quick pass did not find it either (too small at 320 px): the wide one does.
    assert (found.boxes, found.search, engine.calls) == ([FACE, OTHER], WIDE, [REGION, QUICK, WIDE])
    engine = ScriptedEngine(region=[FACE], quick=[FACE, OTHER])
    assert run(engine, FACE, [scored(FACE), scored(OTHER)]).boxes == [FACE, OTHER]
    assert engine.calls == [REGION, QUICK]


def test_an_empty_or_crowded_region_falls_back_to_a_full_pass() -> None:
    for region in ([], [FACE, OTHER]):
        engine = ScriptedEngine(region=region, quick=[FACE, OTHER])
        found = run(engine, FACE, [])
        assert (found.boxes, found.search, engine.calls) == ([FACE, OTHER], QUICK, [REGION, QUICK])


def test_a_lost_track_gets_the_wide_search_and_no_context_detector_means_always_wide() -> None:
    engine = ScriptedEngine(region=[], quick=[], wide=[FACE])
    assert run(engine, FACE, []).search == WIDE and engine.calls == [REGION, QUICK, WIDE]
    engine = ScriptedEngine(quick=[], wide=[])
    assert run(engine, None, []).search == QUICK and engine.calls == [QUICK]  # no track, nothing seen: no face
    engine = ScriptedEngine(region=[], quick=[FACE], wide=[FACE])
    assert run(engine, None, None).search == WIDE and engine.calls == [WIDE]
    # Without a context detector nothing can vouch for the region's being alone, but the
    # region still runs between full passes (the periodic pass below bounds the delay).
    engine = ScriptedEngine(region=[FACE], wide=[FACE, OTHER])
    assert run(engine, FACE, None).search == REGION


def test_tracking_off_is_the_enrollment_search_on_every_frame() -> None:
    engine = ScriptedEngine(region=[FACE], quick=[FACE], wide=[FACE], settings=DetectorSettings(track=False))
    assert run(engine, FACE, [scored(FACE)]).search == WIDE and engine.calls == [WIDE]
    state = AttemptState(track_box=FACE.as_list())
    assert region_hint(state, engine) is None  # type: ignore[arg-type]


def test_the_state_carries_one_face_and_forces_a_full_pass_every_n_frames() -> None:
    engine = ScriptedEngine(settings=DetectorSettings(track_full_every=3))
    state = AttemptState()
    assert region_hint(state, engine) is None  # type: ignore[arg-type]  # first frame: full pass
    hints = []
    for search in (QUICK, REGION, REGION, QUICK, REGION):
        remember(state, Detection([FACE], search))
        hints.append(region_hint(state, engine))  # type: ignore[arg-type]
    # After two region frames the third frame is a full pass again.
    assert hints == [FACE, FACE, None, FACE, FACE]
    for boxes in ([], [FACE, OTHER]):
        remember(state, Detection(boxes, WIDE))
        assert (state.track_box, state.region_frames, region_hint(state, engine)) == (None, 0, None)  # type: ignore[arg-type]
    remember(state, None)  # a replayed frame is not searched: no track either
    assert state.track_box is None
    # The state travels as JSON between workers.
    remember(state, Detection([FACE], REGION))
    assert AttemptState.from_json(state.to_json()).track_box == FACE.as_list()


def test_a_second_face_only_hog_sees_reaches_the_policy_within_n_frames_and_then_on_every_frame() -> None:
    """A face the context detector misses, appearing while the track holds: the periodic full
    pass finds it; from then on every frame is a full pass (two faces are not a track)."""
    every = DetectorSettings().track_full_every
    engine = ScriptedEngine(region=[FACE], quick=[FACE, OTHER], wide=[FACE, OTHER])
    state = AttemptState()
    remember(state, Detection([FACE], QUICK))
    faces = []
    for _ in range(3 * every):
        found = run(engine, region_hint(state, engine), [scored(FACE)])  # type: ignore[arg-type]
        remember(state, found)
        faces.append(len(found.boxes))
    first = faces.index(2)
    assert first < every and faces[first:] == [2] * (len(faces) - first)


def test_a_frame_to_be_encoded_gets_the_enrollment_search_whatever_the_track() -> None:
    """Its descriptor must come from the box it always came from (identity unchanged)."""
    engine = ScriptedEngine(region=[OTHER], quick=[OTHER], wide=[FACE])
    found = detect_login_faces(engine, FRAME, FACE, [scored(FACE)], FLOOR, exact=True)  # type: ignore[arg-type]
    assert (found.boxes, found.search, engine.calls) == ([FACE], WIDE, [WIDE])
    # ... unless it finds nothing where the track just was: the region (border faces) then.
    engine = ScriptedEngine(region=[FACE], wide=[])
    found = detect_login_faces(engine, FRAME, FACE, [scored(FACE)], FLOOR, exact=True)  # type: ignore[arg-type]
    assert (found.boxes, found.search, engine.calls) == ([FACE], REGION, [WIDE, REGION])
