"""Challenge steps: small state machines fed one face observation at a time.

Each step keeps its progress in a JSON-able dict (stored with the attempt, so any worker can
continue it) and reports when it is complete. Thresholds are relative to the user's own
baseline (open-eye ratio, neutral yaw measured in the first frames of the attempt), because
eye shape and camera angle differ between people and set-ups.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from webapp.challenge import screenlight
from webapp.challenge.blink import frames_since_closed, gaps
from webapp.challenge.screenlight import LightSample, LightSettings
from webapp.config import DEFAULTS


@dataclass(frozen=True)
class FaceSignals:
    """The per-frame landmark measurements the steps read."""

    ear: float  # eye aspect ratio, both eyes
    yaw: float  # degrees, > 0 = turned to the user's left
    pitch: float
    face_px: int
    # Inter-ocular distance in pixels (geometry.inter_ocular_distance): a smooth face scale for
    # the "closer" step; None when the caller does not measure it (face_px is used instead).
    iod: float | None = None


@dataclass(frozen=True)
class Baseline:
    """The user's neutral pose, from the first face frames of the attempt."""

    ear: float
    yaw: float
    face_px: int
    iod: float | None = None


class BlinkJudge(Protocol):
    """A learned blink detector over the last few frames (webapp.challenge.blink.BlinkDetector)."""

    @property
    def window(self) -> int: ...

    def blink_seen(self, ears: Sequence[float], dts: Sequence[float], baseline_ear: float) -> bool: ...


@dataclass(frozen=True)
class StepFrame:
    """One face frame as a step sees it: its signals, the user's baseline, and the attempt's
    recent eye-opening history (oldest first, this frame last) with server-clock times."""

    signals: FaceSignals
    base: Baseline
    ears: tuple[float, ...] = ()
    times: tuple[float, ...] = ()
    step_frames: int = 1  # face frames spent on this step, this one included
    # For the screen-light step: server-clock arrival and answer times of the frame, its skin and
    # background colour, and the attempt's light plan (AttemptState.light, advanced in place).
    t: float = 0.0
    t_done: float = 0.0
    light: LightSample | None = None
    light_plan: dict[str, Any] | None = None


@dataclass(frozen=True)
class StepSettings:
    # The learned blink detector (the app loads the shipped one), and whether the rule below
    # also counts when there is one (see BlinkStep).
    blink_judge: BlinkJudge | None = None
    blink_rule: bool = DEFAULTS["BLINK_RULE"]
    blink_closed_ratio: float = DEFAULTS["BLINK_CLOSED_RATIO"]
    blink_reopen_ratio: float = DEFAULTS["BLINK_REOPEN_RATIO"]
    turn_yaw: float = DEFAULTS["TURN_YAW_DEGREES"]
    turn_return: float = DEFAULTS["TURN_RETURN_DEGREES"]
    turn_partial: float = DEFAULTS["TURN_PARTIAL_DEGREES"]
    turn_max_fast_returns: int = DEFAULTS["TURN_MAX_FAST_RETURNS"]  # 0 = ask again for the whole budget
    closer_ratio: float = DEFAULTS["CLOSER_RATIO"]  # face scale vs baseline that counts as "closer"
    closer_frames: int = DEFAULTS["CLOSER_FRAMES"]  # consecutive frames it must hold (one HOG box can jump a pyramid step)
    closer_max_yaw: float = DEFAULTS["CLOSER_MAX_YAW"]  # degrees from baseline yaw; a turned face is not a closer one
    light: LightSettings = field(default_factory=LightSettings)


class Step(Protocol):
    name: str

    def prompt(self, progress: dict[str, Any]) -> str: ...

    def update(self, progress: dict[str, Any], frame: StepFrame, cfg: StepSettings) -> bool:
        """Advance ``progress`` (mutated in place) with one frame; True when the step is done.
        A step that can tell it failed (not only run out of time) sets ``progress["failed"]``
        to its reason code and ``progress["detail"]`` to the audit line."""
        ...


