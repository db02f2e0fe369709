"""The decision policy (shared/spec/decision-policy.md), in one place.

Pure functions over :class:`AttemptState`: no database, no models, no clock reads, so the
policy is unit-tested exhaustively and every worker decides the same way. The service feeds
each analysed frame to :func:`apply_frame`, then asks :func:`decide`; when the attempt runs
out of time or frames it asks :func:`out_of_budget` for the denial. The service only gathers
the facts (``FrameFacts``); every verdict, identity at the decision included, is made here.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from webapp.challenge import screenlight
from webapp.challenge.blink import append_history
from webapp.challenge.bridge import BridgeSettings, box_follows, face_inside
from webapp.challenge.continuity import ContinuitySettings, FrameSignature, breaks, compare
from webapp.challenge.geometry import same_face_track
from webapp.challenge.motion import MotionSettings, motion_is_planar, update_motion, update_timing
from webapp.challenge.steps import STEPS, Baseline, StepFrame, StepSettings
from webapp.config import DEFAULTS
from webapp.db.models import STATE_COLLECTING, STATE_DENIED, STATE_GRANTED
from webapp.login.facts import FrameFacts
from webapp.login.state import AttemptState, TrackPoint

# Coarse reasons a client may see (shared/spec/http-api.md).
SPOOF = "spoof"
NO_MATCH = "no_match"
CHALLENGE_FAILED = "challenge_failed"
MULTIPLE_FACES = "multiple_faces"
NO_FACE = "no_face"
TIMEOUT = "timeout"
REPLAY = "replay"

# Frames of eye-opening history kept for the blink detector when none is configured.
_DEFAULT_BLINK_WINDOW = 10


@dataclass(frozen=True)
class TrackSettings:
    """Face-track continuity (geometry.same_face_track): how far a real head moves between frames."""

    max_speed: float = DEFAULTS["TRACK_MAX_SPEED_IOD"]  # inter-ocular distances per second
    max_shift: float = DEFAULTS["TRACK_MAX_SHIFT_IOD"]  # inter-ocular distances, whatever the gap
    max_scale_speed: float = DEFAULTS["TRACK_MAX_SCALE_SPEED"]  # |log scale change| per second
    max_breaks: int = DEFAULTS["TRACK_MAX_BREAKS"]  # more jumps than this end the attempt
    bridge: BridgeSettings | None = field(default_factory=BridgeSettings)  # None: no bridging


@dataclass(frozen=True)
class ContinuityPolicy:
    """Continuity cues between consecutive face frames (challenge/continuity.py)."""

    cues: ContinuitySettings = field(default_factory=ContinuitySettings)
    max_breaks: int = DEFAULTS["CONTINUITY_MAX_BREAKS"]  # more breaks than this deny (spoof)


@dataclass(frozen=True)
class PlanaritySettings:
    """Planar-motion cue (motion.py): a picture moved in front of the camera moves like a plane."""

    motion: MotionSettings = field(default_factory=MotionSettings)
    min_turned_frames: int = DEFAULTS["PLANAR_MIN_TURNED_FRAMES"]
    max_planar_share: float = DEFAULTS["PLANAR_MAX_PLANAR_SHARE"]


@dataclass(frozen=True)
class Policy:
    """The configured knobs of the policy (``webapp.settings.Settings.policy`` builds it once per
    runtime; the defaults are those of webapp/config.py, for tests and tools)."""

    tolerance: float = DEFAULTS["IDENTITY_TOLERANCE"]
    mismatch_distance: float = DEFAULTS["IDENTITY_MISMATCH_DISTANCE"]
    min_matched_frames: int = DEFAULTS["IDENTITY_MIN_MATCHED_FRAMES"]
    live_threshold: float = 0.5  # the loaded ensemble card's (or LIVENESS_THRESHOLD)
    live_min_frames: int = DEFAULTS["LIVENESS_MIN_FRAMES"]
    baseline_frames: int = DEFAULTS["CHALLENGE_BASELINE_FRAMES"]
    step_max_seconds: float = DEFAULTS["CHALLENGE_STEP_MAX_SECONDS"]
    blink_step_max_seconds: float = DEFAULTS["BLINK_STEP_MAX_SECONDS"]
    step_max_frames: int = DEFAULTS["CHALLENGE_STEP_MAX_FRAMES"]
    blink_step_max_frames: int = DEFAULTS["BLINK_STEP_MAX_FRAMES"]
    multi_face_grace_seconds: float = DEFAULTS["MULTIPLE_FACES_GRACE_SECONDS"]
    multi_face_grace_frames: int = DEFAULTS["MULTIPLE_FACES_GRACE_FRAMES"]
    max_duplicate_frames: int = DEFAULTS["REPLAY_MAX_DUPLICATE_FRAMES"]
    max_near_duplicate_frames: int = DEFAULTS["REPLAY_MAX_NEAR_DUPLICATE_FRAMES"]
    max_parallel_frames: int = DEFAULTS["REPLAY_MAX_PARALLEL_FRAMES"]
    steps: StepSettings = field(default_factory=StepSettings)
    track: TrackSettings = field(default_factory=TrackSettings)
    planarity: PlanaritySettings | None = field(default_factory=PlanaritySettings)  # None: cue off
    continuity: ContinuityPolicy | None = field(default_factory=ContinuityPolicy)  # None: cue off

    def max_frames_for(self, step: str) -> int:
        return self.blink_step_max_frames if step == "blink" else self.step_max_frames

    def max_seconds_for(self, step: str) -> float:
        if step == "screen_light":  # the drawn sequence's longest length, and a second to judge it
            return max(self.step_max_seconds, self.steps.light.sequence_max_seconds + 1.0)
        return self.blink_step_max_seconds if step == "blink" else self.step_max_seconds

    @property
    def blink_window(self) -> int:
        judge = self.steps.blink_judge
        return int(judge.window) if judge is not None else _DEFAULT_BLINK_WINDOW


@dataclass(frozen=True)
class Verdict:
    state: str
    reason: str | None = None
    detail: str | None = None
    prompt: str | None = None  # a denial's own prompt (a step that knows why it failed), else the reason's


COLLECTING = Verdict(STATE_COLLECTING)


def _deny(reason: str, detail: str) -> Verdict:
    return Verdict(STATE_DENIED, reason, detail)


def baseline_of(state: AttemptState) -> Baseline:
    # The open-eye level is the largest of the baseline frames' eye openings, not their median:
    # a blink during the baseline (one person in ten, about) would otherwise lower it, and
    # every later blink would then look shallow.
    return Baseline(
        ear=max(state.baseline_ears),
        yaw=statistics.median(state.baseline_yaws),
        face_px=int(statistics.median(state.baseline_px)),
        iod=statistics.median(state.baseline_iods) if state.baseline_iods else None,
    )


def apply_frame(state: AttemptState, challenge: list[str], frame: FrameFacts, seq: int, policy: Policy) -> Verdict:
    """Fold one frame into ``state`` (mutated). Returns a denial the frame alone proves, else COLLECTING."""
    verdict = _stream_checks(state, frame, policy)
    if verdict is not None:
        return verdict
    if frame.faces == 0:
        state.no_face_frames += 1
        state.encoded_in_track = 0  # whoever comes back after a gap is identified again
        _bridge(state, frame, policy)
        return COLLECTING
    if frame.faces > 1:
        state.bridge, state.bridge_lost = None, True
        return _several_faces(state, frame, seq, policy)
    state.multi_face_since, state.multi_face_frames = None, 0

    state.face_frames += 1
    verdict = _identity(state, frame, seq, policy)
    if verdict is not None:
        return verdict
    if frame.live_score is not None:
        state.live_scores.append(round(float(frame.live_score), 4))
    if frame.signals is None:
        return COLLECTING
    verdict = _continuity(state, frame, policy) or _motion(state, frame, policy, bool(challenge))
    if verdict is not None or not challenge:
        return verdict or COLLECTING
    return _challenge(state, challenge, frame, seq, policy)


def _stream_checks(state: AttemptState, frame: FrameFacts, policy: Policy) -> Verdict | None:
    """Is this a fresh camera frame, sent in order? (decision policy 5, replay)."""
    state.timing = update_timing(state.timing, frame.t)
    if frame.t < state.last_done_t:
        # It arrived before the previous frame was answered: frames sent in parallel have no
        # trustworthy order, and every temporal cue (steps, blinks, motion) needs one.
        state.parallel_frames += 1
        if state.parallel_frames > policy.max_parallel_frames:
            return _deny(REPLAY, f"{state.parallel_frames} frames sent in parallel")
    state.last_done_t = max(state.last_done_t, round(frame.t_done, 4))
    if frame.replay.seen_in_other_attempt:
        return _deny(REPLAY, "frame bytes identical to a frame of another attempt")
    short = frame.sha256[:16]
    if short in state.sha_seen:
        state.duplicate_frames += 1
        if state.duplicate_frames > policy.max_duplicate_frames:
            return _deny(REPLAY, f"{state.duplicate_frames} byte-identical frames repeated")
    else:
        state.sha_seen.append(short)
        if frame.replay.near_duplicate:
            state.near_duplicates += 1
            if state.near_duplicates > policy.max_near_duplicate_frames:
                return _deny(REPLAY, f"{state.near_duplicates} re-encoded copies of earlier frames")
    return None


def _several_faces(state: AttemptState, frame: FrameFacts, seq: int, policy: Policy) -> Verdict:
    """Several faces: not evidence of anything; denied once they stay in view past the grace."""
    if state.multi_face_since is None:
        state.multi_face_since = round(frame.t, 4)
    state.multi_face_frames += 1
    lasted = frame.t - state.multi_face_since
    if lasted >= policy.multi_face_grace_seconds or state.multi_face_frames >= policy.multi_face_grace_frames:
        return _deny(MULTIPLE_FACES, f"{frame.faces} faces in frame {seq}, in view for {lasted:.1f} s ({state.multi_face_frames} frames)")
    return COLLECTING


def _identity(state: AttemptState, frame: FrameFacts, seq: int, policy: Policy) -> Verdict | None:
    """Decision policy 1, the evidence: frames of the claimed user, and the worst distance seen.

    A frame of someone else (farther than ``mismatch_distance``) does not end the attempt here:
    :func:`decide` denies it once everything else is in (see :func:`someone_else`)."""
    if not frame.encoded:
        state.last_frame_encoded = False
        return None
    state.encodings += 1
    state.encoded_in_track += 1
    state.last_frame_encoded = True
    state.encode_next = False
    distance = frame.distance if frame.distance is not None else float("inf")
    if distance <= policy.tolerance:
        state.matched_frames += 1
    state.best_distance = distance if state.best_distance is None else min(state.best_distance, distance)
    state.worst_distance = distance if state.worst_distance is None else max(state.worst_distance, distance)
    return None


def someone_else(state: AttemptState, policy: Policy) -> bool:
    """Did any encoded frame show a face farther than ``mismatch_distance`` from the claimed
    user's templates (always, for an unknown username: its decoy template is far from any face)?"""
    return state.worst_distance is not None and state.worst_distance > policy.mismatch_distance


