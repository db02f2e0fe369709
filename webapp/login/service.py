"""The login flow: start an attempt, take its frames, reach a verdict, all on the server clock.

Frames are analysed outside any transaction (that is the slow part: detection, encoding,
liveness); the result is folded into the attempt in a short transaction guarded by the
attempt's version column, so two workers receiving frames of the same attempt at once cannot
lose or double-count an update: the loser reloads and re-applies.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm.exc import StaleDataError

from webapp.accounts.templates import stack_encodings, user_material
from webapp.accounts.users import normalise_username
from webapp.challenge import screenlight
from webapp.challenge.motion import MOTION_AUDIT_KEYS
from webapp.challenge.steps import pick_challenge
from webapp.db.audit import audit
from webapp.db.extensions import db
from webapp.db.models import (
    STATE_COLLECTING,
    STATE_DENIED,
    STATE_GRANTED,
    AttemptFrame,
    LoginAttempt,
    User,
    utcnow,
)
from webapp.errors import AttemptExpired, AttemptFinished, Locked, RateLimited
from webapp.login import hints
from webapp.login import policy as pol
from webapp.login.admission import admit
from webapp.login.attempts import get_attempt
from webapp.login.frames import FrameContext, FrameReport, analyze_login_frame
from webapp.login.identity import draw_encode_at, needs_encoding
from webapp.login.state import AttemptState
from webapp.login.sweeper import close_expired, sweep
from webapp.login.throttle import check_face_login
from webapp.login.tracking import remember, track_of
from webapp.ops import metrics
from webapp.ops.logs import log_decision
from webapp.runtime.worker import Runtime, runtime
from webapp.settings import settings

_APPLY_TRIES = 8


def current_policy() -> pol.Policy:
    return runtime().policy()


def start_attempt(raw_username: Any, client_addr: str, user_agent: str, device_id: str | None = None) -> LoginAttempt:
    """Create an attempt with a fresh random challenge.

    An unknown username gets an attempt of exactly the same shape, which can only end
    denied: the response never tells whether the account exists. The per-address start rate is
    checked before this (Flask-Limiter, webapp/login/throttle.py); here the per-account rules.
    """
    cfg = settings()
    username = normalise_username(raw_username)
    policy = current_policy()  # refuse (503) before promising a challenge we cannot judge
    now = utcnow()
    try:
        check_face_login(username, client_addr, device_id, now, cfg.throttle)
    except (RateLimited, Locked) as exc:
        audit(exc.error, subject=username, client_addr=client_addr, retry_after=exc.retry_after, device=device_id)
        db.session.commit()
        raise
    _sweep_some(now, cfg.admission.sweep_batch)
    admit(now, cfg.admission, cfg.attempts)  # 503 busy beyond what the workers can carry
    user = db.session.scalar(sa.select(User).where(User.username == username))
    challenge = pick_challenge(list(cfg.challenge.steps), cfg.challenge.count)
    # The screen-light sequence is drawn now (CSPRNG) and never leaves the server as a whole.
    light = screenlight.draw_plan(policy.steps.light) if "screen_light" in challenge else None
    attempt = LoginAttempt(
        public_id=secrets.token_urlsafe(24),
        username=username,
        user_id=user.id if user else None,
        client_addr=client_addr,
        device_id=device_id,
        user_agent=user_agent[:256],
        challenge=challenge,
        state=STATE_COLLECTING,
        created_at=now,
        expires_at=now + timedelta(seconds=cfg.attempts.ttl_seconds),
        progress=AttemptState(encode_at=draw_encode_at(cfg.policy_knobs.baseline_frames, cfg.encoding.random_span), light=light).to_json(),
        scores={},
    )
    db.session.add(attempt)
    db.session.commit()
    metrics.ATTEMPTS_STARTED.inc()
    return attempt


def _sweep_some(now: datetime, batch: int) -> None:
    """Close a few expired attempts (login/sweeper.py) in their own transaction: a start never
    fails because of someone else's stale attempt."""
    if batch <= 0:
        return
    try:
        sweep(now, current_policy(), batch)
    except StaleDataError:
        db.session.rollback()


def _finish(attempt: LoginAttempt, verdict: pol.Verdict) -> None:
    attempt.state = verdict.state
    attempt.reason = verdict.reason
    attempt.detail = (verdict.detail or "")[:256] or None
    attempt.finished_at = utcnow()


def ensure_open(attempt: LoginAttempt) -> None:
    """404/409/410 checks on the server clock. An expired attempt is closed as `timeout`
    on first touch, and keeps answering 410 afterwards."""
    now = utcnow()
    if attempt.state == STATE_COLLECTING and now >= attempt.expires_at:
        close_expired(attempt, current_policy(), now)
        db.session.commit()
        _report_decision(attempt)
        raise AttemptExpired()
    if attempt.state == STATE_DENIED and attempt.reason == pol.TIMEOUT and now >= attempt.expires_at:
        raise AttemptExpired()
    if attempt.state != STATE_COLLECTING:
        raise AttemptFinished()


