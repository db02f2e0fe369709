"""Closing expired attempts that nobody touches again.

An attempt is closed as ``timeout`` when a request touches it after its expiry
(``service.ensure_open``); abandoned ones stayed ``collecting`` for ever (912 after one load
test), which the admin table showed as running. The sweeper closes them the same way: from
``flask attempts sweep`` (all of them, for cron), and a small batch on every ``login/start``
(opportunistic, so a service without cron stays tidy). Each batch is its own transaction; an
attempt another worker updated meanwhile is left for the next pass (optimistic version check).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from webapp.db.extensions import db
from webapp.db.models import STATE_COLLECTING, LoginAttempt
from webapp.login import policy as pol
from webapp.login.state import AttemptState


def close_expired(attempt: LoginAttempt, policy: pol.Policy, now: datetime) -> pol.Verdict:
    """Close one expired attempt as the policy says (``out_of_budget``, cause ``expired``);
    the caller commits."""
    state = AttemptState.from_json(attempt.progress)
    verdict = pol.out_of_budget(state, list(attempt.challenge), policy, "expired")
    # The continuity signature (a thumbnail and the face descriptor) is not kept once decided.
    state.prev_signature = None
    attempt.progress = state.to_json()
    attempt.state = verdict.state
    attempt.reason = verdict.reason
    attempt.detail = (verdict.detail or "")[:256] or None
    attempt.finished_at = now
    return verdict


def sweep(now: datetime, policy: pol.Policy, limit: int | None = None) -> int:
    """Close up to ``limit`` (None: all) expired collecting attempts, oldest first; commits
    each batch and returns how many were closed."""
    closed = 0
    batch = 200 if limit is None else min(200, limit)
    while batch > 0:
        query = (
            sa.select(LoginAttempt)
            .where(LoginAttempt.state == STATE_COLLECTING, LoginAttempt.expires_at <= now)
            .order_by(LoginAttempt.expires_at)
            .limit(batch)
        )
        rows = list(db.session.scalars(query))
        if not rows:
            break
        for attempt in rows:
            close_expired(attempt, policy, now)
        try:
            db.session.commit()
        except StaleDataError:
            db.session.rollback()  # another worker closed or updated one: the next pass sees it
            break
        closed += len(rows)
        if len(rows) < batch:
            break
        if limit is not None:
            limit -= len(rows)
            batch = min(200, limit)
    return closed
