"""Which search a login frame gets (webapp/login/tracking.py), with a scripted engine: the
region is trusted only when it is unambiguous, anything unclear gets the enrollment (wide)
search, and a wide search is never more than FACE_TRACK_FULL_EVERY frames away, so a second
face cannot hide from the policy."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from webapp.face.engine import DetectorSettings
from webapp.face.retinaface import ScoredBox
from webapp.face.types import Box
from webapp.login.state import AttemptState
from webapp.login.tracking import QUICK, REGION, WIDE, Detection, Track, confident_faces, detect_login_faces, remember, track_of

FACE = Box(100, 100, 200, 200)
OTHER = Box(350, 120, 430, 200)
FRAME = np.zeros((360, 480, 3), np.uint8)
FLOOR = 0.6
TRACKED = Track(FACE, region=True)


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


def run(engine: ScriptedEngine, track: Track | None, context: list[ScoredBox] | None, exact: bool = False) -> Detection:
    return detect_login_faces(engine, FRAME, track, confident_faces(context, FLOOR), exact=exact)  # type: ignore[arg-type]


def test_one_face_in_the_region_that_the_context_detector_agrees_with_needs_no_full_pass() -> None:
    engine = ScriptedEngine(region=[FACE], quick=[FACE], wide=[FACE])
    found = run(engine, TRACKED, [scored(FACE), scored(OTHER, 0.3)])  # 0.3: below the detector's own floor
    assert (found.boxes, found.search, engine.calls) == ([FACE], REGION, [REGION])


def test_a_confident_face_outside_the_region_or_a_crowded_region_gets_the_wide_search() -> None:
    # HOG's region saw one face; RetinaFace is sure of a second one elsewhere (someone behind).
    engine = ScriptedEngine(region=[FACE], quick=[FACE], wide=[FACE, OTHER])
    found = run(engine, TRACKED, [scored(FACE), scored(OTHER)])
    assert (found.boxes, found.search, engine.calls) == ([FACE, OTHER], WIDE, [REGION, WIDE])
    engine = ScriptedEngine(region=[FACE, OTHER], quick=[FACE], wide=[FACE, OTHER])
    assert run(engine, TRACKED, []).boxes == [FACE, OTHER] and engine.calls == [REGION, WIDE]


def test_a_face_gone_from_the_region_is_looked_for_quickly_then_widely() -> None:
    engine = ScriptedEngine(region=[], quick=[OTHER], wide=[FACE])
    found = run(engine, TRACKED, [scored(OTHER)])  # it moved: the quick pass finds it where RetinaFace does
    assert (found.boxes, found.search, engine.calls) == ([OTHER], QUICK, [REGION, QUICK])
    engine = ScriptedEngine(region=[], quick=[], wide=[FACE])
    found = run(engine, TRACKED, [])  # the quick pass lost it too: the track is lost, search widely
    assert (found.boxes, found.search, engine.calls) == ([FACE], WIDE, [REGION, QUICK, WIDE])
    engine = ScriptedEngine(region=[], quick=[OTHER], wide=[OTHER, FACE])
    found = run(engine, TRACKED, [scored(OTHER), scored(FACE)])  # the quick pass missed a confident face
    assert (found.boxes, found.search, engine.calls) == ([OTHER, FACE], WIDE, [REGION, QUICK, WIDE])
    engine = ScriptedEngine(region=[], quick=[OTHER], wide=[OTHER])
    assert run(engine, TRACKED, None).search == WIDE and engine.calls == [REGION, WIDE]  # no context detector


def test_without_a_track_or_with_a_full_pass_due_the_search_is_the_enrollment_one() -> None:
    for track in (None, Track(FACE, region=False)):
        engine = ScriptedEngine(region=[FACE], quick=[FACE], wide=[FACE, OTHER])
        assert run(engine, track, [scored(FACE)]).boxes == [FACE, OTHER]
        assert engine.calls == [WIDE]
    # ... except that a face at the border of the region of a still-held track is not lost.
    engine = ScriptedEngine(region=[FACE], wide=[])
    assert run(engine, Track(FACE, region=False), [scored(FACE)]).search == REGION and engine.calls == [WIDE, REGION]
    # Without a context detector nothing vouches for the region's being alone, but the region
    # still serves between full passes (the periodic pass below bounds the delay).
    engine = ScriptedEngine(region=[FACE], wide=[FACE, OTHER])
    assert run(engine, TRACKED, None).search == REGION


def test_tracking_off_is_the_enrollment_search_on_every_frame() -> None:
    engine = ScriptedEngine(region=[FACE], quick=[FACE], wide=[FACE], settings=DetectorSettings(track=False))
    assert run(engine, TRACKED, [scored(FACE)]).search == WIDE and engine.calls == [WIDE]
    assert track_of(AttemptState(track_box=FACE.as_list()), engine) is None  # type: ignore[arg-type]


def test_a_frame_to_be_encoded_gets_the_enrollment_search_whatever_the_track() -> None:
    """Its descriptor must come from the box it always came from (identity unchanged)."""
    engine = ScriptedEngine(region=[OTHER], quick=[OTHER], wide=[FACE])
    found = run(engine, TRACKED, [scored(FACE)], exact=True)
    assert (found.boxes, found.search, engine.calls) == ([FACE], WIDE, [WIDE])


def test_the_state_carries_one_face_and_forces_a_full_pass_every_n_frames() -> None:
    engine = ScriptedEngine(settings=DetectorSettings(track_full_every=3))
    state = AttemptState()
    assert track_of(state, engine) is None  # type: ignore[arg-type]  # the first frame: no track
    tracks = []
    for search in (WIDE, REGION, REGION, WIDE, REGION):
        remember(state, Detection([FACE], search))
        tracks.append(track_of(state, engine))  # type: ignore[arg-type]
    # After two region frames the third frame is a full pass again.
    assert [t.region if t else None for t in tracks] == [True, True, False, True, True]
    assert all(t is not None and t.box == FACE for t in tracks)
    for boxes in ([], [FACE, OTHER]):
        remember(state, Detection(boxes, WIDE))
        assert (state.track_box, state.region_frames, track_of(state, engine)) == (None, 0, None)  # type: ignore[arg-type]
    remember(state, Detection([FACE], REGION))
    remember(state, None)  # a replayed frame is not searched: no track either
    assert state.track_box is None
    # The state travels as JSON between workers.
    remember(state, Detection([FACE], REGION))
    assert AttemptState.from_json(state.to_json()).track_box == FACE.as_list()


def test_a_second_face_only_hog_sees_reaches_the_policy_within_n_frames_and_then_on_every_frame() -> None:
    """A face the context detector misses, appearing while the track holds: the periodic full
    pass finds it; from then on every frame gets the wide search (two faces are not a track)."""
    every = DetectorSettings().track_full_every
    engine = ScriptedEngine(region=[FACE], quick=[FACE], wide=[FACE, OTHER])
    state = AttemptState()
    remember(state, Detection([FACE], WIDE))
    faces = []
    for _ in range(3 * every):
        found = run(engine, track_of(state, engine), [scored(FACE)])  # type: ignore[arg-type]
        remember(state, found)
        faces.append(len(found.boxes))
    first = faces.index(2)
    assert first < every and faces[first:] == [2] * (len(faces) - first)