@dataclass(frozen=True)
class FrameOutcome:
    attempt: LoginAttempt
    verdict: pol.Verdict
    prompt: str
    progress: float
    step: str | None
    user: User | None
    guidance: hints.Guidance | None = None  # what the page shows besides the prompt
    light: dict[str, Any] | None = None  # the colour the page shows now (screen-light step)


def submit_frame(attempt: LoginAttempt, data: bytes, rgb: np.ndarray, client_seq: int | None, arrived_at: datetime) -> FrameOutcome:
    """Analyse one decoded frame, then fold it into ``attempt`` (as loaded by the request)."""
    ensure_open(attempt)  # again: the upload and the decode took time
    with metrics.frame_substages():  # detection, liveness, policy, db... (ops/metrics.py)
        return _submit_frame(attempt, data, rgb, client_seq, arrived_at)


def _submit_frame(attempt: LoginAttempt, data: bytes, rgb: np.ndarray, client_seq: int | None, arrived_at: datetime) -> FrameOutcome:
    public_id = attempt.public_id  # read now: after a failed flush the row cannot be read
    rt = runtime()
    rt.require_face()
    policy = rt.policy()
    state = AttemptState.from_json(attempt.progress)
    encode = needs_encoding(state, settings().encoding)
    templates, refs = _material(attempt, rt, encode)
    ctx = FrameContext(
        attempt.id,
        attempt.username,
        attempt.created_at,
        templates,
        refs,
        encode,
        track_of(state, rt.engine),
        measure_light=state.light is not None,
    )
    with metrics.stage("analysis"):
        report = analyze_login_frame(data, rgb, ctx, rt, settings().replay, arrived_at)
    metrics.FRAMES.labels(faces=str(min(report.facts.faces, 2)) + ("+" if report.facts.faces >= 2 else "")).inc()

    # Frames of one attempt racing each other: each retry is cheap (no re-analysis), and a burst
    # this long is refused anyway (the policy counts frames sent in parallel).
    for _ in range(_APPLY_TRIES):
        try:
            with metrics.stage("decision"):
                outcome = _apply(attempt, report, client_seq, policy)
            if outcome.verdict.state != STATE_COLLECTING:
                _report_decision(outcome.attempt)
            return outcome
        except StaleDataError:
            # Another worker updated this attempt meanwhile: reload and re-apply on top.
            db.session.rollback()
            attempt = get_attempt(public_id)
            ensure_open(attempt)
    raise AttemptFinished("This login attempt is receiving frames too fast; start a new one.")


