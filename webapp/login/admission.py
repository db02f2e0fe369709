"""Admission control: start no more attempts than the workers can carry at the page's pace.

Overload used to turn into everyone timing out: 50 people at once on 2 workers got 7 frames a
second between them, every step's time budget ran out and no attempt finished. An attempt costs
a steady stream of CPU while it runs (one frame every FRAME_INTERVAL_MS, about
ADMISSION_FRAME_CPU_MS each), so the number the service can carry at once is

    workers * utilisation * 1000 / (frame_cpu_ms * frames_per_second)

(:func:`capacity`). ``login/start`` refuses a new attempt beyond it with 503 ``busy`` and a
``Retry-After`` (a few seconds, jittered), so the attempts already admitted keep their pace and
finish; the page waits and retries by itself.

The count of running attempts is read from the database (collecting, not expired, and a frame
within ADMISSION_IDLE_SECONDS, or no frame yet and started within ADMISSION_FIRST_FRAME_SECONDS),
never from process memory, so every worker on every machine sees the same number. The short
first-frame grace matters: the page sends its first frame right after the start, so an attempt
that never sends one (a script starting attempts, a tab closed at once) would otherwise hold a
slot for the whole idle window, and a stream of such starts could crowd every login out.
Two starts racing can both pass the check: the limit is soft by at most the number of workers,
which the utilisation margin absorbs.
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from webapp.db.extensions import db
from webapp.db.models import STATE_COLLECTING, LoginAttempt
from webapp.errors import Busy
from webapp.settings import AdmissionSettings, AttemptSettings

_BLINK_FPS = 10.0  # a frame interval of 0 (a burst) still runs at about the camera's rate


def capacity(admission: AdmissionSettings, attempts: AttemptSettings) -> int | None:
    """How many attempts may run at once; None when admission control is off."""
    if admission.max_attempts is not None:
        return admission.max_attempts or None
    fps = 1000.0 / attempts.frame_interval_ms if attempts.frame_interval_ms > 0 else _BLINK_FPS
    per_attempt = admission.frame_cpu_ms / 1000.0 * fps  # CPU seconds per second of one attempt
    return max(1, math.floor(admission.workers * admission.utilisation / per_attempt))


def running_attempts(now: datetime, idle_seconds: int, first_frame_seconds: int) -> int:
    """Attempts collecting frames now: not expired, and a frame within ``idle_seconds``, or
    no frame yet and started within ``first_frame_seconds``."""
    framed = LoginAttempt.last_frame_at >= now - timedelta(seconds=idle_seconds)
    starting = sa.and_(LoginAttempt.last_frame_at.is_(None), LoginAttempt.created_at >= now - timedelta(seconds=first_frame_seconds))
    query = sa.select(sa.func.count(LoginAttempt.id)).where(
        LoginAttempt.state == STATE_COLLECTING, LoginAttempt.expires_at > now, sa.or_(framed, starting)
    )
    return int(db.session.scalar(query) or 0)


def retry_after(admission: AdmissionSettings) -> int:
    """Seconds a refused client waits: the base plus a random share of it (no herd)."""
    return admission.retry_seconds + secrets.randbelow(admission.retry_seconds + 1)


def admit(now: datetime, admission: AdmissionSettings, attempts: AttemptSettings) -> None:
    """Raise :class:`Busy` (503, Retry-After) when a new attempt would exceed the capacity."""
    limit = capacity(admission, attempts)
    if limit is None:
        return
    if running_attempts(now, admission.idle_seconds, admission.first_frame_seconds) >= limit:
        raise Busy(retry_after=retry_after(admission))
