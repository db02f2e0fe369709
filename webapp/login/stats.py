"""Attempt statistics and filters for the admin console (dashboard, attempts page, CSV).

Read-only queries over the attempts table; the figures are what the service stored when it
decided (``LoginAttempt.scores``), so the dashboard shows exactly what the decisions saw.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from webapp.accounts.users import normalise_username_query
from webapp.db.extensions import db
from webapp.db.models import STATE_COLLECTING, STATE_GRANTED, LoginAttempt, utcnow


@dataclass(frozen=True)
class AttemptFilter:
    """The attempts page's filter: any of username, decision, reason and a date range (UTC)."""

    username: str = ""
    state: str = ""
    reason: str = ""
    since: datetime | None = None
    until: datetime | None = None  # exclusive

    def apply(self, query: sa.Select) -> sa.Select:  # type: ignore[type-arg]
        if self.username:
            query = query.where(LoginAttempt.username == normalise_username_query(self.username))
        if self.state:
            query = query.where(LoginAttempt.state == self.state)
        if self.reason:
            query = query.where(LoginAttempt.reason == self.reason)
        if self.since is not None:
            query = query.where(LoginAttempt.created_at >= self.since)
        if self.until is not None:
            query = query.where(LoginAttempt.created_at < self.until)
        return query


def filtered_attempts(f: AttemptFilter, limit: int) -> list[LoginAttempt]:
    query = f.apply(sa.select(LoginAttempt)).order_by(LoginAttempt.created_at.desc(), LoginAttempt.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def known_reasons() -> list[str]:
    return sorted(r for r in db.session.scalars(sa.select(LoginAttempt.reason).distinct()) if r)


@dataclass(frozen=True)
class Outcome:
    """One decided attempt, as the dashboard needs it."""

    at: datetime
    label: str  # "granted" or "denied: <reason>"
    granted: bool
    live_mean: float | None
    best_distance: float | None


def decided_since(since: datetime, limit: int = 20_000) -> list[Outcome]:
    rows = db.session.execute(
        sa.select(LoginAttempt.created_at, LoginAttempt.state, LoginAttempt.reason, LoginAttempt.scores)
        .where(LoginAttempt.created_at >= since, LoginAttempt.state != STATE_COLLECTING)
        .order_by(LoginAttempt.created_at)
        .limit(limit)
    ).all()
    out = []
    for at, state, reason, scores in rows:
        scores = scores or {}
        granted = state == STATE_GRANTED
        out.append(
            Outcome(
                at=at,
                label="granted" if granted else f"denied: {reason or 'unknown'}",
                granted=granted,
                live_mean=_number(scores.get("live_mean")),
                best_distance=_number(scores.get("best_distance")),
            )
        )
    return out


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def over_time(outcomes: Iterable[Outcome], now: datetime | None = None, days: int = 14) -> tuple[list[str], dict[str, list[int]]]:
    """Counts per bucket and label: hourly over the last 48 hours when everything is that
    recent, daily over ``days`` otherwise."""
    items = list(outcomes)
    now = now or utcnow()
    hourly = all(now - o.at <= timedelta(hours=48) for o in items)
    if hourly:
        start = (now - timedelta(hours=23)).replace(minute=0, second=0, microsecond=0)
        if items:
            start = min(start, min(o.at for o in items).replace(minute=0, second=0, microsecond=0))
        n = int((now - start).total_seconds() // 3600) + 1
        keys = [start + timedelta(hours=i) for i in range(n)]
        labels = [k.strftime("%H:00") for k in keys]

        def bucket(at: datetime) -> int:
            return int((at - start).total_seconds() // 3600)
    else:
        first = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
        keys = [first + timedelta(days=i) for i in range(days)]
        labels = [k.strftime("%m-%d") for k in keys]

        def bucket(at: datetime) -> int:
            return (at.replace(hour=0, minute=0, second=0, microsecond=0) - first).days

    counts: dict[str, list[int]] = {}
    order = Counter(o.label for o in items)
    for label in sorted(order, key=lambda lab: (lab != "granted", -order[lab], lab)):
        counts[label] = [0] * len(keys)
    for o in items:
        i = bucket(o.at)
        if 0 <= i < len(keys):
            counts[o.label][i] += 1
    return labels, counts