def _motion(state: AttemptState, frame: FrameFacts, policy: Policy, challenged: bool) -> Verdict | None:
    """Face-track continuity and planar motion, from the landmarks of consecutive face frames."""
    assert frame.signals is not None
    if frame.landmarks is None:
        return None
    landmarks = np.asarray(frame.landmarks, np.float64)
    if state.track_prev is not None:
        prev = np.asarray(state.track_prev.pts, np.float64)
        check = same_face_track(
            prev,
            landmarks,
            frame.t - state.track_prev.t,
            max_speed=policy.track.max_speed,
            max_shift=policy.track.max_shift,
            max_scale_speed=policy.track.max_scale_speed,
        )
        if not check.same and _bridged(state, landmarks):
            state.track_bridged += 1
        elif not check.same:
            # Another face took the place of the one being tracked: nothing half-done by the
            # previous face may count for the current step.
            state.track_breaks += 1
            state.encoded_in_track = 0  # the next face frame is encoded: who is this?
            state.step_progress = {}
            state.blink_ears, state.blink_times = [], []
            # Without a challenge there is no step to fail: a jump only clears half-done evidence.
            if challenged and state.track_breaks > policy.track.max_breaks:
                return _deny(CHALLENGE_FAILED, f"the face jumped {state.track_breaks} times (shift {check.shift:.2f} IOD)")
    state.track_prev = TrackPoint(pts=np.round(landmarks, 1).tolist(), t=round(frame.t, 4))
    state.bridge, state.bridge_lost = None, False
    if policy.planarity is not None:
        state.motion = update_motion(state.motion, landmarks, frame.signals.yaw, policy.planarity.motion)
        if motion_is_planar(state.motion, policy.planarity.min_turned_frames, policy.planarity.max_planar_share):
            assert state.motion is not None
            planar, turned = state.motion.planar_turned, state.motion.turned
            return _deny(SPOOF, f"the face moved like a flat picture ({planar} of {turned} turned frames planar)")
    return None


