"""The login flow: start an attempt, take its frames, reach a verdict, all on the server clock.

Frames are analysed outside any transaction (that is the slow part: detection, encoding,
liveness); the result is folded into the attempt in a short transaction guarded by the
attempt's version column, so two workers receiving frames of the same attempt at once cannot
lose or double-count an update: the loser reloads and re-applies.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from webapp.accounts.templates import user_material
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
from webapp.login import policy as pol
from webapp.login.attempts import get_attempt
from webapp.login.frames import FrameContext, FrameReport, analyze_login_frame
from webapp.login.state import AttemptState
from webapp.login.throttle import check_account_lock, check_client_rate
from webapp.runtime.worker import runtime
from webapp.settings import settings


def current_policy() -> pol.Policy:
    return runtime().policy()


def start_attempt(raw_username: Any, client_addr: str, user_agent: str) -> LoginAttempt:
    """Create an attempt with a fresh random challenge.

    An unknown username gets an attempt of exactly the same shape, which can only end
    denied: the response never tells whether the account exists.
    """
    cfg = settings()
    username = normalise_username(raw_username)
    policy = current_policy()  # refuse (503) before promising a challenge we cannot judge
    now = utcnow()
    try:
        check_client_rate(client_addr, now, cfg.throttle)
        check_account_lock(username, now, cfg.throttle)
    except (RateLimited, Locked) as exc:
        audit(exc.error, subject=username, client_addr=client_addr, retry_after=exc.retry_after)
        db.session.commit()
        raise
    user = db.session.scalar(sa.select(User).where(User.username == username))
    challenge = pick_challenge(list(cfg.challenge.steps), cfg.challenge.count)
    # The screen-light sequence is drawn now (CSPRNG) and never leaves the server as a whole.
    light = screenlight.draw_plan(policy.steps.light) if "screen_light" in challenge else None
    attempt = LoginAttempt(
        public_id=secrets.token_urlsafe(24),
        username=username,
        user_id=user.id if user else None,
        client_addr=client_addr,
        user_agent=user_agent[:256],
        challenge=challenge,
        state=STATE_COLLECTING,
        created_at=now,
        expires_at=now + timedelta(seconds=cfg.attempts.ttl_seconds),
        progress=AttemptState(light=light).to_json(),
        scores={},
    )
    db.session.add(attempt)
    db.session.commit()
    return attempt


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
        state = AttemptState.from_json(attempt.progress)
        verdict = pol.out_of_budget(state, list(attempt.challenge), current_policy(), "expired")
        state.prev_signature = None  # see _apply: not kept once the attempt is decided
        attempt.progress = state.to_json()
        _finish(attempt, verdict)
        db.session.commit()
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
    light: dict[str, Any] | None = None  # the colour the page shows now (screen-light step)


def submit_frame(attempt: LoginAttempt, data: bytes, rgb: np.ndarray, client_seq: int | None, arrived_at: datetime) -> FrameOutcome:
    """Analyse one decoded frame, then fold it into ``attempt`` (as loaded by the request)."""
    ensure_open(attempt)  # again: the upload and the decode took time
    public_id = attempt.public_id  # read now: after a failed flush the row cannot be read
    rt = runtime()
    policy = rt.policy()
    templates, refs = user_material(attempt.user_id, rt.require_ensemble().versions())
    ctx = FrameContext(attempt.id, attempt.username, attempt.created_at, templates, refs)
    report = analyze_login_frame(data, rgb, ctx, rt, settings().replay, arrived_at)

    for _ in range(3):
        try:
            return _apply(attempt, report, client_seq, policy)
        except StaleDataError:
            # Another worker updated this attempt meanwhile: reload and re-apply on top.
            db.session.rollback()
            attempt = get_attempt(public_id)
            ensure_open(attempt)
    raise AttemptFinished("This login attempt is receiving frames too fast; start a new one.")


def _apply(attempt: LoginAttempt, report: FrameReport, client_seq: int | None, policy: pol.Policy) -> FrameOutcome:
    state = AttemptState.from_json(attempt.progress)
    challenge = list(attempt.challenge)
    seq = attempt.frames_received + 1
    now = utcnow()

    facts = report.facts
    verdict = pol.apply_frame(state, challenge, facts, seq, policy)
    if verdict.state == STATE_COLLECTING:
        verdict = pol.decide(state, challenge, policy)
    if verdict.state == STATE_COLLECTING and seq >= settings().attempts.max_frames:
        verdict = pol.out_of_budget(state, challenge, policy, "frame_cap")
    if verdict.state == STATE_GRANTED and attempt.user_id is None:
        # Unreachable by construction (no templates -> no match); kept as a hard guard.
        verdict = pol.Verdict(STATE_DENIED, pol.NO_MATCH, "unknown user")

    attempt.frames_received = seq
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
    db.session.flush()  # raises StaleDataError if another worker got here first
    # Only a grant needs the user (to start their session).
    user = db.session.get(User, attempt.user_id) if verdict.state == STATE_GRANTED and attempt.user_id else None
    db.session.commit()
    return FrameOutcome(
        attempt=attempt,
        verdict=verdict,
        prompt=pol.prompt_of(state, challenge, policy, verdict, facts.faces),
        progress=1.0 if verdict.state == STATE_GRANTED else pol.progress_of(state, challenge, policy),
        step=pol.current_step(state, challenge, policy) if verdict.state == STATE_COLLECTING else None,
        user=user,
        light=light,
    )


def _summary(state: AttemptState) -> dict[str, Any]:
    """Per-signal scores for the admin attempts table (never sent to the end user)."""
    return {
        "face_frames": state.face_frames,
        "no_face_frames": state.no_face_frames,
        "matched_frames": state.matched_frames,
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
