"""Sign-in guidance (webapp/login/hints.py): what the frame measurements ask the user to change,
and the step's time left read from the policy's own state and budgets."""

from __future__ import annotations

import numpy as np
import pytest

from webapp.face.types import Box, Quality
from webapp.login import hints
from webapp.login.hints import FrameLook, GuidanceSettings, hints_for, look_at
from webapp.login.policy import COLLECTING, Policy, Verdict
from webapp.login.state import AttemptState

CFG = GuidanceSettings()


def _look(**kw: float) -> FrameLook:
    base = {
        "faces": 1,
        "frame_grey": 120.0,
        "face_share": 0.3,
        "offset_x": 0.0,
        "offset_y": 0.0,
        "face_grey": 120.0,
        "background_grey": 110.0,
        "sharpness": 200.0,
    }
    base.update(kw)
    return FrameLook(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("look", "expected"),
    [
        (_look(), []),
        (_look(face_share=0.12), ["move_closer"]),
        (_look(face_grey=30.0, background_grey=25.0, sharpness=3.0), ["too_dark"]),  # dark, not blurred
        (_look(face_share=0.75), ["move_back"]),
        (_look(offset_x=0.25), ["off_centre"]),
        (_look(offset_y=-0.3), ["off_centre"]),
        (_look(face_grey=30.0, background_grey=25.0), ["too_dark"]),
        (_look(face_grey=240.0, background_grey=240.0), ["too_bright"]),
        (_look(face_grey=80.0, background_grey=200.0), ["backlit"]),
        (_look(sharpness=3.0), ["blurred"]),
        (_look(face_grey=30.0, background_grey=25.0, face_share=0.1, offset_x=0.3), ["too_dark", "move_closer", "off_centre"]),
        (FrameLook(faces=0, frame_grey=20.0), ["too_dark", "no_face"]),
        (FrameLook(faces=0, frame_grey=120.0), ["no_face"]),
        (FrameLook(faces=0, frame_grey=120.0, tracked=True), []),  # a head turned away mid-step
        (FrameLook(faces=2, frame_grey=120.0), ["multiple_faces"]),
        (FrameLook(faces=3, frame_grey=240.0), ["multiple_faces", "too_bright"]),
        (None, []),
    ],
)
def test_hints_for_each_measurement(look: FrameLook | None, expected: list[str]) -> None:
    assert hints_for(look, CFG) == expected


def test_face_fits_only_with_one_well_placed_face() -> None:
    assert hints.face_fits(_look(), [])
    assert hints.face_fits(_look(face_grey=30.0), ["too_dark"])  # placed right, just dark
    assert not hints.face_fits(_look(face_share=0.1), ["move_closer"])
    assert not hints.face_fits(FrameLook(faces=2, frame_grey=100.0), ["multiple_faces"])
    assert not hints.face_fits(None, [])


def test_look_at_measures_size_offset_and_light() -> None:
    rgb = np.full((480, 640, 3), 200, np.uint8)  # a bright background
    rgb[100:260, 400:560] = 60  # a dark face, right of centre
    box = Box(400, 100, 560, 260)
    look = look_at(rgb, [box], Quality(face_px=160, sharpness=90.0, brightness=60.0))
    assert look.faces == 1
    assert look.face_share == pytest.approx(160 / 640)
    assert look.offset_x == pytest.approx((480 - 320) / 640)
    assert look.offset_y == pytest.approx((180 - 240) / 480)
    assert look.background_grey is not None and look.background_grey > 190
    assert hints_for(look, CFG) == ["backlit", "off_centre"]


def test_look_at_without_one_face_keeps_the_frame_light_only() -> None:
    dark = np.full((360, 480, 3), 25, np.uint8)
    assert look_at(dark, [], None) == FrameLook(faces=0, frame_grey=25.0)
    assert look_at(dark, [Box(0, 0, 90, 90), Box(200, 0, 290, 90)], None).faces == 2


def _running(step_started_t: float | None, step_index: int = 0) -> AttemptState:
    return AttemptState(baseline_ears=[0.3] * 3, step_index=step_index, step_started_t=step_started_t)


def test_step_seconds_left_counts_down_on_the_server_clock() -> None:
    policy = Policy(step_max_seconds=8.0, blink_step_max_seconds=6.0, baseline_frames=3)
    assert hints.step_seconds_left(_running(2.0), ["turn_left", "blink"], policy, 5.0) == 5.0
    assert hints.step_seconds_left(_running(2.0), ["blink", "turn_left"], policy, 5.0) == 3.0
    assert hints.step_seconds_left(_running(2.0), ["turn_left"], policy, 30.0) == 0.0
    assert hints.step_seconds_left(_running(None), ["turn_left"], policy, 30.0) == 8.0  # not started yet
    assert hints.step_seconds_left(AttemptState(), ["turn_left"], policy, 1.0) is None  # baseline still running
    assert hints.step_seconds_left(_running(2.0, step_index=1), ["turn_left"], policy, 3.0) is None  # all done


def test_guidance_names_the_missed_step_only_for_a_challenge_denial() -> None:
    policy = Policy()
    state = _running(1.0, step_index=1)
    failed = hints.guidance(None, state, ["blink", "turn_right"], policy, Verdict("denied", "challenge_failed", "x"), 9.0, CFG)
    assert failed.missed_step == "turn_right" and failed.hints == [] and failed.step_seconds_left is None
    spoof = hints.guidance(None, state, ["blink", "turn_right"], policy, Verdict("denied", "spoof", "x"), 9.0, CFG)
    assert spoof.missed_step is None
    running = hints.guidance(_look(face_share=0.1), state, ["blink", "turn_right"], policy, COLLECTING, 3.0, CFG)
    assert running.hints == ["move_closer"] and not running.face_fits and running.step_seconds_left == 6.0
