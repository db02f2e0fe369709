"""Continuity cues (webapp/challenge/continuity.py) on synthetic frames made here."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from webapp.challenge.continuity import (
    FACE_JUMP,
    POSE_JUMP,
    SCENE_BREAK,
    ContinuitySettings,
    FrameSignature,
    breaks,
    compare,
    frame_signature,
    pose_excess,
)

SETTINGS = ContinuitySettings()
W, H = 480, 360
BOX = (190, 100, 290, 210)  # face box (left, top, right, bottom), px


def texture(seed: int, w: int = W + 40, h: int = H + 40) -> np.ndarray:
    """A room-like grey background: blurred noise at a few scales (walls, shelves, a window)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w), np.float32)
    for sigma, amp in ((40, 60), (12, 35), (4, 15)):
        layer = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), sigma)
        img += amp * layer / (layer.std() + 1e-6)
    return np.clip(img + 120, 0, 255).astype(np.uint8)


def frame(bg: np.ndarray, dx: int = 0, dy: int = 0, gain: float = 1.0, seed: int = 0, face_level: int = 180) -> np.ndarray:
    """A 480x360 RGB camera frame: the background seen from a camera shifted by (dx, dy), exposure
    ``gain``, sensor noise, and a bright "face" ellipse inside BOX (plus a body below it)."""
    rng = np.random.default_rng(seed)
    view = bg[20 + dy : 20 + dy + H, 20 + dx : 20 + dx + W].astype(np.float32) * gain
    x0, y0, x1, y1 = BOX
    cv2.ellipse(view, ((x0 + x1) // 2, (y0 + y1) // 2), ((x1 - x0) // 2, (y1 - y0) // 2), 0, 0, 360, float(face_level), -1)
    cv2.rectangle(view, (x0 - 30, y1 + 10), (x1 + 30, H), float(face_level - 60), -1)
    view += rng.normal(0, 2.0, view.shape).astype(np.float32)
    grey = np.clip(view, 0, 255).astype(np.uint8)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)


def encoding(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(0, 0.09, 128)
    return np.asarray(v, np.float64)


def sig(img: np.ndarray, yaw: float = 0.0, pitch: float = 0.0, enc: np.ndarray | None = None, box: tuple[int, ...] = BOX) -> FrameSignature:
    return frame_signature(img, box, yaw, pitch, enc)


def test_a_smooth_live_like_sequence_never_breaks() -> None:
    bg = texture(1)
    enc = encoding(5)
    rng = np.random.default_rng(2)
    prev = sig(frame(bg, seed=0), yaw=0.0, enc=enc)
    yaw = 0.0
    for k in range(1, 25):
        # The camera drifts by a few pixels, exposure creeps up, the head turns at 60 deg/s.
        yaw = 25.0 * math.sin(k / 6.0)
        cur = sig(
            frame(bg, dx=k % 5 - 2, dy=(k // 3) % 3 - 1, gain=1.0 + 0.01 * k, seed=k),
            yaw=yaw,
            pitch=float(rng.normal(0, 1)),
            enc=enc + rng.normal(0, 0.01, 128),
        )
        c = compare(prev, cur, 0.15, SETTINGS)
        assert breaks(c, SETTINGS) == [], (k, c)
        assert math.isfinite(c.scene) and c.scene < SETTINGS.scene.max_residual / 2
        prev = cur


def test_a_brighter_shifted_background_is_the_same_scene() -> None:
    bg = texture(3)
    c = compare(sig(frame(bg)), sig(frame(bg, dx=6, dy=-4, gain=1.25, seed=1)), 0.2, SETTINGS)
    assert SCENE_BREAK not in breaks(c, SETTINGS)
    # the shift search found the camera motion (6 px = 0.3 cells across)
    assert abs(c.shift[0] + 0.3) <= 0.2 and abs(c.shift[1] - 0.2) <= 0.2


def test_a_different_background_is_a_scene_break() -> None:
    c = compare(sig(frame(texture(1))), sig(frame(texture(2), seed=1)), 0.15, SETTINGS)
    assert SCENE_BREAK in breaks(c, SETTINGS)
    assert c.scene > SETTINGS.scene.max_residual


def test_only_the_face_changing_is_not_a_scene_break() -> None:
    bg = texture(4)
    c = compare(sig(frame(bg, face_level=200)), sig(frame(bg, face_level=90, seed=1)), 0.15, SETTINGS)
    assert breaks(c, SETTINGS) == []


def test_a_face_filling_the_frame_leaves_the_scene_unmeasured() -> None:
    bg = texture(5)
    big = (20, 10, 460, 350)
    c = compare(sig(frame(bg), box=big), sig(frame(texture(6)), box=big), 0.15, SETTINGS)
    assert math.isnan(c.scene) and SCENE_BREAK not in breaks(c, SETTINGS)


@pytest.mark.parametrize(("dt", "jump"), [(0.1, True), (0.12, True), (0.5, False), (1.0, False)])
def test_a_yaw_jump_is_flagged_only_when_too_fast_for_the_time_delta(dt: float, jump: bool) -> None:
    # -20 -> +45 degrees: 65 degrees; allowed 40 + 200 * dt (60 at 0.1 s, 140 at 0.5 s).
    img = frame(texture(7))
    c = compare(sig(img, yaw=-20.0), sig(img, yaw=45.0), dt, SETTINGS)
    assert (POSE_JUMP in breaks(c, SETTINGS)) is jump
    assert c.yaw_change == pytest.approx(65.0)


def test_pose_near_profile_is_not_judged() -> None:
    # solvePnP flips sign near profile (71 -> -44 degrees in one live frame): not evidence.
    img = frame(texture(7))
    c = compare(sig(img, yaw=70.0), sig(img, yaw=-44.0), 0.07, SETTINGS)
    assert math.isnan(pose_excess(c, SETTINGS.pose)) and breaks(c, SETTINGS) == []


def test_a_pitch_jump_is_flagged_too() -> None:
    img = frame(texture(7))
    c = compare(sig(img, pitch=0.0), sig(img, pitch=-40.0), 0.1, SETTINGS)
    assert breaks(c, SETTINGS) == [POSE_JUMP]


def test_another_face_descriptor_is_a_face_jump_and_a_nearby_one_is_not() -> None:
    img = frame(texture(8))
    a = encoding(1)
    near = a + np.random.default_rng(3).normal(0, 0.01, 128)
    c_near = compare(sig(img, enc=a), sig(img, enc=near), 0.15, SETTINGS)
    c_far = compare(sig(img, enc=a), sig(img, enc=encoding(2)), 0.15, SETTINGS)
    assert FACE_JUMP not in breaks(c_near, SETTINGS)
    assert breaks(c_far, SETTINGS) == [FACE_JUMP]
    # without descriptors the cue is unmeasured, never a break
    assert math.isnan(compare(sig(img), sig(img, enc=a), 0.15, SETTINGS).face)


def test_signature_json_round_trip_and_size() -> None:
    s = sig(frame(texture(9)), yaw=12.345, pitch=-3.21, enc=encoding(4))
    text = json.dumps(s.to_json())
    assert len(text) < 1000
    back = FrameSignature.from_json(json.loads(text))
    assert np.array_equal(back.thumb, s.thumb) and back.thumb.shape == (18, 24)
    assert back.box == pytest.approx(s.box, abs=1e-4)
    assert back.yaw == pytest.approx(12.35) and back.pitch == pytest.approx(-3.21)
    assert back.encoding is not None and s.encoding is not None
    assert np.abs(back.encoding - s.encoding).max() < 1e-9  # quantised once, at signature time
    assert np.linalg.norm(back.encoding - encoding(4)) < 0.02  # int8 storage costs < 0.02 distance
    c = compare(s, back, 0.1, SETTINGS)
    assert c.scene == pytest.approx(0.0, abs=1e-3) and c.face == pytest.approx(0.0) and breaks(c, SETTINGS) == []
    no_enc = FrameSignature.from_json(json.loads(json.dumps(sig(frame(texture(9))).to_json())))
    assert no_enc.encoding is None


def test_the_masked_shift_stack_is_the_full_stack_at_the_kept_cells() -> None:
    """scene_change interpolates only the background cells it compares: the very values (bit
    for bit) of the full stack at those cells, for every shift of both search grids."""
    from webapp.challenge.continuity import _grid, _shift_stack

    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (18, 24)).astype(np.float32)
    keep = rng.random((18, 24)) > 0.55
    for shifts in (_grid((0.0, 0.0), 3.0, 0.5), _grid((1.25, -2.5), 0.375, 0.125)):
        full = _shift_stack(img, shifts)
        assert full.shape == (len(shifts), 18, 24)
        assert np.array_equal(_shift_stack(img, shifts, keep), full[:, keep])
