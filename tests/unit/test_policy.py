"""The decision policy (shared/spec/decision-policy.md) as pure functions."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from webapp.challenge.steps import FaceSignals
from webapp.login import policy as pol
from webapp.login.state import AttemptState
from webapp.replay import ReplayFacts

# Five liveness frames keep the hand-written frame lists short; the default (10) is a
# separate test below.
POLICY = pol.Policy(live_threshold=0.5, live_min_frames=5)
_sha = (hashlib.sha256(str(i).encode()).hexdigest() for i in itertools.count())


def frame(
    distance: float = 0.3, live: float = 0.9, ear: float = 0.3, yaw: float = 0.0, faces: int = 1, sha: str | None = None
) -> pol.FrameFacts:
    signals = FaceSignals(ear=ear, yaw=yaw, pitch=0.0, face_px=150) if faces == 1 else None
    return pol.FrameFacts(
        sha256=sha or next(_sha),
        faces=faces,
        distance=distance if faces == 1 else None,
        live_score=live if faces == 1 else None,
        signals=signals,
    )


def run(challenge: list[str], frames: list[pol.FrameFacts], policy: pol.Policy = POLICY) -> tuple[pol.Verdict, AttemptState]:
    state = AttemptState()
    verdict = pol.COLLECTING
    for seq, f in enumerate(frames, 1):
        verdict = pol.apply_frame(state, challenge, f, seq, policy)
        if verdict.state == "collecting":
            verdict = pol.decide(state, challenge, policy)
        if verdict.state != "collecting":
            break
    return verdict, state


def many(n: int, **kw: float) -> list[pol.FrameFacts]:
    """n distinct frames (distinct bytes) with the same signals."""
    return [frame(**kw) for _ in range(n)]  # type: ignore[arg-type]


def baseline() -> list[pol.FrameFacts]:
    return many(3)


def blink() -> list[pol.FrameFacts]:
    return [frame(ear=0.1), frame(ear=0.3)]


def left() -> list[pol.FrameFacts]:
    """A head turning: through an intermediate pose, past the turn, back."""
    return [frame(yaw=12), frame(yaw=25), frame(yaw=1)]


def right() -> list[pol.FrameFacts]:
    return [frame(yaw=-12), frame(yaw=-25), frame(yaw=-1)]


def test_grant_after_baseline_and_steps_in_order() -> None:
    verdict, state = run(["blink", "turn_left"], baseline() + blink() + left())
    assert verdict.state == "granted"
    assert [s["step"] for s in state.steps_done] == ["blink", "turn_left"]
    assert state.matched_frames == 8


def test_steps_out_of_order_do_not_count() -> None:
    # Turning left first, while the challenge asks for a blink first, does nothing.
    verdict, state = run(["blink", "turn_left"], baseline() + left() + many(3))
    assert verdict.state == "collecting"
    assert state.step_index == 0


def test_still_face_fails_the_challenge_after_the_step_budget_on_the_server_clock() -> None:
    # At the page's pace (8 frames a second) the step gets its seconds, not a number of frames.
    paced = [replace(f, t=i * 0.125) for i, f in enumerate(baseline() + many(100))]
    verdict, state = run(["turn_right"], paced)
    assert verdict == pol.Verdict("denied", "challenge_failed", verdict.detail)
    assert state.step_started_t == 3 * 0.125
    assert (state.face_frames - 1) * 0.125 - state.step_started_t == POLICY.step_max_seconds
    # The same budget holds for a slower client: fewer frames, the same seconds.
    slow = [replace(f, t=i * 0.5) for i, f in enumerate(baseline() + many(40))]
    verdict, state = run(["turn_right"], slow)
    assert verdict.reason == "challenge_failed" and state.step_frames == POLICY.step_max_seconds / 0.5 + 1


def test_a_stream_faster_than_a_camera_cannot_buy_more_frames() -> None:
    verdict, state = run(["turn_right"], baseline() + many(200))  # every frame at t = 0
    assert verdict.reason == "challenge_failed"
    assert state.step_frames == POLICY.step_max_frames


def test_a_turn_without_intermediate_poses_does_not_count() -> None:
    # A frontal photo, then a turned one, then the frontal again: a slideshow, not a head.
    verdict, state = run(["turn_left"], [*baseline(), frame(yaw=25), frame(yaw=1), *many(2)])
    assert verdict.state == "collecting" and state.step_index == 0
    assert state.step_progress.get("too_fast") is True
    assert "slowly" in pol.prompt_of(state, ["turn_left"], POLICY, pol.COLLECTING, 1)
    # The same person then turns for real within the budget: granted.
    verdict, _ = run(["turn_left"], [*baseline(), frame(yaw=25), frame(yaw=1), *left()])
    assert verdict.state == "granted"
    # An intermediate pose on the way back counts too.
    verdict, _ = run(["turn_left"], [*baseline(), frame(yaw=25), frame(yaw=10), frame(yaw=2)])
    assert verdict.state == "granted"


def test_one_frame_is_never_both_in_between_and_back() -> None:
    # 11 degrees is inside the in-between band and inside the return tolerance: it counts as the
    # pose in between, and only a later frame can be the one that is back.
    verdict, state = run(["turn_left"], [*baseline(), frame(yaw=25), frame(yaw=11)])
    assert verdict.state == "collecting" and state.step_progress.get("partial") is True
    verdict, _ = run(["turn_left"], [*baseline(), frame(yaw=25), frame(yaw=11), frame(yaw=11)])
    assert verdict.state == "granted"


def test_a_person_who_stops_short_of_the_baseline_is_back() -> None:
    # sivakumar/Jaya: out past the turn, back through the middle, settling about 10 degrees off.
    yaws = [-8, -20, -46, -51, -25, -17, -14, -10, -10]
    verdict, _ = run(["turn_right"], [*baseline(), *(frame(yaw=y) for y in yaws)])
    assert verdict.state == "granted"


def test_a_slideshow_retrying_a_turn_fails_after_a_few_fast_returns() -> None:
    def fast(times: int) -> list[pol.FrameFacts]:
        return [f for _ in range(times) for f in (frame(yaw=25), frame(yaw=1))]

    swaps = fast(POLICY.steps.turn_max_fast_returns)
    verdict, _ = run(["turn_left"], [*baseline(), *swaps, *left()])
    assert verdict == pol.Verdict("denied", "challenge_failed", verdict.detail)
    assert "no pose in between 3 times" in (verdict.detail or "")
    # One fewer and the real turn that follows still counts.
    verdict, _ = run(["turn_left"], [*baseline(), *swaps[:-2], *left()])
    assert verdict.state == "granted"
    # 0 switches the cap off.
    off = replace(POLICY, steps=replace(POLICY.steps, turn_max_fast_returns=0))
    verdict, _ = run(["turn_left"], [*baseline(), *fast(6), *left()], off)
    assert verdict.state == "granted"


def trace(challenge: list[str], frames: list[pol.FrameFacts], policy: pol.Policy = POLICY) -> list[tuple[str, str | None]]:
    """(state, reason) after each frame, as the service answers them."""
    state, out = AttemptState(), []
    for seq, f in enumerate(frames, 1):
        verdict = pol.apply_frame(state, challenge, f, seq, policy)
        if verdict.state == "collecting":
            verdict = pol.decide(state, challenge, policy)
        out.append((verdict.state, verdict.reason))
        if verdict.state != "collecting":
            break
    return out


def test_someone_else_is_denied_at_the_decision_not_on_the_frame_that_shows_it() -> None:
    frames = [*baseline(), frame(distance=0.8), *blink()]
    seen = trace(["blink"], frames)
    # The stranger's frame (4) gets "collecting" like any other; the denial comes when the
    # challenge is done and the liveness frames are in (frame 6: the blink's reopening).
    assert seen == [("collecting", None)] * 5 + [("denied", "no_match")]
    verdict, state = run(["blink"], frames)
    assert "someone else" in (verdict.detail or "") and state.worst_distance == 0.8


def test_someone_else_is_never_granted_even_with_enough_matched_frames() -> None:
    verdict, state = run(["blink"], [*baseline(), frame(distance=0.8), *blink(), *many(5)])
    assert state.matched_frames >= POLICY.min_matched_frames
    assert (verdict.state, verdict.reason) == ("denied", "no_match")
    verdict, _ = run([], [frame(distance=0.8), *many(8)])  # passive-only mode too
    assert (verdict.state, verdict.reason) == ("denied", "no_match")


def test_someone_else_waits_for_the_liveness_frames_and_a_failing_score_is_spoof() -> None:
    short = replace(POLICY, live_min_frames=8)
    seen = trace(["blink"], [*baseline(), frame(distance=0.8), *blink(), *many(3)], short)
    assert seen[:7] == [("collecting", None)] * 7 and seen[7] == ("denied", "no_match")  # 8 live frames
    verdict, _ = run(["blink"], [*many(3, live=0.1), frame(distance=0.8, live=0.1), frame(ear=0.1, live=0.1), frame(live=0.1)])
    assert (verdict.state, verdict.reason) == ("denied", "spoof")
    assert "someone else" in (verdict.detail or "")


def test_unknown_user_runs_the_same_course_as_a_real_account_shown_someone_else() -> None:
    # A photo of the victim against a missing account (an infinite distance: the decoy template)
    # and a stranger against a real one: the same answers frame by frame, so the answers never
    # tell whether the account exists.
    unknown = trace(["blink"], [*many(3, distance=float("inf")), frame(ear=0.1, distance=float("inf")), frame(distance=float("inf"))])
    stranger = trace(["blink"], [*many(3, distance=0.9), frame(ear=0.1, distance=0.9), frame(distance=0.9)])
    assert unknown == stranger == [("collecting", None)] * 4 + [("denied", "no_match")]
    # Until the challenge is done it is only collecting; out of budget, the usual reason.
    verdict, state = run(["blink"], [frame(distance=float("inf"))])
    assert verdict.state == "collecting"
    assert pol.out_of_budget(state, ["blink"], POLICY, "frame_cap").reason == "no_face"
    _, state = run(["blink"], many(6, distance=float("inf")))
    assert pol.out_of_budget(state, ["blink"], POLICY, "frame_cap").reason == "challenge_failed"


def test_inconclusive_distance_is_not_counted_but_not_fatal() -> None:
    verdict, state = run(["blink"], many(3, distance=0.55) + blink())
    assert verdict.state == "collecting"
    assert state.matched_frames == 2 and state.step_index == 1  # only the two blink frames matched
    verdict, state = run(["blink"], many(3, distance=0.55) + blink() + many(3))
    assert verdict.state == "granted"


def test_two_faces_deny_once_they_stay_in_view() -> None:
    frames = [*baseline(), *(frame(faces=2) for _ in range(40))]
    verdict, state = run(["blink"], [replace(f, t=i * 0.125) for i, f in enumerate(frames)])
    assert verdict.reason == "multiple_faces"
    assert state.multi_face_since == 3 * 0.125 and state.multi_face_frames == POLICY.multi_face_grace_seconds / 0.125 + 1
    # A fast stream of them is denied by the frame cap.
    verdict, state = run(["blink"], [*baseline(), *(frame(faces=2) for _ in range(30))])
    assert verdict.reason == "multiple_faces" and state.multi_face_frames == POLICY.multi_face_grace_frames


def test_a_passing_second_face_does_not_deny() -> None:
    frames = [*baseline(), frame(faces=2), frame(faces=2), *blink(), *many(3)]
    verdict, state = run(["blink"], [replace(f, t=i * 0.125) for i, f in enumerate(frames)])
    assert verdict.state == "granted"
    assert state.multi_face_since is None and state.multi_face_frames == 0
    shown = pol.AttemptState()
    assert "more than one face" in pol.prompt_of(shown, ["blink"], POLICY, pol.COLLECTING, 2)


def test_frames_without_face_are_ignored() -> None:
    verdict, state = run(["blink"], many(10, faces=0) + baseline() + blink())
    assert verdict.state == "granted"
    assert state.no_face_frames == 10


def test_low_live_score_denies_as_spoof_once_evidence_is_complete() -> None:
    frames = [frame(live=0.2) for _ in range(3)] + [frame(ear=0.1, live=0.2), frame(live=0.2)]
    verdict, _ = run(["blink"], frames)
    assert (verdict.state, verdict.reason) == ("denied", "spoof")


def test_live_threshold_is_on_the_mean() -> None:
    lives = [0.9, 0.9, 0.3, 0.3, 0.3]  # mean 0.54 >= 0.5
    frames = [frame(live=v) for v in lives[:3]] + [frame(ear=0.1, live=lives[3]), frame(live=lives[4])]
    assert run(["blink"], frames)[0].state == "granted"
    strict = replace(POLICY, live_threshold=0.6)
    assert run(["blink"], frames, strict)[0].reason == "spoof"


def test_byte_identical_frames_beyond_the_allowance_are_replay() -> None:
    same = "ab" * 32
    frames = [frame(sha=same) for _ in range(POLICY.max_duplicate_frames + 2)]
    verdict, state = run(["blink"], frames)
    assert verdict.reason == "replay"
    assert state.duplicate_frames == POLICY.max_duplicate_frames + 1


def test_frame_seen_in_another_attempt_is_replay() -> None:
    f = pol.FrameFacts(sha256="cd" * 32, faces=0, replay=ReplayFacts(seen_in_other_attempt=True))
    assert run(["blink"], [f])[0].reason == "replay"


def test_passive_only_mode_needs_identity_and_liveness() -> None:
    verdict, _ = run([], many(4))
    assert verdict.state == "collecting"  # live_min_frames = 5
    verdict, _ = run([], many(5))
    assert verdict.state == "granted"


@pytest.mark.parametrize(
    ("frames", "challenge", "cause", "reason"),
    [
        ([], ["blink"], "frame_cap", "no_face"),
        (baseline() + many(5), ["blink"], "frame_cap", "challenge_failed"),
        (many(3, distance=0.55) + blink() + [frame(distance=0.55)] * 3, ["blink"], "frame_cap", "no_match"),
        (baseline(), ["blink"], "expired", "timeout"),
        ([], ["blink"], "expired", "timeout"),
        # Recognised, but no frame could be judged live (the context detector missed the face).
        (many(8, live=None), [], "frame_cap", "spoof"),
    ],
)
def test_out_of_budget_reason(frames: list[pol.FrameFacts], challenge: list[str], cause: str, reason: str) -> None:
    _, state = run(challenge, frames)
    verdict = pol.out_of_budget(state, challenge, POLICY, cause)
    assert (verdict.state, verdict.reason) == ("denied", reason)


def test_progress_grows_and_prompts_follow_the_step() -> None:
    challenge = ["turn_left"]
    state = AttemptState()
    seen = []
    for seq, f in enumerate(baseline() + left(), 1):
        pol.apply_frame(state, challenge, f, seq, POLICY)
        seen.append(pol.progress_of(state, challenge, POLICY))
        if seq == 3:
            assert pol.current_step(state, challenge, POLICY) == "turn_left"
            assert "left" in pol.prompt_of(state, challenge, POLICY, pol.COLLECTING, 1)
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert "can't see" in pol.prompt_of(state, challenge, POLICY, pol.COLLECTING, 0)


def test_state_round_trips_through_json() -> None:
    _, state = run(["blink", "turn_right"], baseline() + blink() + right()[:1])
    assert AttemptState.from_json(state.to_json()) == state


# --- cues of issue 4: planar motion, face track, near-duplicates, parallel frames, blinks ----

from dataclasses import replace  # noqa: E402

import numpy as np  # noqa: E402

from tests.support.heads import HEAD, PHOTO, project  # noqa: E402


def timed(frames: list[pol.FrameFacts], gap: float = 0.2, work: float = 0.08) -> list[pol.FrameFacts]:
    """Give frames server times as the page sends them: one in flight, ``gap`` apart."""
    return [replace(f, t=i * gap, t_done=i * gap + work) for i, f in enumerate(frames)]


def posed(points: np.ndarray, yaw: float, **kw: float) -> pol.FrameFacts:
    """A face frame whose landmarks are ``points`` turned by ``yaw`` degrees (and whose pose
    signal says so, as solvePnP would)."""
    return replace(frame(yaw=yaw, **kw), landmarks=project(points, yaw=-yaw))


def turn_sequence(points: np.ndarray, side: float) -> list[pol.FrameFacts]:
    yaws = [0, 0, 0, 8 * side, 16 * side, 24 * side, 30 * side, 20 * side, 8 * side, 2 * side, 0, 0]
    return timed([posed(points, y) for y in yaws])


def test_a_real_head_turning_passes_the_planarity_cue() -> None:
    verdict, state = run(["turn_left"], turn_sequence(HEAD, 1.0))
    assert verdict.state == "granted", verdict
    assert state.motion is not None and state.motion.turned >= 2 and state.motion.planar_turned == 0


def test_a_photo_tilted_to_fake_a_turn_is_a_spoof() -> None:
    verdict, _state = run(["turn_left"], turn_sequence(PHOTO, 1.0))
    assert (verdict.state, verdict.reason) == ("denied", "spoof")
    assert "flat picture" in (verdict.detail or "")
    off = pol.Policy(live_threshold=0.5, planarity=None)  # without the cue, solvePnP alone is fooled
    assert run(["turn_left"], turn_sequence(PHOTO, 1.0), off)[0].state == "granted"


def test_a_face_that_jumps_resets_the_step_and_too_many_jumps_fail() -> None:
    near, far = project(HEAD), project(HEAD, shift=(250, 0))
    frames = [replace(frame(), landmarks=near) for _ in range(3)]
    frames += [replace(frame(yaw=25), landmarks=near)]  # turned: half of turn_left done ...
    frames += [replace(frame(yaw=0), landmarks=far)]  # ... then another face "returns"
    verdict, state = run(["turn_left"], timed(frames))
    assert verdict.state == "collecting"
    assert state.track_breaks == 1 and state.step_index == 0 and state.step_progress == {}
    jumps = [replace(frame(), landmarks=near if i % 2 else far) for i in range(8)]
    verdict, state = run(["turn_left"], timed(jumps))
    assert (verdict.reason, state.track_breaks) == ("challenge_failed", 3)


def test_re_encoded_copies_beyond_the_allowance_are_replay() -> None:
    frames = timed([frame() for _ in range(3)] + [replace(frame(), replay=ReplayFacts(near_duplicate=True)) for _ in range(3)])
    verdict, state = run(["blink"], frames)
    assert verdict.reason == "replay" and state.near_duplicates == 3
    verdict, _ = run(["blink"], frames[:5])
    assert verdict.state == "collecting"


def test_frames_sent_in_parallel_are_replay() -> None:
    overlapping = [replace(frame(), t=0.01 * i, t_done=0.01 * i + 0.08) for i in range(6)]
    verdict, state = run(["blink"], overlapping)
    assert verdict.reason == "replay" and state.parallel_frames == POLICY.max_parallel_frames + 1
    assert run(["blink"], timed([frame() for _ in range(6)]))[0].state == "collecting"


class FakeJudge:
    """A blink detector that sees a blink when any eye opening in view is below 0.2."""

    window = 10

    def __init__(self) -> None:
        self.calls = 0

    def blink_seen(self, ears: list[float], dts: list[float], baseline_ear: float) -> bool:
        self.calls += 1
        assert len(ears) == len(dts) + 1 and baseline_ear == pytest.approx(0.3)
        return min(ears) < 0.2


def test_learned_blink_counts_only_after_the_prompt() -> None:
    from webapp.challenge.steps import StepSettings

    judge = FakeJudge()
    policy = pol.Policy(live_threshold=0.5, live_min_frames=5, steps=StepSettings(blink_judge=judge))
    early = timed([frame(), frame(ear=0.1), frame(), frame(), frame(), frame()])  # closed during the baseline
    verdict, state = run(["blink"], early, policy)
    assert verdict.state == "collecting" and state.step_index == 0 and judge.calls == 0
    after = timed([frame(), frame(), frame(), frame(), frame(ear=0.1), frame()])
    verdict, state = run(["blink"], after, policy)
    assert verdict.state == "granted" and judge.calls >= 1


class NeverJudge:
    window = 10

    def blink_seen(self, ears: list[float], dts: list[float], baseline_ear: float) -> bool:
        return False


def test_the_blink_rule_backs_up_the_detector_unless_turned_off() -> None:
    from webapp.challenge.steps import StepSettings

    frames = timed([frame(), frame(), frame(), frame(ear=0.15), frame(ear=0.29)])
    with_rule = pol.Policy(live_threshold=0.5, live_min_frames=1, steps=StepSettings(blink_judge=NeverJudge()))
    assert run(["blink"], frames, with_rule)[0].state == "granted"
    no_rule = pol.Policy(live_threshold=0.5, live_min_frames=1, steps=StepSettings(blink_judge=NeverJudge(), blink_rule=False))
    assert run(["blink"], frames, no_rule)[0].state == "collecting"


def test_a_blink_during_the_baseline_does_not_hide_later_blinks() -> None:
    # The open-eye level is the largest baseline opening: with the median, 0.2 would be the
    # level and the later blink (0.19) would not look closed at all.
    frames = timed([frame(ear=0.3), frame(ear=0.12), frame(ear=0.2), frame(ear=0.19), frame(ear=0.3)])
    verdict, state = run(["blink"], frames, pol.Policy(live_threshold=0.5, live_min_frames=1))
    assert verdict.state == "granted" and state.steps_done[0]["step"] == "blink"


def _scene(seed: int) -> np.ndarray:
    """A textured background (one room) seen by a 480x360 camera."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (18, 24), dtype=np.uint8)
    return np.repeat(np.repeat(small, 20, axis=0), 20, axis=1)


