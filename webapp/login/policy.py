"""The decision policy (shared/spec/decision-policy.md), in one place.

Pure functions over :class:`AttemptState`: no database, no models, no clock reads, so the
policy is unit-tested exhaustively and every worker decides the same way. The service feeds
each analysed frame to :func:`apply_frame`, then asks :func:`decide`; when the attempt runs
out of time or frames it asks :func:`out_of_budget` for the denial.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from webapp.challenge.steps import STEPS, Baseline, FaceSignals, StepSettings
from webapp.login.state import AttemptState
from webapp.models import STATE_COLLECTING, STATE_DENIED, STATE_GRANTED

# Coarse reasons a client may see (shared/spec/http-api.md).
SPOOF = "spoof"
NO_MATCH = "no_match"
CHALLENGE_FAILED = "challenge_failed"
MULTIPLE_FACES = "multiple_faces"
NO_FACE = "no_face"
TIMEOUT = "timeout"
REPLAY = "replay"


@dataclass(frozen=True)
class Policy:
    """The configured knobs of the policy (built from app config by ``Policy.from_config``)."""

    tolerance: float = 0.5
    mismatch_distance: float = 0.6
    min_matched_frames: int = 3
    live_threshold: float = 0.5
    live_min_frames: int = 5
    baseline_frames: int = 3
    step_max_frames: int = 20
    max_duplicate_frames: int = 2
    steps: StepSettings = field(default_factory=StepSettings)

    @classmethod
    def from_config(cls, cfg: dict[str, Any], live_threshold: float) -> Policy:
        return cls(
            tolerance=float(cfg["IDENTITY_TOLERANCE"]),
            mismatch_distance=float(cfg["IDENTITY_MISMATCH_DISTANCE"]),
            min_matched_frames=int(cfg["IDENTITY_MIN_MATCHED_FRAMES"]),
            live_threshold=float(cfg["LIVENESS_THRESHOLD"] if cfg.get("LIVENESS_THRESHOLD") is not None else live_threshold),
            live_min_frames=int(cfg["LIVENESS_MIN_FRAMES"]),
            baseline_frames=int(cfg["CHALLENGE_BASELINE_FRAMES"]),
            step_max_frames=int(cfg["CHALLENGE_STEP_MAX_FRAMES"]),
            max_duplicate_frames=int(cfg["REPLAY_MAX_DUPLICATE_FRAMES"]),
            steps=StepSettings(
                blink_closed_ratio=float(cfg["BLINK_CLOSED_RATIO"]),
                blink_reopen_ratio=float(cfg["BLINK_REOPEN_RATIO"]),
                turn_yaw=float(cfg["TURN_YAW_DEGREES"]),
                turn_return=float(cfg["TURN_RETURN_DEGREES"]),
            ),
        )


@dataclass(frozen=True)
class FrameFacts:
    """What the analysis of one frame established (webapp/login/analysis.py builds it)."""

    sha256: str
    faces: int
    distance: float | None = None  # to the claimed user's nearest template; inf if none enrolled
    live_score: float | None = None
    signals: FaceSignals | None = None
    seen_in_other_attempt: bool = False


@dataclass(frozen=True)
class Verdict:
    state: str
    reason: str | None = None
    detail: str | None = None


COLLECTING = Verdict(STATE_COLLECTING)


def _deny(reason: str, detail: str) -> Verdict:
    return Verdict(STATE_DENIED, reason, detail)


def baseline_of(state: AttemptState) -> Baseline:
    return Baseline(
        ear=statistics.median(state.baseline_ears),
        yaw=statistics.median(state.baseline_yaws),
        face_px=int(statistics.median(state.baseline_px)),
    )


def apply_frame(state: AttemptState, challenge: list[str], frame: FrameFacts, seq: int, policy: Policy) -> Verdict:
    """Fold one frame into ``state`` (mutated). Returns a denial the frame alone proves, else COLLECTING."""
    short = frame.sha256[:16]
    if frame.seen_in_other_attempt:
        return _deny(REPLAY, "frame bytes identical to a frame of another attempt")
    if short in state.sha_seen:
        state.duplicate_frames += 1
        if state.duplicate_frames > policy.max_duplicate_frames:
            return _deny(REPLAY, f"{state.duplicate_frames} byte-identical frames repeated")
    else:
        state.sha_seen.append(short)

    if frame.faces == 0:
        state.no_face_frames += 1
        return COLLECTING
    if frame.faces > 1:
        return _deny(MULTIPLE_FACES, f"{frame.faces} faces in frame {seq}")

    state.face_frames += 1
    distance = frame.distance if frame.distance is not None else float("inf")
    if distance > policy.mismatch_distance:
        return _deny(NO_MATCH, f"frame {seq} shows someone else (distance {distance:.3f})")
    if distance <= policy.tolerance:
        state.matched_frames += 1
    state.best_distance = distance if state.best_distance is None else min(state.best_distance, distance)
    state.worst_distance = distance if state.worst_distance is None else max(state.worst_distance, distance)
    if frame.live_score is not None:
        state.live_scores.append(round(float(frame.live_score), 4))

    if frame.signals is None or not challenge:
        return COLLECTING
    if len(state.baseline_ears) < policy.baseline_frames:
        state.baseline_ears.append(round(frame.signals.ear, 4))
        state.baseline_yaws.append(round(frame.signals.yaw, 2))
        state.baseline_px.append(frame.signals.face_px)
        return COLLECTING
    if state.step_index >= len(challenge):
        return COLLECTING
    step = STEPS[challenge[state.step_index]]
    state.step_frames += 1
    if step.update(state.step_progress, frame.signals, baseline_of(state), policy.steps):
        state.steps_done.append({"step": step.name, "seq": seq, "frames": state.step_frames})
        state.step_index += 1
        state.step_frames = 0
        state.step_progress = {}
    elif state.step_frames >= policy.step_max_frames:
        return _deny(CHALLENGE_FAILED, f"step {state.step_index + 1} ({step.name}) not done in {state.step_frames} face frames")
    return COLLECTING


def decide(state: AttemptState, challenge: list[str], policy: Policy) -> Verdict:
    """Grant when every condition of the policy holds; otherwise keep collecting."""
    if state.step_index < len(challenge):
        return COLLECTING
    if state.matched_frames < policy.min_matched_frames:
        return COLLECTING
    if len(state.live_scores) < policy.live_min_frames:
        return COLLECTING
    live = state.live_mean
    assert live is not None
    if live < policy.live_threshold:
        return _deny(SPOOF, f"mean live score {live:.3f} < {policy.live_threshold:.3f} over {len(state.live_scores)} frames")
    return Verdict(STATE_GRANTED, None, f"{state.matched_frames} matched frames, live {live:.3f}, steps {challenge}")


def out_of_budget(state: AttemptState, challenge: list[str], policy: Policy, cause: str) -> Verdict:
    """The denial when an attempt expires (``cause="expired"``) or reaches its frame cap
    (``cause="frame_cap"``) before a decision; the detail lists what was still missing."""
    missing = []
    if state.step_index < len(challenge):
        missing.append(f"step {state.step_index + 1} of {len(challenge)}")
    if state.matched_frames < policy.min_matched_frames:
        missing.append(f"{state.matched_frames}/{policy.min_matched_frames} matched frames")
    if len(state.live_scores) < policy.live_min_frames:
        missing.append(f"{len(state.live_scores)}/{policy.live_min_frames} liveness frames")
    detail = f"{cause}: {state.face_frames} face frames; missing " + ", ".join(missing or ["nothing"])
    if cause == "expired":
        return _deny(TIMEOUT, detail)
    if state.face_frames < policy.live_min_frames:
        return _deny(NO_FACE, detail)
    if state.step_index < len(challenge):
        return _deny(CHALLENGE_FAILED, detail)
    return _deny(NO_MATCH, detail)


def progress_of(state: AttemptState, challenge: list[str], policy: Policy) -> float:
    """0..1 for the progress bar: baseline, each step, identity and liveness evidence."""
    parts = [min(1.0, len(state.baseline_ears) / max(1, policy.baseline_frames))] if challenge else []
    parts += [1.0 if i < state.step_index else 0.0 for i in range(len(challenge))]
    parts.append(min(1.0, state.matched_frames / max(1, policy.min_matched_frames)))
    parts.append(min(1.0, len(state.live_scores) / max(1, policy.live_min_frames)))
    return round(sum(parts) / len(parts), 3)


def current_step(state: AttemptState, challenge: list[str], policy: Policy) -> str | None:
    if not challenge or len(state.baseline_ears) < policy.baseline_frames or state.step_index >= len(challenge):
        return None
    return challenge[state.step_index]


def prompt_of(state: AttemptState, challenge: list[str], policy: Policy, verdict: Verdict, last_faces: int | None) -> str:
    """What the user should do now (never reveals scores or account existence)."""
    if verdict.state == STATE_GRANTED:
        return "You are signed in."
    if verdict.state == STATE_DENIED:
        return _DENIED_PROMPTS.get(verdict.reason or "", "Sign-in failed. Please try again.")
    if last_faces == 0:
        return "We can't see your face. Centre it in the oval, with light on it."
    step = current_step(state, challenge, policy)
    if step is not None:
        return STEPS[step].prompt(state.step_progress)
    if challenge and len(state.baseline_ears) < policy.baseline_frames:
        return "Look straight at the camera."
    return "Hold still and look at the camera."


_DENIED_PROMPTS = {
    SPOOF: "Sign-in failed: we could not confirm a live person. Use a real camera, in good light.",
    NO_MATCH: "Sign-in failed: we could not recognise you.",
    CHALLENGE_FAILED: "Sign-in failed: the requested movement was not seen in time.",
    MULTIPLE_FACES: "Sign-in failed: only one person may be in view.",
    NO_FACE: "Sign-in failed: no face was seen.",
    TIMEOUT: "Sign-in failed: time ran out. Please try again.",
    REPLAY: "Sign-in failed: the video stream was not live.",
}