def _bridge(state: AttemptState, frame: FrameFacts, policy: Policy) -> None:
    """Carry the face track through a frame the frontal detector missed, on the context
    detector's box: from the last face's landmarks, then box to box, as a head moves."""
    settings = policy.track.bridge
    if settings is None or state.track_prev is None or state.bridge_lost:
        return
    box = frame.tracked_box
    if box is None:
        state.bridge, state.bridge_lost = None, True
        return
    if state.bridge is None:
        follows = face_inside(state.track_prev.pts, box)
    else:
        follows = box_follows(state.bridge[:4], box, frame.t - state.bridge[4], settings)
    if follows:
        state.bridge = [round(float(v), 1) for v in box] + [round(frame.t, 4)]
    else:
        state.bridge, state.bridge_lost = None, True


def _bridged(state: AttemptState, landmarks: np.ndarray) -> bool:
    """Is the face that reappeared the one the bridge followed (inside its last box)?"""
    return state.bridge is not None and not state.bridge_lost and face_inside(landmarks, state.bridge[:4])


def _continuity(state: AttemptState, frame: FrameFacts, policy: Policy) -> Verdict | None:
    """Is this face frame the next moment of the previous one (scene, pose, face)? A break
    clears half-done evidence like a track jump; repeated breaks deny (spoof), each break's
    cues kept for the audit."""
    if policy.continuity is None or frame.signature is None:
        return None
    prev, prev_t = state.prev_signature, state.prev_signature_t
    state.prev_signature, state.prev_signature_t = frame.signature.to_json(), round(frame.t, 4)
    if prev is None:
        return None
    measured = compare(FrameSignature.from_json(prev), frame.signature, frame.t - prev_t, policy.continuity.cues)
    codes = breaks(measured, policy.continuity.cues)
    if not codes:
        return None
    state.continuity_breaks.append("+".join(codes))
    state.encoded_in_track = 0
    state.step_progress = {}
    state.blink_ears, state.blink_times = [], []
    if len(state.continuity_breaks) > policy.continuity.max_breaks:
        return _deny(SPOOF, f"the scene was not continuous {len(state.continuity_breaks)} times: {', '.join(state.continuity_breaks)}")
    return None


