from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from tests.support.frames import photo_rgb
from tests.support.heads import project_model
from webapp.challenge.geometry import eye_aspect_ratio, head_pose
from webapp.challenge.steps import STEPS, Baseline, FaceSignals, StepFrame, StepSettings, pick_challenge
from webapp.face import FaceEngine


def _eyes(opening: float) -> np.ndarray:
    """68 landmarks whose two eyes are 30 px wide and ``opening`` px tall."""
    pts = np.zeros((68, 2), np.float32)
    for start, cx in ((36, 100.0), (42, 160.0)):
        pts[start + 0] = (cx - 15, 50)
        pts[start + 3] = (cx + 15, 50)
        pts[start + 1] = (cx - 5, 50 - opening / 2)
        pts[start + 2] = (cx + 5, 50 - opening / 2)
        pts[start + 5] = (cx - 5, 50 + opening / 2)
        pts[start + 4] = (cx + 5, 50 + opening / 2)
    return pts


def test_ear_scales_with_eye_opening() -> None:
    assert eye_aspect_ratio(_eyes(9.0)) == pytest.approx(0.3)
    assert eye_aspect_ratio(_eyes(3.0)) == pytest.approx(0.1)
    assert eye_aspect_ratio(_eyes(9.0) * 3) == pytest.approx(0.3)  # scale invariant


@pytest.mark.parametrize("yaw", [-30.0, -15.0, 0.0, 15.0, 30.0])
def test_head_pose_recovers_yaw(yaw: float) -> None:
    pose = head_pose(project_model(yaw), (480, 640))
    assert pose.yaw == pytest.approx(yaw, abs=0.5)
    assert abs(pose.pitch) < 0.5


def test_positive_yaw_means_nose_towards_image_right() -> None:
    # The subject turning to THEIR left moves the nose to the right of the (unmirrored) image.
    lm = project_model(20.0)
    eyes_mid = (lm[36, 0] + lm[45, 0]) / 2
    assert lm[30, 0] > eyes_mid + 5


@pytest.mark.slow  # dlib: landmarks of a real photo
def test_frontal_photo_has_small_yaw() -> None:
    rgb = photo_rgb("obama.jpg")
    engine = FaceEngine()
    obs = engine.observe(rgb, engine.detect(rgb)[0], encode=False)
    pose = head_pose(obs.landmarks, rgb.shape[:2])
    assert abs(pose.yaw) < 15
    assert 0.2 < eye_aspect_ratio(obs.landmarks) < 0.45


@pytest.mark.slow  # dlib: landmarks of a real photo
def test_turned_photo_and_its_mirror() -> None:
    # In obama2.jpg the subject looks towards his right (the nose points to the image's left).
    rgb = photo_rgb("obama2.jpg")
    engine = FaceEngine()
    yaws = []
    for img in (rgb, np.ascontiguousarray(rgb[:, ::-1])):
        obs = engine.observe(img, engine.detect(img)[0], encode=False)
        yaws.append(head_pose(obs.landmarks, img.shape[:2]).yaw)
    assert yaws[0] < -15
    assert yaws[1] > 15


BASE = Baseline(ear=0.3, yaw=2.0, face_px=150)
CFG = StepSettings()


def _run(step_name: str, signals: list[FaceSignals]) -> list[bool]:
    step, progress = STEPS[step_name], {}
    return [step.update(progress, StepFrame(s, BASE), CFG) for s in signals]


def _sig(ear: float = 0.3, yaw: float = 2.0) -> FaceSignals:
    return FaceSignals(ear=ear, yaw=yaw, pitch=0.0, face_px=150)


def test_blink_needs_closed_then_open() -> None:
    assert _run("blink", [_sig(), _sig(0.1), _sig(0.29)]) == [False, False, True]
    assert not any(_run("blink", [_sig(), _sig(0.26), _sig(0.3)] * 5))  # 0.26 > 0.75 x 0.3: not closed
    assert not any(_run("blink", [_sig(0.1)] * 10))  # eyes never reopen


def test_turn_left_and_back() -> None:
    assert _run("turn_left", [_sig(yaw=10), _sig(yaw=25), _sig(yaw=12), _sig(yaw=4)]) == [False, False, False, True]
    assert not any(_run("turn_left", [_sig(yaw=-30), _sig(yaw=2)]))  # wrong side
    assert _run("turn_right", [_sig(yaw=-10), _sig(yaw=-20), _sig(yaw=0)]) == [False, False, True]
    # Straight from frontal to turned and back, with no pose in between: not a turning head.
    assert _run("turn_right", [_sig(yaw=-20), _sig(yaw=0)]) == [False, False]


def test_step_prompts_follow_progress() -> None:
    progress: dict = {}
    step = STEPS["turn_right"]
    assert "right" in step.prompt(progress)
    step.update(progress, StepFrame(_sig(yaw=-10), BASE), CFG)
    assert step.prompt(progress) == "A little more."
    step.update(progress, StepFrame(_sig(yaw=-30), BASE), CFG)
    assert "enough" in step.prompt(progress) and "back" in step.prompt(progress)
    step.update(progress, StepFrame(_sig(yaw=0), BASE), CFG)
    assert "enough" in step.prompt(progress)  # turned, then an intermediate pose missing: still turned
    fast: dict = {}
    step.update(fast, StepFrame(_sig(yaw=-30), BASE), CFG)
    step.update(fast, StepFrame(_sig(yaw=2), BASE), CFG)
    assert "slowly" in step.prompt(fast)


def test_pick_challenge_is_random_and_valid() -> None:
    catalogue = ["blink", "turn_left", "turn_right"]
    seen = Counter(tuple(pick_challenge(catalogue, 2)) for _ in range(600))
    assert all(len(set(c)) == 2 and set(c) <= set(catalogue) for c in seen)
    assert len(seen) == 6  # every ordered pair shows up
    assert min(seen.values()) > 50  # roughly uniform (expected 100 each)
    assert pick_challenge([], 2) == []
    with pytest.raises(ValueError):
        pick_challenge(["fly"], 1)


def test_a_near_frontal_photo_cannot_be_both_the_pose_in_between_and_the_return() -> None:
    # Seen in a slideshow: turned photo, then a jittered frontal one that solvePnP reads at 7
    # degrees off the baseline. It is "back", not "in between": the turn does not count.
    base_yaw = BASE.yaw
    assert _run("turn_right", [_sig(yaw=base_yaw - 28), _sig(yaw=base_yaw - 7)]) == [False, False]