class BlinkStep:
    """Eyes close, then open again, after the prompt.

    Blinks last 100-400 ms and the page sends 5-10 frames a second, so a frame often catches a
    blink half-closed; the prompt therefore asks for a few blinks (not a "slow" one: a slow,
    gradual blink is not what the learned detector was trained on, and scored 0.27 against its
    threshold). Two detectors, either one suffices:

    * the learned one (``cfg.blink_judge``) on the window of recent eye openings, provided the
      lowest opening in view arrived after the step began;
    * a rule: one frame below ``blink_closed_ratio`` x the user's open-eye ratio, then one back
      above ``blink_reopen_ratio`` x it.

    Measured on the shared live clips streamed at 4-10 fps (webapp/config.py, BLINK_*): the
    learned detector at 0.73 alone catches 96 % of sampled blinks, with the 0.70 rule 98 %;
    real blinks streamed by Chromium were missed 1 run in 10 without the rule.
    """

    name = "blink"

    def prompt(self, progress: dict[str, Any]) -> str:
        return "Now open your eyes." if progress.get("closed") else "Blink a few times."

    def update(self, progress: dict[str, Any], frame: StepFrame, cfg: StepSettings) -> bool:
        if self._learned(frame, cfg):
            progress["by"] = "model"
            return True
        if cfg.blink_judge is not None and not cfg.blink_rule:
            return False
        signals, base = frame.signals, frame.base
        if not progress.get("closed"):
            if signals.ear < cfg.blink_closed_ratio * base.ear:
                progress["closed"] = True
                progress["min_ear"] = round(signals.ear, 4)
            return False
        if signals.ear >= cfg.blink_reopen_ratio * base.ear:
            progress["by"] = "rule"
            return True
        return False

    @staticmethod
    def _learned(frame: StepFrame, cfg: StepSettings) -> bool:
        judge = cfg.blink_judge
        if judge is None or len(frame.ears) < 3:
            return False
        if frames_since_closed(frame.ears, judge.window) >= frame.step_frames:
            return False  # the lowest eye opening in view came before the prompt
        return judge.blink_seen(list(frame.ears), gaps(frame.times), frame.base.ear)


class TurnStep:
    """Head turned towards one side past ``turn_yaw`` degrees, then back towards the camera."""

    def __init__(self, direction: str) -> None:
        if direction not in ("left", "right"):
            raise ValueError(direction)
        self.direction = direction
        self.name = f"turn_{direction}"
        self._sign = 1.0 if direction == "left" else -1.0

    def prompt(self, progress: dict[str, Any]) -> str:
        """Feedback from the measured yaw: how far, enough, back, or again more slowly."""
        if progress.get("turned"):
            return "That's enough. Now look back at the camera."
        if progress.get("too_fast"):
            return f"Once more, slowly: turn your head to your {self.direction}."
        if progress.get("partial"):
            return "A little more."
        return f"Turn your head slowly to your {self.direction}."

    def update(self, progress: dict[str, Any], frame: StepFrame, cfg: StepSettings) -> bool:
        signals, base = frame.signals, frame.base
        relative = self._sign * (signals.yaw - base.yaw)
        between = cfg.turn_partial <= relative < cfg.turn_yaw
        if not progress.get("turned"):
            if relative >= cfg.turn_yaw:
                progress["turned"] = True
                progress["max_yaw"] = round(relative, 2)
            elif between:
                progress["partial"] = True  # on the way out
            return False
        back = abs(signals.yaw - base.yaw) <= cfg.turn_return
        # The in-between pose must come from an earlier frame than the one that is back, so
        # the two bands may overlap without one frame being both (a jittered frontal photo).
        if back and progress.get("partial"):
            return True
        if between:
            progress["partial"] = True  # on the way back
            return False
        if not back:
            return False
        # Frontal, turned, frontal with nothing in between: photos swapped, not a head turning.
        # A person is asked again, slowly; a slideshow retrying until one jittered frame reads
        # as in between gets a few tries, not the whole step budget.
        fast = int(progress.get("fast_returns", 0)) + 1
        progress.clear()
        progress["too_fast"] = True
        progress["fast_returns"] = fast
        if cfg.turn_max_fast_returns and fast >= cfg.turn_max_fast_returns:
            progress["failed"] = "too_fast"
            progress["detail"] = f"turned and back with no pose in between {fast} times"
        return False