def _challenge(state: AttemptState, challenge: list[str], frame: FrameFacts, seq: int, policy: Policy) -> Verdict:
    """Decision policy 3: the baseline, then each random step in order, each within its budget."""
    signals = frame.signals
    assert signals is not None
    append_history(state.blink_ears, state.blink_times, signals.ear, frame.t, policy.blink_window)
    if len(state.baseline_ears) < policy.baseline_frames:
        state.baseline_ears.append(round(signals.ear, 4))
        state.baseline_yaws.append(round(signals.yaw, 2))
        state.baseline_px.append(signals.face_px)
        if signals.iod is not None:
            state.baseline_iods.append(round(signals.iod, 2))
        return COLLECTING
    if state.step_index >= len(challenge):
        return COLLECTING
    step = STEPS[challenge[state.step_index]]
    if state.step_started_t is None:
        state.step_started_t = round(frame.t, 4)
    state.step_frames += 1
    step_frame = StepFrame(
        signals,
        baseline_of(state),
        tuple(state.blink_ears),
        tuple(state.blink_times),
        state.step_frames,
        t=frame.t,
        t_done=frame.t_done,
        light=frame.light,
        light_plan=state.light,
    )
    if step.update(state.step_progress, step_frame, policy.steps):
        state.steps_done.append({"step": step.name, "seq": seq, "frames": state.step_frames})
        state.step_index += 1
        state.step_frames = 0
        state.step_started_t = round(frame.t, 4)
        state.step_progress = {}
    elif state.step_progress.get("failed"):
        # The step knows why it failed: its detail goes to the audit trail; a step with its own
        # denial text (screen light: "your room is too bright") tells it, the others the usual one.
        progress = state.step_progress
        detail = f"step {state.step_index + 1} ({step.name}): {progress.get('detail') or progress['failed']}"
        own = getattr(step, "failure_prompt", None)
        prompt = own(progress) if own is not None else None
        return Verdict(STATE_DENIED, CHALLENGE_FAILED, detail, prompt)
    else:
        elapsed = frame.t - state.step_started_t
        if elapsed >= policy.max_seconds_for(step.name) or state.step_frames >= policy.max_frames_for(step.name):
            detail = f"step {state.step_index + 1} ({step.name}) not done in {elapsed:.1f} s ({state.step_frames} face frames)"
            return _deny(CHALLENGE_FAILED, detail)
    return COLLECTING


