"""Prometheus metrics: attempts by decision and reason, per-stage latency, attempt-level
scores by decision, and the model versions each worker serves.

Latency is wall time on the monotonic clock (``time.perf_counter``), not process CPU time: CPU
time counts every thread of the process (gthread workers run several requests at once, and
onnxruntime's own threads add CPU beyond the wall time), and it misses what a person waits for
without any CPU being used (the dlib lock held by another request, SQLite's fsync, a Redis
round trip). Two families: the three phases of a frame request (``livegate_frame_stage_seconds``:
decode, analysis, decision; they do not overlap) and the work inside them
(``livegate_frame_substage_seconds``: replay, detection, landmarks_encoding, liveness inside
the analysis; policy and most of db inside the decision), each sub-stage observed once per frame with its
total (two detectors, or a retried transaction, add up), and only when it ran.

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
from contextvars import ContextVar

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
SUBSTAGE_SECONDS = Histogram(
    "livegate_frame_substage_seconds",
    "Time spent inside the stages of one login frame: replay (hashes and their lookups), detection "
    "(frontal and context detectors), landmarks_encoding (landmarks, quality, the identity encoding "
    "when drawn), liveness (the ONNX ensemble) in the analysis; policy (the pure decision) and db "
    "(the templates read before the analysis, the frame row written and committed in the decision). "
    "Each observed once per frame, with its total, when it ran.",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0, 2.0),
)
SUBSTAGES = ("replay", "detection", "landmarks_encoding", "liveness", "policy", "db")
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


# The sub-stage totals of the frame this thread (or task) is handling: set by frame_substages.
_SUBSTAGE_TOTALS: ContextVar[dict[str, float] | None] = ContextVar("livegate_substage_totals", default=None)


@contextmanager
def frame_substages() -> Iterator[None]:
    """Collect the :func:`substage` times of one frame, then observe each sub-stage's total
    once (also when the frame raised). Outside it, :func:`substage` times nothing, so the
    analysis functions stay free to run in benchmarks and enrollment without a metric."""
    totals: dict[str, float] = {}
    token = _SUBSTAGE_TOTALS.set(totals)
    try:
        yield
    finally:
        _SUBSTAGE_TOTALS.reset(token)
        for name, seconds in totals.items():
            SUBSTAGE_SECONDS.labels(stage=name).observe(seconds)


@contextmanager
def substage(name: str) -> Iterator[None]:
    """Add the time spent in the block to sub-stage ``name`` of the current frame (one
    perf_counter pair and a dict update: well under a microsecond on a frame of ~0.1 s)."""
    totals = _SUBSTAGE_TOTALS.get()
    if totals is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        totals[name] = totals.get(name, 0.0) + (time.perf_counter() - started)


def exposition() -> tuple[bytes, str]:
    """The text format for a scrape: every worker's values under gunicorn, else this process's."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
