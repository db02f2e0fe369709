"""The per-worker model runtime: the face engine and the liveness ensemble.

Built once per app (one per gunicorn worker), loaded eagerly when PRELOAD_MODELS is set so
the first login does not pay the load time, and reachable from views via :func:`runtime`.
A model that cannot load leaves the app running in a degraded state that /healthz reports
and that login refuses with 503, rather than crashing the worker.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, current_app

from webapp.challenge.blink import BlinkDetector, OperatingPoint
from webapp.errors import ServiceUnavailable
from webapp.face.engine import DetectorSettings, FaceEngine
from webapp.liveness import CardError, LivenessEnsemble, load_ensemble

log = logging.getLogger(__name__)
EXTENSION_KEY = "livegate.runtime"


@dataclass
class Runtime:
    engine: FaceEngine
    ensemble: LivenessEnsemble | None
    blink: BlinkDetector | None = None  # None with BLINK_MODEL_DIR unset: the rule decides blinks
    blink_dir: Path | None = None
    blink_threshold: float | None = None  # None: the card's
    errors: dict[str, str] = field(default_factory=dict)

    def require_ensemble(self) -> LivenessEnsemble:
        if self.ensemble is None:
            raise ServiceUnavailable("The liveness models are not available.")
        return self.ensemble

    def blink_judge(self) -> BlinkDetector | OperatingPoint | None:
        """The detector at the configured operating threshold (what the policy uses)."""
        detector = self.require_blink()
        if detector is None or self.blink_threshold is None:
            return detector
        return OperatingPoint(detector, self.blink_threshold)

    def require_blink(self) -> BlinkDetector | None:
        """The blink detector, or None when configured off; a configured detector that cannot
        load makes login unavailable rather than silently weaker."""
        if self.blink_dir is None:
            return None
        if self.blink is None:
            if "blink" in self.errors:
                raise ServiceUnavailable("The blink detector is not available.")
            try:
                self.blink = BlinkDetector.load(self.blink_dir)
            except (OSError, ValueError, KeyError) as exc:
                self.errors["blink"] = str(exc)
                log.error("blink detector unavailable: %s", exc)
                raise ServiceUnavailable("The blink detector is not available.") from None
        return self.blink


def build_runtime(app: Flask) -> Runtime:
    cfg = app.config
    engine = FaceEngine(
        DetectorSettings(
            max_side=int(cfg["FACE_DETECT_MAX_SIDE"]),
            min_side=int(cfg["FACE_DETECT_MIN_SIDE"]),
            upsample=int(cfg["FACE_DETECT_UPSAMPLE"]),
            min_face_px=int(cfg["FACE_MIN_PX"]),
        )
    )
    errors: dict[str, str] = {}
    ensemble = None
    try:
        ensemble = load_ensemble(
            Path(cfg["LIVENESS_MODEL_DIR"]), threads=int(cfg["ONNX_THREADS"]), verify=bool(cfg["LIVENESS_VERIFY_MODELS"])
        )
    except (CardError, OSError, KeyError) as exc:
        errors["liveness"] = str(exc)
        log.error("liveness models unavailable: %s", exc)
    blink_dir = Path(cfg["BLINK_MODEL_DIR"]) if cfg.get("BLINK_MODEL_DIR") else None
    threshold = cfg.get("BLINK_THRESHOLD")
    rt = Runtime(
        engine=engine,
        ensemble=ensemble,
        blink_dir=blink_dir,
        blink_threshold=float(threshold) if threshold is not None else None,
        errors=errors,
    )
    if cfg["PRELOAD_MODELS"]:
        warm_up(rt)
    return rt


def warm_up(rt: Runtime) -> None:
    """Load every model now; failures are recorded, not raised."""
    try:
        rt.engine.load()
    except Exception as exc:  # a broken dlib/face_recognition_models install
        rt.errors["face"] = str(exc)
        log.error("face models unavailable: %s", exc)
    if rt.ensemble is not None:
        try:
            rt.ensemble.load()
        except Exception as exc:
            rt.errors["liveness"] = str(exc)
            rt.ensemble = None
            log.error("liveness models failed to load: %s", exc)
    with contextlib.suppress(ServiceUnavailable):  # recorded in rt.errors; /healthz reports it
        rt.require_blink()


def runtime() -> Runtime:
    rt = current_app.extensions.get(EXTENSION_KEY)
    if rt is None:
        rt = build_runtime(current_app)  # type: ignore[arg-type]
        current_app.extensions[EXTENSION_KEY] = rt
    return rt  # type: ignore[no-any-return]
