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


def test_rest_frames_are_frontal_and_open_eyed() -> None:
    from ml.studies.prompted import rest_frames

    yaws: list[float | None] = [0.0] * 6 + [30.0] + [0.0] * 12 + [None]
    ears: list[float | None] = [0.3, 0.3, 0.24, 0.3, 0.3, 0.3, 0.45] + [0.3] * 2 + [0.1] + [0.3] * 10
    rest = rest_frames(yaws, ears, 0.0)
    # Closing (0.24 < 0.85 x 0.3), turned (its inflated 0.45 is no open level), closed, no face.
    assert [i for i, r in enumerate(rest) if not r] == [2, 6, 9, 19]
    # Too few rest frames (a jittery replay): any frame within 10 degrees of neutral rests.
    few = rest_frames([0.0, 8.0, 30.0, 0.0], [0.3, 0.1, 0.3, 0.3], 0.0)
    assert few == [True, True, False, True]


def _drive(player: object, answers: dict[int, str | None]) -> list[tuple[int, str | None]]:
    """Play ``player`` against a fake server whose answer to the n-th frame names ``answers[n]``
    (the last named step holds until the next entry): [(clip index, step asked when it was sent)]."""
    from ml.studies.prompted import Playback

    assert isinstance(player, Playback)
    out: list[tuple[int, str | None]] = []
    step: str | None = None
    for n in range(1, 40):
        index = player.next(step)
        if index is None:
            break
        out.append((index, step))
        step = answers.get(n, step)
    return out


def test_the_step_is_acted_only_after_the_server_asks_however_long_the_baseline() -> None:
    from ml.studies.prompted import Playback

    rest = [True] * 10 + [False] * 8 + [True] * 10
    # The blink segment (10-17) follows the rest frames at once; the server takes 5 frames
    # (a frame without a usable face, say) before it asks for the blink.
    player = Playback(rest, {"blink": (10, 17)}, "blink")
    sent = _drive(player, {5: "blink", 12: None})
    assert player.start == 7  # the rest frames right before the move
    waited = [i for i, step in sent if step is None]
    # Held still for 5 frames: the 3 planned, then the nearest other rest frames (not the blink).
    assert waited[:5] == [7, 8, 9, 6, 5]
    first_act = next(k for k, (_i, step) in enumerate(sent) if step == "blink")
    assert first_act == 5 and sent[5][0] == 10  # the segment starts only once the blink is asked
    assert [i for i, _s in sent[5:12]] == list(range(10, 17))
    # Done after frame 12: the person holds still again, the rest of the segment is skipped.
    assert all(rest[i] for i, _s in sent[12:])
    assert len({i for i, _s in sent}) == len(sent)  # nothing sent twice


def test_a_far_segment_is_reached_by_a_splice_and_waiting_skips_movements() -> None:
    from ml.studies.prompted import Playback

    rest = [True] * 6 + [False] * 30 + [True] * 10
    player = Playback(rest, {"turn_left": (36, 40), "turn_right": (2, 5)}, "turn_right")
    sent = _drive(player, {3: "turn_right", 8: "turn_left", 12: None})
    assert [i for i, _s in sent[:3]] == [0, 1, 2]
    # turn_right asked after frame 3: its segment starts at 2, already sent, so it plays on from 3.
    assert [i for i, _s in sent[3:8]] == [3, 4, 5, 6, 7]
    # turn_left asked after frame 8: a jump to its segment.
    assert sent[8][0] == 36 and {"from": 8, "to": 36, "for": "turn_left"} in player.splices
    # After the last step the person holds still again: rest frames only.
    assert all(rest[i] for i, step in sent[12:])


def test_once_more_slowly_replays_the_turn_from_the_frames_in_between_once() -> None:
    from ml.studies.prompted import Playback

    rest = [True] * 4 + [False] * 6 + [True] * 10
    player = Playback(rest, {"turn_left": (4, 9)}, "turn_left", slow={"turn_left": [-1, -2, -3]})
    keys = [player.next(None) for _ in range(3)]
    keys.append(player.next("turn_left"))
    keys.append(player.next("turn_left", "Once more, slowly: turn your head to your left."))
    keys += [player.next("turn_left", "Once more, slowly: turn your head to your left.") for _ in range(3)]
    assert keys == [1, 2, 3, 4, -1, -2, -3, 10]  # the slow frames, then on after the segment
    assert player.slowed == ["turn_left"]
    assert player.next("turn_left", "Once more, slowly: turn your head to your left.") == 11  # only once
