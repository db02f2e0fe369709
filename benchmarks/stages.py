"""Server CPU per pipeline stage, measured by wrapping the service's own functions.

:class:`StageProfiler` replaces a few functions and methods of the web app with wrappers that
add the process CPU time (``time.process_time``: every thread, so onnxruntime's threads count)
spent inside them to a named stage. Stages nest (the policy calls the blink detector, the fold
step calls the policy): each stage gets its *inclusive* time and its *exclusive* time (minus the
stages it called), so the exclusive times of one request add up to the request's CPU.

Only the benchmark uses this; nothing in ``webapp/`` knows about it.
"""

from __future__ import annotations

import contextlib
import functools
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock


@dataclass
class _Frame:
    name: str
    start: float
    children: float = 0.0


@dataclass
class StageProfiler:
    """Accumulates CPU seconds per stage while :attr:`recording` is on."""

    recording: bool = False
    inclusive: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    exclusive: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _stack: list[_Frame] = field(default_factory=list)

    def wrap(self, name: str | Callable[..., str], fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` timed under ``name`` (or under ``name(*args, **kwargs)`` when callable)."""

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if not self.recording:
                return fn(*args, **kwargs)
            stage = name(*args, **kwargs) if callable(name) else name
            frame = _Frame(stage, time.process_time())
            self._stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                self._stack.pop()
                spent = time.process_time() - frame.start
                self.inclusive[stage] += spent
                self.exclusive[stage] += spent - frame.children
                self.calls[stage] += 1
                if self._stack:
                    self._stack[-1].children += spent

        return timed

    def snapshot(self) -> dict[str, tuple[float, float, int]]:
        return {k: (self.inclusive[k], self.exclusive[k], self.calls[k]) for k in self.inclusive}

    def reset(self) -> None:
        self.inclusive.clear()
        self.exclusive.clear()
        self.calls.clear()


def _member_stage(self: Any, *_args: Any, **_kwargs: Any) -> str:
    return f"liveness_member:{self.name}"


def _observe_stage(_self: Any, _rgb: Any, _box: Any, encode: bool = True, *_a: Any, **_k: Any) -> str:
    return "landmarks_and_encoding" if encode else "landmarks_only"


@contextlib.contextmanager
def instrumented(profiler: StageProfiler) -> Iterator[StageProfiler]:
    """Patch the service's stage functions with the profiler's wrappers while the block runs."""
    import webapp.login.frames as frames
    import webapp.login.policy as pol
    import webapp.login.service as service
    import webapp.web.api.login as api_login
    from webapp.challenge.blink import BlinkDetector
    from webapp.face.encoder import OnnxEncoder
    from webapp.face.engine import FaceEngine
    from webapp.liveness import models as liveness_models
    from webapp.liveness.registry import LivenessEnsemble
    from webapp.replay import seen

    patches: list[Any] = [
        mock.patch.object(api_login, "decode_upload", profiler.wrap("decode", api_login.decode_upload)),
        # Login frames: the search as a whole, and each of its passes (login/tracking.py).
        mock.patch.object(frames, "detect_login_faces", profiler.wrap("detect", frames.detect_login_faces)),
        mock.patch.object(FaceEngine, "detect", profiler.wrap("detect:wide", FaceEngine.detect)),
        mock.patch.object(FaceEngine, "detect_quick", profiler.wrap("detect:quick", FaceEngine.detect_quick)),
        mock.patch.object(FaceEngine, "detect_region", profiler.wrap("detect:region", FaceEngine.detect_region)),
        mock.patch.object(FaceEngine, "observe", profiler.wrap(_observe_stage, FaceEngine.observe)),
        # The identity ResNet in onnxruntime (FACE_ENCODER=onnx), inside landmarks_and_encoding.
        mock.patch.object(OnnxEncoder, "encode", profiler.wrap("identity_encoder:onnx", OnnxEncoder.encode)),
        mock.patch.object(LivenessEnsemble, "score_face", profiler.wrap("liveness_crops_and_fuse", LivenessEnsemble.score_face)),
        mock.patch.object(frames, "context_detections", profiler.wrap("context_detector", frames.context_detections)),
        mock.patch.object(frames, "frame_hash", profiler.wrap("frame_hashes", frames.frame_hash)),
        mock.patch.object(frames, "frame_signature", profiler.wrap("continuity_signature", frames.frame_signature)),
        mock.patch.object(seen, "seen_in_other_attempt", profiler.wrap("replay_lookup", seen.seen_in_other_attempt)),
        mock.patch.object(seen, "is_near_duplicate", profiler.wrap("replay_lookup", seen.is_near_duplicate)),
        mock.patch.object(BlinkDetector, "probability", profiler.wrap("blink_detector", BlinkDetector.probability)),
        mock.patch.object(pol, "apply_frame", profiler.wrap("policy", pol.apply_frame)),
        mock.patch.object(pol, "decide", profiler.wrap("policy", pol.decide)),
        mock.patch.object(service, "user_material", profiler.wrap("templates_load", service.user_material)),
        # The fold step: state (de)serialisation, the policy (a child stage) and the DB write.
        mock.patch.object(service, "_apply", profiler.wrap("state_and_db_write", service._apply)),
        mock.patch.object(service, "submit_frame", profiler.wrap("submit_frame_other", service.submit_frame)),
    ]
    for cls_name in ("OnnxClassifier", "OnnxSiamese"):
        cls = getattr(liveness_models, cls_name, None)
        if cls is not None and "score" in cls.__dict__:
            patches.append(mock.patch.object(cls, "score", profiler.wrap(_member_stage, cls.__dict__["score"])))
    with contextlib.ExitStack() as stack:
        for p in patches:
            stack.enter_context(p)
        yield profiler


def summarise_ms(samples: list[float]) -> dict[str, float]:
    """Median, p90 and mean of CPU samples given in seconds, in milliseconds."""
    if not samples:
        return {"n": 0}
    ms = sorted(s * 1000 for s in samples)
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 2),
        "p90_ms": round(ms[min(len(ms) - 1, int(0.9 * len(ms)))], 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }
