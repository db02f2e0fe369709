"""The prompted-login study's segment finder, on synthetic yaw / EAR sequences (no shared data)."""

from __future__ import annotations

from ml.studies.prompted import blink_segments, find_segments, has_intermediate, neutral_yaw, plan_pair, turn_segments


def test_turn_left_out_and_back() -> None:
    yaws: list[float | None] = [0, 1, 0, 10, 25, 30, 15, 2, 0, 0]
    assert turn_segments(yaws, 1.0, 0.0) == [(2, 7)]
    assert turn_segments(yaws, -1.0, 0.0) == []
    assert has_intermediate(yaws, (2, 7), 1.0, 0.0)


def test_turn_right_without_return_is_not_a_segment() -> None:
    yaws: list[float | None] = [0, 0, -10, -25, -35, -40, -40]
    assert turn_segments(yaws, -1.0, 0.0) == []


def test_straight_jump_has_no_intermediate_pose() -> None:
    yaws: list[float | None] = [0, 0, 0, -30, -30, 0, 0]
    assert turn_segments(yaws, -1.0, 0.0) == [(2, 5)]
    assert not has_intermediate(yaws, (2, 5), -1.0, 0.0)


def test_missing_face_at_the_end_stops_the_segment() -> None:
    yaws: list[float | None] = [0, 0, 25, 30, None, None]
    assert turn_segments(yaws, 1.0, 0.0) == []


def test_neutral_yaw_ignores_the_turns() -> None:
    assert neutral_yaw([20, 21, 19, 45, 50, -30, 20]) == 20


def test_blink_dip_and_recovery() -> None:
    ears: list[float | None] = [0.12 if i == 6 else 0.3 for i in range(13)]
    assert blink_segments(ears) == [(2, 9)]
    assert blink_segments([0.3] * 13) == []
    # No recovery: eyes stay shut.
    assert blink_segments([0.3] * 6 + [0.1] * 7) == []


def test_plan_pair_prefers_chronological_order() -> None:
    yaws: list[float | None] = [float(v) for v in [0] * 4 + [10, 25, 10, 0] + [0] * 4 + [-10, -25, -10, 0] + [0] * 4]
    ears: list[float | None] = [0.3] * len(yaws)
    segs = find_segments(yaws, ears)
    assert plan_pair(segs, ["turn_left", "turn_right"]) == [(3, 7), (11, 15)]
    assert plan_pair(segs, ["blink", "turn_left"]) is None


def test_a_dip_of_the_eye_ratio_on_a_turned_face_is_not_a_blink() -> None:
    from ml.studies.prompted import frontal_blinks

    ears: list[float | None] = [0.12 if i == 6 else 0.3 for i in range(13)]
    frontal: list[float | None] = [0.0] * 13
    turned: list[float | None] = [0.0] * 3 + [50.0] * 7 + [0.0] * 3
    assert frontal_blinks(blink_segments(ears), frontal, 0.0) == [(2, 9)]
    assert frontal_blinks(blink_segments(ears), turned, 0.0) == []
    assert find_segments(turned, ears)["blink"] == []