class CloserStep:
    """The face grows by ``closer_ratio`` over its baseline size and holds it for a few frames.

    Scale is the inter-ocular distance when both the frame and the baseline carry it (smooth,
    landmark-based), otherwise the HOG box side, whose size moves in pyramid steps of about
    20 % - hence ``closer_frames`` consecutive frames. Near-frontal frames only: yaw shrinks the
    inter-ocular distance. Moving a photo closer passes this step too: its value is the random
    order it adds; the planarity and duplicate cues (motion.py, replay/hashes.py) judge the picture.
    """

    name = "closer"

    def prompt(self, progress: dict[str, Any]) -> str:
        return "Hold it there." if progress.get("frames") else "Move a little closer to the camera."

    def update(self, progress: dict[str, Any], frame: StepFrame, cfg: StepSettings) -> bool:
        signals, base = frame.signals, frame.base
        if signals.iod is not None and base.iod is not None and base.iod > 0:
            ratio = signals.iod / base.iod
        else:
            ratio = signals.face_px / base.face_px if base.face_px > 0 else 0.0
        if ratio >= cfg.closer_ratio and abs(signals.yaw - base.yaw) <= cfg.closer_max_yaw:
            progress["frames"] = int(progress.get("frames", 0)) + 1
            progress["max_ratio"] = round(max(ratio, float(progress.get("max_ratio", 0.0))), 3)
        else:
            progress["frames"] = 0
        return int(progress["frames"]) >= cfg.closer_frames


class ScreenLightStep:
    """The face follows the screen's colour sequence (webapp/challenge/screenlight.py).

    The plan was drawn when the attempt started; each answer during the step tells the page the
    colour scheduled now (webapp.login.policy.tell_light), and each received face frame's skin and
    background colour is kept. Once
    the sequence has played, the judgement passes or fails the step with its own reason code.
    Half-way, a bright face with no response so far is told the room is too bright. A track or
    continuity break clears ``progress``: the samples taken before it are dropped (the colours
    already told stay told: the page showed them).
    """

    name = "screen_light"

    def prompt(self, progress: dict[str, Any]) -> str:
        if progress.get("failed") == screenlight.TOO_BRIGHT or progress.get("too_bright"):
            return (
                "Your room is too bright for the light check: dim the lights or turn away from the window, "
                "and bring your face closer to the screen."
            )
        if progress.get("failed"):
            return "The light of your screen was not seen on your face."
        return "Keep still and look at the screen while it changes colour."

    def failure_prompt(self, progress: dict[str, Any]) -> str:
        """The denial names what to change (the room's light), not only that a movement was missed."""
        return "Sign-in failed: " + self.prompt(progress)

    def update(self, progress: dict[str, Any], frame: StepFrame, cfg: StepSettings) -> bool:
        plan = frame.light_plan
        if plan is None:
            progress["failed"], progress["detail"] = (
                screenlight.TOO_FEW_FRAMES,
                f"{screenlight.TOO_FEW_FRAMES}: no light plan for this attempt",
            )
            return False
        if not progress.get("running"):
            progress["running"] = True
            plan["samples"] = []  # first frame of the step, or the first after a track break
        end = screenlight.sequence_end(plan)
        if frame.light is not None and plan.get("told"):
            screenlight.record(plan, frame.t, frame.light)
        if end is not None and frame.t >= end:
            result = screenlight.evaluate(plan, cfg.light)
            progress["result"] = result.audit()
            if result.passed:
                return True
            progress["failed"], progress["detail"] = result.code, result.detail()
            return False
        if end is not None and not progress.get("checked") and frame.t >= end - float(sum(plan["durations"])) / 2:
            progress["checked"] = True
            progress["too_bright"] = screenlight.evaluate(plan, cfg.light).code == screenlight.TOO_BRIGHT
        return False


STEPS: dict[str, Step] = {s.name: s for s in (BlinkStep(), TurnStep("left"), TurnStep("right"), CloserStep(), ScreenLightStep())}


def pick_challenge(catalogue: Sequence[str], count: int) -> list[str]:
    """``count`` distinct steps from ``catalogue`` in random order, drawn with the OS CSPRNG.

    The order matters as much as the choice: a recording made before the attempt cannot
    contain a sequence the server chose after the attempt started.
    """
    unknown = [s for s in catalogue if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown challenge steps: {unknown}")
    pool = list(dict.fromkeys(catalogue))
    return secrets.SystemRandom().sample(pool, min(count, len(pool)))