def signed(room: int, yaw: float = 0.0, **kw: float) -> pol.FrameFacts:
    """A face frame whose continuity signature shows the face in front of background ``room``."""
    from webapp.challenge.continuity import frame_signature

    return replace(frame(yaw=yaw, **kw), signature=frame_signature(_scene(room), (200, 120, 280, 220), yaw, 0.0))


def test_a_cut_to_another_scene_resets_the_step_and_repeated_cuts_deny() -> None:
    frames = timed([signed(1) for _ in range(3)] + [signed(1, yaw=12), signed(2, yaw=25)])
    verdict, state = run(["turn_left"], frames)
    assert verdict.state == "collecting"
    # The turn's intermediate pose, seen before the cut, is gone: only the frame after it counts.
    assert state.continuity_breaks == ["scene_break"] and "partial" not in state.step_progress
    cuts = timed([signed(1) for _ in range(3)] + [signed(room) for room in (2, 3, 4)])
    verdict, state = run(["turn_left"], cuts)
    assert (verdict.state, verdict.reason) == ("denied", "spoof") and len(state.continuity_breaks) == 3
    assert "not continuous 3 times" in (verdict.detail or "")


def test_one_continuous_scene_never_breaks() -> None:
    frames = timed([signed(1) for _ in range(3)] + [signed(1, yaw=y) for y in (8, 16, 24, 12, 2)] + [signed(1) for _ in range(3)])
    verdict, state = run(["turn_left"], frames)
    assert verdict.state == "granted" and state.continuity_breaks == []
    off = pol.Policy(live_threshold=0.5, continuity=None)
    verdict, state = run(["turn_left"], timed([signed(1) for _ in range(3)] + [signed(room) for room in (2, 3, 4)]), off)
    assert verdict.state == "collecting" and state.continuity_breaks == []