def _material(attempt: LoginAttempt, rt: Runtime, encode: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The claimed user's templates and liveness references, read (and unsealed) only when this
    frame needs them: its face is encoded, or a liveness member compares with references.
    Unknown users get their decoy under the same rule, so both take the same path."""
    ensemble = rt.require_ensemble()
    if not encode and not ensemble.reference_models():
        return stack_encodings([]), {}
    with metrics.substage("db"):
        templates, refs = user_material(attempt.user_id, ensemble.versions())
    if attempt.user_id is None:
        templates = decoy_templates(attempt.username)  # analysed like a real account's frames
    return templates, refs


def _apply(attempt: LoginAttempt, report: FrameReport, client_seq: int | None, policy: pol.Policy) -> FrameOutcome:
    state = AttemptState.from_json(attempt.progress)
    challenge = list(attempt.challenge)
    seq = attempt.frames_received + 1
    now = utcnow()

    facts = report.facts
    remember(state, report.detection)  # where the next frame's face is searched first
    with metrics.substage("policy"):
        verdict = pol.apply_frame(state, challenge, facts, seq, policy)
        if verdict.state == STATE_COLLECTING:
            verdict = pol.decide(state, challenge, policy)  # identity included (someone else: at the decision)
        if verdict.state == STATE_COLLECTING and seq >= settings().attempts.max_frames:
            verdict = pol.out_of_budget(state, challenge, policy, "frame_cap")
    if verdict.state == STATE_GRANTED and attempt.user_id is None:
        # Unreachable by construction (no templates -> no match); kept as a hard guard.
        verdict = pol.Verdict(STATE_DENIED, pol.NO_MATCH, "unknown user")

    attempt.frames_received = seq
    attempt.face_frames = state.face_frames  # read by the throttle: no face judged, no failure
    attempt.last_frame_at = now
    if verdict.state != STATE_COLLECTING:
        # The continuity signature holds a coarse thumbnail of the frame and the face descriptor
        # (int8): needed only while the attempt runs, never kept once it is decided.
        state.prev_signature = None
    light = pol.tell_light(state, challenge, policy, verdict, facts.t_done)  # recorded with the state
    attempt.progress = state.to_json()
    attempt.scores = _summary(state)
    outcome = "ok" if facts.faces == 1 else ("no_face" if facts.faces == 0 else "multiple_faces")
    if facts.replay.seen_in_other_attempt:
        outcome = "replayed"
    elif facts.replay.near_duplicate:
        outcome = "near_duplicate"
    hashes = report.hashes
    db.session.add(
        AttemptFrame(
            attempt_id=attempt.id,
            seq=seq,
            client_seq=client_seq,
            received_at=now,
            sha256=facts.sha256,
            phash=hashes.phash if hashes else None,
            dhash=hashes.dhash if hashes else None,
            fingerprint=hashes.fingerprint if hashes else None,
            faces=facts.faces,
            outcome=outcome,
            signals={**report.audit, "t": round(facts.t, 3)},
        )
    )
    if verdict.state != STATE_COLLECTING:
        _finish(attempt, verdict)
    with metrics.substage("db"):
        db.session.flush()  # raises StaleDataError if another worker got here first
        # Only a grant needs the user (to start their session).
        user = db.session.get(User, attempt.user_id) if verdict.state == STATE_GRANTED and attempt.user_id else None
        db.session.commit()
    return FrameOutcome(
        guidance=hints.guidance(report.look, state, challenge, policy, verdict, report.facts.t_done, settings().guidance),
        attempt=attempt,
        verdict=verdict,
        # A head the frontal detector lost mid-turn but the tracker follows is still in view.
        prompt=pol.prompt_of(state, challenge, policy, verdict, 1 if facts.faces == 0 and facts.tracked_box else facts.faces),
        # The bar's identity part counts face frames, not matched ones: it must not tell a
        # stranger, frame by frame, whether the face matches (or whether the account exists).
        progress=1.0
        if verdict.state == STATE_GRANTED
        else pol.progress_of(replace(state, matched_frames=state.face_frames), challenge, policy),
        step=pol.current_step(state, challenge, policy) if verdict.state == STATE_COLLECTING else None,
        user=user,
        light=light,
    )


def _report_decision(attempt: LoginAttempt) -> None:
    """Metrics and the decision log line, once the decision is committed (never on a retry)."""
    scores = attempt.scores or {}
    live, distance = scores.get("live_mean"), scores.get("best_distance")
    metrics.record_decision(attempt.state, attempt.reason, live, distance)
    duration = (attempt.finished_at - attempt.created_at).total_seconds() if attempt.finished_at else None
    log_decision(
        attempt=attempt.id,
        username=attempt.username,
        known_user=attempt.user_id is not None,
        client_addr=attempt.client_addr,
        decision=attempt.state,
        reason=attempt.reason,
        detail=attempt.detail,
        challenge=list(attempt.challenge),
        steps_done=scores.get("steps_done"),
        frames=attempt.frames_received,
        face_frames=scores.get("face_frames"),
        matched_frames=scores.get("matched_frames"),
        live_mean=live,
        best_distance=distance,
        duration_s=round(duration, 3) if duration is not None else None,
    )


def decoy_templates(username: str) -> np.ndarray:
    """The template an unknown username is compared with: a fixed pseudo-random encoding drawn
    from the secret key and the name (components like a dlib encoding's, about 0.09 apart; a real
    face lies about 1.4 away, far beyond the mismatch distance). Frames of an unknown account then
    take the very path a real account's frames take, one distance per frame included."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    seed = hmac.new(key, b"livegate-decoy:" + username.encode(), hashlib.sha256).digest()
    rng = np.random.default_rng(int.from_bytes(seed[:16], "big"))
    return rng.normal(0.0, 0.09, size=(1, 128))


def _summary(state: AttemptState) -> dict[str, Any]:
    """Per-signal scores for the admin attempts table (never sent to the end user)."""
    return {
        "face_frames": state.face_frames,
        "no_face_frames": state.no_face_frames,
        "matched_frames": state.matched_frames,
        "encodings": state.encodings,
        "best_distance": None if state.best_distance in (None, float("inf")) else round(state.best_distance, 4),
        "worst_distance": None if state.worst_distance in (None, float("inf")) else round(state.worst_distance, 4),
        "live_mean": None if state.live_mean is None else round(state.live_mean, 4),
        "live_frames": len(state.live_scores),
        "steps_done": [s["step"] for s in state.steps_done],
        "duplicate_frames": state.duplicate_frames,
        "near_duplicates": state.near_duplicates,
        "parallel_frames": state.parallel_frames,
        "track_breaks": state.track_breaks,
        "continuity_breaks": list(state.continuity_breaks),
        "motion": state.motion.audit() if state.motion else dict.fromkeys(MOTION_AUDIT_KEYS),
        "timing": {"frames": state.timing.frames, "mean_gap": state.timing.mean_gap, "min_gap": state.timing.min_gap},
    }