def decide(state: AttemptState, challenge: list[str], policy: Policy) -> Verdict:
    """Grant when every condition of the policy holds; otherwise keep collecting.

    "Someone else" (decision policy 1) is decided here, when the challenge is done and enough
    frames were judged live, not on the frame that shows it. Ending an attempt on its first
    mismatching frame answered, frame by frame, whether a face matches an account, and so
    whether the account exists (a photo of the victim got ``collecting`` for a real account and
    ``no_match`` for a missing one). Now every attempt runs the same course, and one that ever
    showed someone else is denied ``spoof`` if its live score fails (as it would be anyway),
    else ``no_match``: both are reasons a real user's failure gets too.
    """
    if state.step_index < len(challenge):
        return COLLECTING
    if someone_else(state, policy):
        return _someone_else_verdict(state, policy)
    if state.matched_frames < policy.min_matched_frames:
        state.encode_next = True  # identity evidence is what is missing (sparse encoding)
        return COLLECTING
    if len(state.live_scores) < policy.live_min_frames:
        return COLLECTING
    live = state.live_mean
    assert live is not None
    if live < policy.live_threshold:
        return _deny(SPOOF, f"mean live score {live:.3f} < {policy.live_threshold:.3f} over {len(state.live_scores)} frames")
    if not state.last_frame_encoded:
        # Never grant on a frame whose face was not encoded: the next one is, and decides.
        state.encode_next = True
        return COLLECTING
    return Verdict(STATE_GRANTED, None, f"{state.matched_frames} matched frames, live {live:.3f}, steps {challenge}")


def _someone_else_verdict(state: AttemptState, policy: Policy) -> Verdict:
    """The denial of an attempt that showed someone else, once its liveness evidence is in."""
    if len(state.live_scores) < policy.live_min_frames:
        return COLLECTING
    live = state.live_mean
    if live is not None and live < policy.live_threshold:
        return _deny(SPOOF, f"mean live score {live:.3f} < {policy.live_threshold:.3f}; a frame showed someone else")
    return _deny(NO_MATCH, f"a frame showed someone else (worst distance {state.worst_distance:.3f})")


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
    if state.matched_frames >= policy.min_matched_frames:
        # The user was recognised but too few frames could be judged live (the liveness members
        # abstain when their context detector misses the face): not a recognition failure.
        return _deny(SPOOF, detail)
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
        if verdict.prompt:
            return verdict.prompt
        return _DENIED_PROMPTS.get(verdict.reason or "", "Sign-in failed. Please try again.")
    if last_faces == 0:
        return "We can't see your face. Centre it in the oval, with light on it."
    if last_faces is not None and last_faces > 1:
        return "Only you should be in view: we can see more than one face."
    step = current_step(state, challenge, policy)
    if step is not None:
        return STEPS[step].prompt(state.step_progress)
    if challenge and len(state.baseline_ears) < policy.baseline_frames:
        return "Look straight at the camera."
    return "Hold still and look at the camera."


def tell_light(state: AttemptState, challenge: list[str], policy: Policy, verdict: Verdict, now: float) -> dict[str, Any] | None:
    """The colour the page is to show behind the camera view from this answer on (screen-light
    step), or None. What is told is recorded in ``state.light`` with ``now`` (the server time of
    the answer): the step judges the frames by what the page was told, not by the schedule."""
    if verdict.state != STATE_COLLECTING or state.light is None or current_step(state, challenge, policy) != "screen_light":
        return None
    screenlight.tell(state.light, now)
    return screenlight.instruction(state.light, now, policy.steps.light)


_DENIED_PROMPTS = {
    SPOOF: "Sign-in failed: we could not confirm a live person. Use a real camera, in good light.",
    NO_MATCH: "Sign-in failed: we could not recognise you.",
    CHALLENGE_FAILED: "Sign-in failed: the requested movement was not seen in time.",
    MULTIPLE_FACES: "Sign-in failed: only one person may be in view.",
    NO_FACE: "Sign-in failed: no face was seen.",
    TIMEOUT: "Sign-in failed: time ran out. Please try again.",
    REPLAY: "Sign-in failed: the video stream was not live.",
}
