"""File hashes and the onnxruntime session for the converted models.

Kept here rather than imported from webapp/ so the converter does not follow the service's
internal module layout (it is being refactored); the session options are the service's own:
one intra-op thread, no inter-op parallelism (one gunicorn worker per core).
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
    """An onnxruntime CPU session with ``threads`` intra-op threads, as the service opens them."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
