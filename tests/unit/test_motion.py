"""Motion, planarity, timing, track and face-size cues (webapp/challenge/motion.py, geometry.py)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import cv2
import numpy as np
import pytest

from ml.studies.flow import flow_planarity
from tests.support.heads import HEAD, PHOTO, project
from webapp.challenge.geometry import hysteresis, inter_ocular_distance, same_face_track, scale_ratio
from webapp.challenge.motion import (
    MotionSettings,
    MotionSummary,
    motion_is_planar,
    planarity,
    similarity_residual,
    update_motion,
    update_timing,
)
from webapp.challenge.steps import STEPS, Baseline, FaceSignals, StepFrame, StepSettings

SETTINGS = MotionSettings()


def test_similarity_residual_is_zero_for_a_similarity() -> None:
    src = project(HEAD)
    angle = math.radians(12)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    dst = 1.3 * src @ rot.T + np.array([25.0, -7.0])
    assert similarity_residual(src, dst).max() < 1e-9
    fit = planarity(src, dst)
    assert fit.similarity_rms < 1e-9 and fit.homography_rms < 1e-9


def test_a_tilted_photo_is_planar_and_a_turned_head_is_not() -> None:
    photo = planarity(project(PHOTO), project(PHOTO, yaw=35, pitch=-20, roll=5, shift=(30, -10)))
    head = planarity(project(HEAD), project(HEAD, yaw=20))
    # Both pairs move beyond a similarity (informative) ...
    assert photo.similarity_rms > SETTINGS.min_motion
    assert head.similarity_rms > SETTINGS.min_motion
    # ... but only the photo's motion is explained by one homography.
    assert photo.homography_rms < 1e-6 and photo.unexplained < 1e-4
    assert head.unexplained > SETTINGS.max_unexplained


def test_landmark_noise_keeps_a_tilted_photo_planar() -> None:
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(30):
        a = project(PHOTO) + rng.normal(0, 0.4, (68, 2))
        b = project(PHOTO, yaw=rng.choice([-1, 1]) * rng.uniform(25, 40), pitch=rng.uniform(-15, 15)) + rng.normal(0, 0.4, (68, 2))
        worst = max(worst, planarity(a, b).unexplained)
    assert worst <= SETTINGS.max_unexplained


def turn(points: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Landmarks and the yaw a pose estimator would report, for a turn and back."""
    return [(project(points, yaw=y), float(y)) for y in (0, 10, 20, 30, 40, 30, 20, 0)]


def test_motion_summary_is_small_json_and_flags_only_the_photo() -> None:
    photo_state = head_state = None
    for (p_lm, p_yaw), (h_lm, h_yaw) in zip(turn(PHOTO), turn(HEAD), strict=True):
        photo_state = update_motion(photo_state, p_lm, p_yaw)  # as if solvePnP were fooled
        head_state = update_motion(head_state, h_lm, h_yaw)
    assert photo_state is not None and head_state is not None
    text = json.dumps(photo_state.to_json())
    assert len(text) < 1200
    restored = MotionSummary.from_json(json.loads(text))
    assert restored == photo_state
    assert restored.frames == 8
    assert restored.turned >= 2 and restored.planar_turned == restored.turned
    assert motion_is_planar(restored)
    assert head_state.turned >= 4 and head_state.planar_turned == 0
    assert head_state.max_unexplained > SETTINGS.max_unexplained
    assert not motion_is_planar(head_state)


def test_no_planarity_verdict_without_a_turn() -> None:
    still = None
    for _ in range(10):
        still = update_motion(still, project(PHOTO), 0.0)
    assert still is not None and still.turned == 0 and not motion_is_planar(still)
    # A photo moved only in the image plane (shift, roll, zoom) is informative for nothing.
    moved = None
    for k in range(6):
        moved = update_motion(moved, project(PHOTO, roll=4 * k, shift=(10 * k, 0), distance=600 - 20 * k), 0.0)
    assert moved is not None and moved.turned == 0 and moved.max_motion < SETTINGS.min_motion


def test_one_turned_frame_is_not_enough_for_a_verdict() -> None:
    state = None
    for lm, yaw in [(project(PHOTO), 0.0), (project(PHOTO, yaw=30), 30.0)]:
        state = update_motion(state, lm, yaw)
    assert state is not None and state.turned == 1 and not motion_is_planar(state)
    assert motion_is_planar(state, min_turned=1)


def _texture(seed: int, size: tuple[int, int] = (240, 320)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 256, size).astype(np.uint8), (0, 0), 2.0)
    return cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX)


