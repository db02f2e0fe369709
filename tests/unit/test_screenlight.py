"""The screen-light challenge: the sequence draw, what the page is told, the measurement and the
judgement on synthetic frames, and the step through the pure policy."""

from __future__ import annotations

import hashlib
import itertools
import random
from typing import Any

import numpy as np
import pytest

from tests.support.light import BOX, base_scene, lit, run_step
from webapp.challenge import screenlight as sl
from webapp.challenge.steps import STEPS, FaceSignals, pick_challenge
from webapp.config import DEFAULTS
from webapp.login import policy as pol
from webapp.login.state import AttemptState

CFG = sl.LightSettings()

# --- the draw --------------------------------------------------------------------------------


def test_the_draw_uses_the_os_csprng(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    class Spy(random.Random):
        def __init__(self) -> None:
            calls.append("SystemRandom")
            super().__init__(5)

    monkeypatch.setattr(sl.secrets, "SystemRandom", Spy)
    plan = sl.draw_plan(CFG)
    assert calls == ["SystemRandom"] and len(plan["colours"]) == CFG.colours


def test_no_two_attempts_get_the_same_sequence_and_every_draw_is_in_bounds() -> None:
    plans = [sl.draw_plan(CFG) for _ in range(300)]
    keys = {(tuple(p["colours"]), tuple(p["durations"])) for p in plans}
    assert len(keys) == len(plans)
    for p in plans:
        assert len(p["colours"]) == len(p["durations"]) == CFG.colours
        assert all(CFG.min_seconds <= d <= CFG.max_seconds for d in p["durations"])
        assert all(a != b for a, b in itertools.pairwise(p["colours"]))  # every segment is a change
        lit_ = np.array([sl.PALETTE[c] for c in p["colours"]]) > 0
        assert lit_.any(axis=0).all() and (~lit_).any(axis=0).all()  # each channel on and off somewhere
        assert p["start"] is None and p["told"] == [] and p["samples"] == []
    # photosensitive safety: at most 3 changes a second, whatever the draw
    assert min(d for p in plans for d in p["durations"]) >= 1 / 3


def test_a_palette_of_one_colour_cannot_make_a_sequence() -> None:
    with pytest.raises(ValueError):
        sl.draw_plan(sl.LightSettings(palette=("red",)))


def test_the_page_is_told_only_the_colour_of_now_and_when_to_ask_again() -> None:
    plan = {"colours": ["red", "blue", "white"], "durations": [1.0, 0.9, 1.1], "start": None, "told": [], "samples": []}
    sl.tell(plan, 10.0)
    now = sl.instruction(plan, 10.2, CFG)
    assert now == {"colour": "red", "css": "#ff0000", "next_in_ms": 800, "transition_ms": CFG.transition_ms}
    sl.tell(plan, 10.5)  # same segment: nothing new recorded
    sl.tell(plan, 11.3)
    assert plan["told"] == [[10.0, 0], [11.3, 1]]
    later = sl.instruction(plan, 11.3, CFG)
    assert later is not None and later["colour"] == "blue" and later["next_in_ms"] == 600
    assert "white" not in str(later)  # never the future
    assert sl.sequence_end(plan) == pytest.approx(13.0)
    assert sl.instruction(plan, 13.2, CFG) is None and sl.segment_at(plan, 13.2) is None


def test_frames_are_judged_by_what_was_told_when_not_inside_a_fade() -> None:
    plan = {"colours": ["red", "green"], "durations": [1.0, 1.0], "start": 0.0, "told": [[0.0, 0], [1.1, 1]], "samples": []}
    times = np.array([0.1, 0.5, 1.05, 1.2, 1.6])
    stim = sl.stimulus(plan, times, lag=0.0, transition=0.3)
    assert np.isnan(stim[0]).all() and np.isnan(stim[3]).all()  # inside a fade
    assert stim[1].tolist() == [1, 0, 0] and stim[2].tolist() == [1, 0, 0]  # told green only at 1.1
    assert stim[4].tolist() == [0, 1, 0]
    late = sl.stimulus(plan, times, lag=0.3, transition=0.3)
    assert np.isnan(late[1]).all() and late[2].tolist() == [1, 0, 0] and np.isnan(late[4]).all()


# --- the measurement ------------------------------------------------------------------------------


def test_measure_reads_face_and_background_apart() -> None:
    scene = base_scene()
    dark = sl.measure(scene, BOX, None)
    red = sl.measure(lit(scene, (1, 0, 0), 0.3, background=0.0), BOX, None)
    assert dark is not None and red is not None
    assert red.face[0] / dark.face[0] == pytest.approx(1.3, rel=0.05)  # linear light: the screen adds 30 %
    assert red.face[1] / dark.face[1] == pytest.approx(1.0, abs=0.02)
    assert red.background == pytest.approx(dark.background, rel=0.01)
    assert 100 < dark.level < 160


def test_measure_gives_up_without_background_or_on_odd_input() -> None:
    assert sl.measure(base_scene(), (0, 0, 480, 360), None) is None  # the face fills the frame
    assert sl.measure(np.zeros((360, 480), np.uint8), BOX, None) is None


def test_the_skin_mask_follows_landmarks_without_eyes_and_mouth() -> None:
    pts = np.array([[200 + 80 * np.cos(a), 170 + 80 * np.sin(a)] for a in np.linspace(0, 2 * np.pi, 68)])
    pts[36:48] = [[200 + i, 150] for i in range(12)]
    mask = sl.face_mask((360, 480), BOX, pts)
    assert mask[170, 200] and not mask[150, 205] and not mask[10, 10]


# --- the judgement ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(2))
def test_a_face_lit_by_the_sequence_passes(seed: int) -> None:
    _, result = run_step("live", strength=0.2, seed=seed)
    assert result.passed, result.detail()
    assert result.correlation > 0.9 and result.response > 0.1 and result.lag <= CFG.max_lag_ms / 1000


def test_a_weak_but_clean_response_passes() -> None:
    _, result = run_step("live", strength=0.05, seed=4)
    assert result.passed, result.detail()


@pytest.mark.parametrize("seed", range(2))
def test_a_recording_with_no_response_fails(seed: int) -> None:
    _, result = run_step("none", seed=seed)
    assert result.code == sl.NO_RESPONSE, result.detail()


@pytest.mark.parametrize("seed", range(2))
def test_a_tint_of_the_whole_picture_fails(seed: int) -> None:
    _, result = run_step("tint", strength=0.3, seed=seed)
    assert result.code == sl.GLOBAL_TINT, result.detail()
    assert result.face_correlation > 0.9  # the face did change colour, with the background


def test_a_response_later_than_the_allowance_fails_as_out_of_sync() -> None:
    _, ok = run_step("live", strength=0.3, seed=1, delay=0.2)
    _, late = run_step("live", strength=0.3, seed=1, delay=1.2)
    assert ok.passed, ok.detail()
    assert late.code == sl.OUT_OF_SYNC, late.detail()
    assert late.late_correlation > 0.9 and late.late_lag > CFG.max_lag_ms / 1000


def test_a_bright_face_with_no_response_is_told_the_room_is_too_bright() -> None:
    _, result = run_step("none", seed=2, skin=(235, 205, 185))
    assert result.code == sl.TOO_BRIGHT, result.detail()


def test_too_few_frames_cannot_be_judged() -> None:
    _, result = run_step("live", seed=0, gap=1.5)
    assert result.code == sl.TOO_FEW_FRAMES
    assert sl.evaluate({"colours": ["red"], "durations": [1.0], "told": [], "samples": []}, CFG).code == sl.TOO_FEW_FRAMES


# --- the step through the policy (pure) -------------------------------------------------------------

_sha = (hashlib.sha256(f"light{i}".encode()).hexdigest() for i in itertools.count())
LIGHT_ONLY = pol.Policy(live_threshold=0.5)


def _attempt(kind: str, seed: int = 0, skin: tuple[int, int, int] = (175, 125, 100)) -> tuple[pol.Verdict, AttemptState, list[Any]]:
    """An attempt whose challenge is the screen-light step alone, frames every 0.3 s, the page
    showing whatever the previous answer told it; returns the verdict, the state and the answers."""
    # A seeded sequence: the judgement of one rendered session is then reproducible (a fresh
    # CSPRNG draw let noise line up with a late window about one run in ten).
    state = AttemptState(light=sl.draw_plan(CFG, random.Random(seed)))
    challenge = ["screen_light"]
    scene = base_scene(seed, skin)
    rng = np.random.default_rng(seed)
    colour = np.zeros(3)
    answers: list[Any] = []
    verdict = pol.COLLECTING
    t = 0.0
    for seq in range(1, 60):
        t += 0.3 + rng.uniform(-0.03, 0.03)
        rgb = lit(scene, colour, 0.25) if kind == "live" else lit(scene, colour, 0.0, tint=0.25 if kind == "tint" else 0.0)
        rgb = np.clip(rgb.astype(np.int16) + rng.integers(-2, 3, rgb.shape), 0, 255).astype(np.uint8)
        facts = pol.FrameFacts(
            sha256=next(_sha),
            faces=1,
            distance=0.3,
            live_score=0.9,
            signals=FaceSignals(ear=0.3, yaw=0.0, pitch=0.0, face_px=140),
            light=sl.measure(rgb, BOX, None),
            t=t,
            t_done=t + 0.15,
        )
        verdict = pol.apply_frame(state, challenge, facts, seq, LIGHT_ONLY)
        if verdict.state == "collecting":
            verdict = pol.decide(state, challenge, LIGHT_ONLY)
        answer = pol.tell_light(state, challenge, LIGHT_ONLY, verdict, facts.t_done)
        answers.append(answer)
        if answer is not None:
            colour = np.array(sl.PALETTE[answer["colour"]]) / 255.0
        if verdict.state != "collecting":
            break
    return verdict, state, answers


def test_the_step_is_in_the_catalogue_but_not_in_the_default_challenge() -> None:
    assert "screen_light" in STEPS
    assert "screen_light" not in DEFAULTS["CHALLENGE_STEPS"]
    assert pick_challenge(["screen_light"], 1) == ["screen_light"]


def test_a_live_face_following_the_colours_is_granted() -> None:
    verdict, state, answers = _attempt("live")
    assert verdict.state == "granted", verdict
    assert [s["step"] for s in state.steps_done] == ["screen_light"]
    told = [a for a in answers if a is not None]
    assert len({a["colour"] for a in told}) >= 2
    assert answers[:3] == [None, None, None]  # the baseline frames show no colour
    assert answers[-1] is None  # the backdrop goes once the step is done
    assert state.step_progress == {} and state.light is not None and len(state.light["told"]) == CFG.colours


@pytest.mark.parametrize(("kind", "code"), [("none", sl.NO_RESPONSE), ("tint", sl.GLOBAL_TINT)])
def test_no_response_or_a_tint_is_denied_with_its_own_code(kind: str, code: str) -> None:
    verdict, _, answers = _attempt(kind)
    assert verdict.state == "denied" and verdict.reason == pol.CHALLENGE_FAILED
    assert verdict.detail is not None and code in verdict.detail and "screen_light" in verdict.detail
    assert answers[-1] is None
    assert pol.prompt_of(AttemptState(), ["screen_light"], LIGHT_ONLY, verdict, 1) == (
        "Sign-in failed: The light of your screen was not seen on your face."
    )


def test_a_bright_room_is_named_in_the_prompt() -> None:
    verdict, _, _ = _attempt("none", skin=(235, 205, 185))
    assert verdict.detail is not None and sl.TOO_BRIGHT in verdict.detail
    prompt = pol.prompt_of(AttemptState(), ["screen_light"], LIGHT_ONLY, verdict, 1)
    assert "too bright for the light check" in prompt


def test_the_step_budget_covers_the_longest_sequence() -> None:
    policy = pol.Policy(live_threshold=0.5, step_max_seconds=2.0)
    assert policy.max_seconds_for("screen_light") == pytest.approx(CFG.sequence_max_seconds + 1.0)
    assert policy.max_seconds_for("turn_left") == 2.0


def test_without_a_plan_the_step_fails_rather_than_passing() -> None:
    state = AttemptState()  # an attempt started before the step existed, say
    facts = pol.FrameFacts(sha256="x" * 64, faces=1, distance=0.3, live_score=0.9, signals=FaceSignals(0.3, 0.0, 0.0, 140), t=1.0)
    policy = pol.Policy(live_threshold=0.5, baseline_frames=1)
    pol.apply_frame(state, ["screen_light"], facts, 1, policy)
    facts2 = pol.FrameFacts(sha256="y" * 64, faces=1, distance=0.3, live_score=0.9, signals=FaceSignals(0.3, 0.0, 0.0, 140), t=1.3)
    verdict = pol.apply_frame(state, ["screen_light"], facts2, 2, policy)
    assert verdict.state == "denied" and verdict.detail is not None and sl.TOO_FEW_FRAMES in verdict.detail
