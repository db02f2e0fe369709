"""Shipped ONNX files: the byte check against a card and the CPU session every model runs in.

Passive-liveness members, the blink detector and the ml/ export check all open ONNX files; one
place decides how, so a tuning of the session (threads) applies to every model at once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cpu_session(path: Path, threads: int = 1) -> Any:
    """An onnxruntime CPU session with ``threads`` intra-op threads and no inter-op parallelism:
    one gunicorn worker per core, so more threads per session would only contend."""
    import onnxruntime as ort  # imported here: never at web-app import time

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