def test_flow_fits_one_homography_for_a_warped_picture() -> None:
    img = _texture(1)
    hmat = np.array([[1.02, 0.03, 4.0], [-0.02, 0.99, 2.0], [1e-5, 2e-5, 1.0]])
    warped = cv2.warpPerspective(img, hmat, (img.shape[1], img.shape[0]))
    fit = flow_planarity(img, warped, (100, 60, 220, 180))
    assert fit.points >= 30
    assert fit.motion > 0.01
    assert fit.inlier_share > 0.9


def test_flow_sees_two_layers_moving_differently() -> None:
    # Parallax: a central patch (the nose) shifts against its surroundings (the cheeks).
    img = _texture(2)
    moved = np.roll(img, 3, axis=1)
    moved[100:140, 140:180] = np.roll(img, -5, axis=1)[100:140, 140:180]
    planar = flow_planarity(img, np.roll(img, 3, axis=1), (100, 60, 220, 180))
    layered = flow_planarity(img, moved, (100, 60, 220, 180))
    assert layered.inlier_share < planar.inlier_share


def test_timing_statistics_and_too_fast_frames() -> None:
    times = [0.0, 0.21, 0.40, 0.62, 0.64, 0.85]
    state = None
    for t in times:
        state = update_timing(state, t, min_plausible_gap=0.05)
    assert state is not None
    json.dumps(asdict(state))
    gaps = np.diff(times)
    assert state.frames == 6
    assert state.fast == 1
    assert state.min_gap == pytest.approx(0.02)
    assert state.mean_gap == pytest.approx(gaps.mean(), abs=1e-3)


def test_inter_ocular_distance_and_scale_ratio() -> None:
    lm = project(HEAD)
    near = project(HEAD, distance=450.0)
    assert inter_ocular_distance(lm) == pytest.approx(640 * 70 / (600 + 18), rel=0.02)
    assert scale_ratio(inter_ocular_distance(near), inter_ocular_distance(lm)) == pytest.approx(618 / 468, rel=0.02)
    assert scale_ratio(1.0, 0.0) == 0.0


def test_hysteresis_holds_between_thresholds() -> None:
    states = []
    on = False
    for v in (0.1, 0.25, 0.31, 0.28, 0.22, 0.19, 0.25):
        on = hysteresis(v, on=0.3, off=0.2, was_on=on)
        states.append(on)
    assert states == [False, False, True, True, True, False, False]
    with pytest.raises(ValueError):
        hysteresis(0.5, on=0.2, off=0.3, was_on=False)


def test_same_face_track_accepts_motion_and_rejects_a_jump() -> None:
    a = project(HEAD)
    assert same_face_track(a, project(HEAD, yaw=10, shift=(15, 5)), dt=0.2).same
    jump = same_face_track(a, project(HEAD, shift=(220, 0)), dt=0.2)
    assert not jump.same and jump.shift > 1.5
    # the same jump is plausible after a long gap, within the cap
    assert same_face_track(a, project(HEAD, shift=(90, 0)), dt=1.0).same
    assert not same_face_track(a, project(HEAD, distance=300.0), dt=0.15).same  # size doubled in 150 ms
    boxed = same_face_track(a, a, 0.2, (0, 0, 10, 10), (5, 0, 15, 10))
    assert boxed.iou == pytest.approx(1 / 3)


def test_closer_step_uses_iod_and_needs_consecutive_frames() -> None:
    step, cfg = STEPS["closer"], StepSettings()
    base = Baseline(ear=0.3, yaw=0.0, face_px=150, iod=60.0)

    def sig(iod: float | None, px: int = 150, yaw: float = 0.0) -> FaceSignals:
        return FaceSignals(ear=0.3, yaw=yaw, pitch=0.0, face_px=px, iod=iod)

    progress: dict = {}
    assert "closer" in step.prompt(progress)
    results = [step.update(progress, StepFrame(s, base), cfg) for s in (sig(62), sig(75), sig(70), sig(75), sig(76))]
    assert results == [False, False, False, False, True]
    progress = {}
    assert not any(step.update(progress, StepFrame(sig(80, yaw=25), base), cfg) for _ in range(4))  # turned, not closer
    progress = {}
    no_iod = Baseline(ear=0.3, yaw=0.0, face_px=150)
    assert [step.update(progress, StepFrame(sig(None, px=190), no_iod), cfg) for _ in range(2)] == [False, True]


def test_near_profile_frames_are_neither_reference_nor_evidence() -> None:
    # solvePnP reading 66 degrees: dlib's points on a near-profile face are not judged.
    assert update_motion(None, project(PHOTO, yaw=-66), 66.0) is None
    ref = update_motion(None, project(PHOTO), 0.0)
    assert ref is not None
    assert update_motion(ref, project(PHOTO, yaw=-60), 60.0) is ref
    turned = update_motion(ref, project(PHOTO, yaw=-30), 30.0)
    assert turned is not None and turned.turned == 1 and turned.planar_turned == 1