def test_passive_verdict_waits_for_the_default_number_of_frames() -> None:
    policy = pol.Policy(live_threshold=0.5)
    assert policy.live_min_frames == 10
    verdict, state = run([], many(9), policy)
    assert verdict.state == "collecting" and len(state.live_scores) == 9
    verdict, _ = run([], many(10), policy)
    assert verdict.state == "granted"


# --- track bridging through frames the frontal detector missed (challenge/bridge.py) ---------

from webapp.challenge.geometry import inter_ocular_distance  # noqa: E402


def _box_around(points: np.ndarray, width: float) -> tuple[float, float, float, float]:
    cx, cy = points.mean(axis=0)
    return (cx - width / 2, cy - width / 2, cx + width / 2, cy + width / 2)


def _lost_turn(tracked: list[tuple[float, float, float, float] | None]) -> tuple[list[pol.FrameFacts], np.ndarray]:
    """Baseline frames, a turned frame, then frames with no frontal face (each with the
    tracker's box or None), then the face again 2 inter-ocular distances to the side."""
    near = project(HEAD)
    iod = inter_ocular_distance(near)
    far = project(HEAD, shift=(2.0 * iod, 0))
    frames = [replace(frame(), landmarks=near) for _ in range(3)] + [replace(frame(yaw=25), landmarks=near)]
    frames += [replace(frame(faces=0), tracked_box=box) for box in tracked]
    frames += [replace(frame(yaw=14), landmarks=far), replace(frame(yaw=2), landmarks=far)]
    return timed(frames), far


