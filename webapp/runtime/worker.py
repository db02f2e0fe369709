"""The per-worker model runtime: the face engine, the liveness ensemble, the blink detector and
the decision policy that depends on them.

Built once per app (one per gunicorn worker) from its :class:`~webapp.settings.Settings`,
loaded eagerly when PRELOAD_MODELS is set so the first login does not pay the load time, and
reachable from views via :func:`runtime`. Every model goes through the same lifecycle: its card
and file are checked when the runtime is built, its session opens on first use (or at warm-up),
and a model that cannot load is recorded in :attr:`Runtime.errors` (``/healthz`` reports it,
login refuses with 503) rather than crashing the worker.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from flask import Flask, current_app

from webapp.challenge.blink import BlinkDetector, OperatingPoint
from webapp.errors import ServiceUnavailable
from webapp.face.engine import FaceEngine
from webapp.face.retinaface import RetinaFace
from webapp.liveness import LivenessEnsemble, load_ensemble
from webapp.login.policy import Policy
from webapp.settings import EXTENSION_KEY as SETTINGS_KEY
from webapp.settings import Settings, settings

log = logging.getLogger(__name__)
EXTENSION_KEY = "livegate.runtime"
T = TypeVar("T")
# Anything a model's load step raises (a bad card or file, a broken onnxruntime or dlib
# install) leaves that model unavailable, never the worker dead.
_LOAD_ERRORS = (Exception,)

_UNAVAILABLE = {
    "face": "The face models are not available.",
    "liveness": "The liveness models are not available.",
    "blink": "The blink detector is not available.",
    "context_detector": "The face detector of the liveness models is not available.",
}


@dataclass
class Runtime:
    settings: Settings
    engine: FaceEngine
    ensemble: LivenessEnsemble | None
    blink: BlinkDetector | None = None  # None with BLINK_MODEL_DIR unset: the rule decides blinks
    context: RetinaFace | None = None  # loaded when a liveness member is framed on its boxes
    errors: dict[str, str] = field(default_factory=dict)
    _policy: Policy | None = None

    def _attempt(self, role: str, load: Callable[[], T]) -> T:
        """Run one model's load step; a failure is recorded under ``role`` and answered 503."""
        if role in self.errors:
            raise ServiceUnavailable(_UNAVAILABLE[role])
        try:
            return load()
        except _LOAD_ERRORS as exc:
            self.errors[role] = str(exc)
            log.error("%s model unavailable: %s", role, exc)
            raise ServiceUnavailable(_UNAVAILABLE[role]) from None

    def require_face(self) -> FaceEngine:
        """The face engine once its models have loaded (dlib's, and the ONNX identity encoder
        when FACE_ENCODER selects it); 503 otherwise, as for every other model, never a 500 on
        the frame that first needs a broken file."""
        self._attempt("face", self._load_face)
        return self.engine

    def _load_face(self) -> None:
        self.engine.load()
        self.engine.load_encoder()

    def require_ensemble(self) -> LivenessEnsemble:
        if self.ensemble is None:
            raise ServiceUnavailable(_UNAVAILABLE["liveness"])
        return self.ensemble

    def require_blink(self) -> BlinkDetector | None:
        """The blink detector, or None when configured off; a configured detector that cannot
        load makes login unavailable rather than silently weaker."""
        blink_dir = self.settings.models.blink_dir
        if blink_dir is None:
            return None
        if self.blink is None:
            self.blink = self._attempt("blink", lambda: BlinkDetector.load(blink_dir, threads=self.settings.models.onnx_threads))
        return self.blink

    def context_detector(self) -> RetinaFace | None:
        """The RetinaFace detector when the ensemble needs its boxes, else None."""
        if not self.require_ensemble().needs_context:
            return None
        if self.context is None:
            cfg = self.settings.models
            self.context = self._attempt(
                "context_detector", lambda: RetinaFace.load(cfg.context_detector_dir, cfg.verify, cfg.onnx_threads)
            )
        return self.context

    def blink_judge(self) -> BlinkDetector | OperatingPoint | None:
        """The detector at the configured operating threshold (what the policy uses)."""
        detector = self.require_blink()
        threshold = self.settings.models.blink_threshold
        if detector is None or threshold is None:
            return detector
        return OperatingPoint(detector, threshold)

    def policy(self) -> Policy:
        """The decision policy for the loaded models, built once (the settings are frozen)."""
        if self._policy is None:
            self._policy = self.settings.policy(self.require_ensemble().threshold, self.blink_judge())
        return self._policy

    def warm_up(self) -> None:
        """Load every model now; failures are recorded, not raised."""
        steps = (
            ("face", self._load_face),  # dlib, and the ONNX encoder (FACE_ENCODER=onnx): workers only
            ("liveness", self._load_ensemble),
            ("blink", self.require_blink),
            ("context_detector", self._load_context),
        )
        for role, load in steps:
            try:
                self._attempt(role, load)
            except ServiceUnavailable:
                if role == "liveness":
                    self.ensemble = None

    def _load_ensemble(self) -> None:
        self.require_ensemble().load()

    def _load_context(self) -> None:
        if self.ensemble is not None:
            self.context_detector()


def build_runtime(app: Flask) -> Runtime:
    cfg: Settings = app.extensions[SETTINGS_KEY]
    rt = Runtime(settings=cfg, engine=FaceEngine(cfg.detector), ensemble=None)
    # Cards read and files checked now; sessions open on first use. A failure is recorded the
    # way every model's is (/healthz reports it, login answers 503).
    with contextlib.suppress(ServiceUnavailable):
        rt.ensemble = rt._attempt(
            "liveness", lambda: load_ensemble(cfg.models.liveness_dir, threads=cfg.models.onnx_threads, verify=cfg.models.verify)
        )
    if cfg.models.preload:
        rt.warm_up()
    return rt


def warm_up(rt: Runtime) -> None:
    """gunicorn's post-fork hook (gunicorn.conf.py) warms each worker through this."""
    rt.warm_up()


def configure_worker_process() -> None:
    """Per-process settings of a serving worker, applied by gunicorn's post-fork hook (and by
    ``benchmarks.login_cost``, which serves in-process).

    OpenCV's own thread pool off (``cv2.setNumThreads(1)``): the cv2 work left in a request
    (JPEG decode, colour conversions, resizes, the detector's blob) is small, and with one sync
    worker per core a second thread only competes with the other worker. Measured on the
    login benchmark, back to back: median CPU per live frame 72.3 -> 68.7 ms, per granted login
    3.38 -> 3.27 s (benchmarks/results/login-cost-detector-onnx*.json); onnxruntime's sessions
    are already one intra-op thread each (ONNX_THREADS).
    """
    import cv2

    cv2.setNumThreads(1)


def runtime() -> Runtime:
    rt = current_app.extensions.get(EXTENSION_KEY)
    if rt is None:
        settings()  # fails clearly outside an app built by create_app
        rt = build_runtime(current_app)  # type: ignore[arg-type]
        current_app.extensions[EXTENSION_KEY] = rt
    return rt  # type: ignore[no-any-return]
