"""``python -m ml.detector time``: process CPU per detection, cv2.dnn (Caffe) vs onnxruntime.

Process CPU (``time.process_time``: every thread of the process) is what a gunicorn worker
pays; cv2.dnn runs 2 threads by default here, so its wall time can be lower than its CPU.
Each figure is the median of ``--repeat`` calls in interleaved rounds, on one blob of the size a
640x480 frame becomes (221x166: ``network``, post-processing included) and on whole
:meth:`RetinaFace.detect` calls on a 640x480 frame (resize, blob, network, post-processing).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from ml.detector.reference import CaffeRetinaFace
from webapp.face.retinaface import RetinaFace


def _samples(fn: Callable[[], Any], n: int) -> tuple[list[float], list[float]]:
    for _ in range(5):
        fn()
    cpu, wall = [], []
    for _ in range(n):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return cpu, wall


def frame_of(width: int = 640, height: int = 480) -> np.ndarray:
    """A reproducible RGB frame with a face-sized bright ellipse (timing does not need a face)."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    cv2.ellipse(rgb, (width // 2, height // 2), (width // 8, height // 5), 0, 0, 360, (200, 160, 140), -1)
    return rgb


def timings(repeat: int = 200, rounds: int = 5) -> dict[str, Any]:
    """Every configuration measured in ``rounds`` interleaved rounds (the cores are shared: a
    burst of another job then hits every configuration alike), median over all its calls."""
    onnx = RetinaFace.load()
    caffe = CaffeRetinaFace.load()
    rgb = frame_of()
    blob = onnx.blob(rgb)
    default = cv2.getNumThreads()
    configs: list[tuple[str, str, int, Callable[[], Any]]] = [
        ("network", f"cv2_{default}_threads", default, lambda: caffe.rows(blob)),
        ("network", "cv2_1_thread", 1, lambda: caffe.rows(blob)),
        ("network", "onnxruntime_1_thread", 1, lambda: onnx.rows(blob)),
        ("detect_640x480", f"cv2_{default}_threads", default, lambda: caffe.detect(rgb, 0.1)),
        ("detect_640x480", "cv2_1_thread", 1, lambda: caffe.detect(rgb, 0.1)),
        ("detect_640x480", f"onnxruntime_1_thread_cv2_{default}_threads", default, lambda: onnx.detect(rgb, 0.1)),
        ("detect_640x480", "onnxruntime_1_thread_cv2_1_thread", 1, lambda: onnx.detect(rgb, 0.1)),
    ]
    cpu: dict[tuple[str, str], list[float]] = {(g, n): [] for g, n, _t, _f in configs}
    wall: dict[tuple[str, str], list[float]] = {(g, n): [] for g, n, _t, _f in configs}
    try:
        for _ in range(rounds):
            for group, name, threads, fn in configs:
                cv2.setNumThreads(threads)
                c, w = _samples(fn, max(1, repeat // rounds))
                cpu[(group, name)] += c
                wall[(group, name)] += w
    finally:
        cv2.setNumThreads(default)
    out: dict[str, Any] = {"blob": list(blob.shape), "calls": repeat, "rounds": rounds, "cv2_default_threads": default}
    for group, name, _t, _f in configs:
        out.setdefault(group, {})[name] = {
            "cpu_ms": round(statistics.median(cpu[(group, name)]) * 1000, 3),
            "wall_ms": round(statistics.median(wall[(group, name)]) * 1000, 3),
        }
    return out