def test_a_head_lost_mid_turn_and_followed_by_the_tracker_is_the_same_head() -> None:
    near = project(HEAD)
    iod = inter_ocular_distance(near)
    width = 2.5 * iod
    path = [_box_around(project(HEAD, shift=(k * iod, 0)), width) for k in (0.5, 1.0, 1.5, 2.0)]
    frames, _far = _lost_turn(path)
    verdict, state = run(["turn_left"], frames)
    assert verdict.state == "granted", verdict
    assert state.track_breaks == 0 and state.track_bridged == 1
    # Without bridging the same reappearance is a jump, and the half-done turn is lost.
    off = replace(POLICY, track=replace(POLICY.track, bridge=None))
    verdict, state = run(["turn_left"], frames, off)
    assert verdict.state == "collecting" and state.track_breaks == 1


def test_a_bridge_with_a_hole_or_a_jump_does_not_join_two_faces() -> None:
    near = project(HEAD)
    iod = inter_ocular_distance(near)
    width = 2.5 * iod
    steps = [_box_around(project(HEAD, shift=(k * iod, 0)), width) for k in (0.5, 1.0, 1.5, 2.0)]
    for tracked in ([steps[0], None, steps[2], steps[3]], [steps[0], steps[3]], [_box_around(project(HEAD, shift=(2 * iod, 0)), width)]):
        verdict, state = run(["turn_left"], _lost_turn(tracked)[0])
        assert state.track_breaks == 1 and state.track_bridged == 0, tracked
        assert verdict.state == "collecting"
