"""Prometheus metrics: attempts by decision and reason, per-stage latency, attempt-level
scores by decision, and the model versions each worker serves.

Under gunicorn every worker is a process: gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR at
a fresh folder before any worker imports this module, prometheus_client then keeps each
worker's values in files there, and ``/metrics`` (any worker) adds them up
(MultiProcessCollector). Without that variable (flask run, tests) the process's own registry
is served. Labels hold codes only: no username, address, attempt or session id.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

ATTEMPTS = Counter("livegate_login_attempts", "Login attempts decided, by decision and coarse reason.", ["decision", "reason"])
ATTEMPTS_STARTED = Counter("livegate_login_attempts_started", "Login attempts started (refusals by throttling not included).")
FRAMES = Counter("livegate_login_frames", "Login frames analysed, by how many faces they showed.", ["faces"])
STAGE_SECONDS = Histogram(
    "livegate_frame_stage_seconds",
    "Time spent on one login frame, per stage: decode (bytes to pixels), analysis (replay lookups, "
    "face, identity, liveness, landmarks), decision (policy and its transaction).",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 2.0, 5.0),
)
LIVE_SCORE = Histogram(
    "livegate_attempt_live_score",
    "Mean passive live score of each decided attempt, by decision.",
    ["decision"],
    buckets=tuple(i / 10 for i in range(1, 11)),
)
IDENTITY_DISTANCE = Histogram(
    "livegate_attempt_identity_distance",
    "Best identity distance of each decided attempt, by decision.",
    ["decision"],
    buckets=(0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 1.0),
)
MODEL_INFO = Gauge(
    "livegate_model_info",
    "The liveness models loaded by the workers (value 1), with their card versions.",
    ["role", "name", "version"],
    multiprocess_mode="max",
)


def record_decision(decision: str, reason: str | None, live_mean: float | None, best_distance: float | None) -> None:
    ATTEMPTS.labels(decision=decision, reason=reason or "none").inc()
    if live_mean is not None:
        LIVE_SCORE.labels(decision=decision).observe(live_mean)
    if best_distance is not None:
        IDENTITY_DISTANCE.labels(decision=decision).observe(best_distance)


def record_models(ensemble_version: str, members: Mapping[str, str]) -> None:
    MODEL_INFO.labels(role="ensemble", name="ensemble", version=ensemble_version).set(1)
    for name, version in members.items():
        MODEL_INFO.labels(role="liveness", name=name, version=version).set(1)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time a stage of frame handling (also when it raises: a refused frame took time too)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        STAGE_SECONDS.labels(stage=name).observe(time.perf_counter() - started)


def exposition() -> tuple[bytes, str]:
    """The text format for a scrape: every worker's values under gunicorn, else this process's."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
