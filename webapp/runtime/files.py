"""Shipped model files, one lifecycle for every kind: the card's JSON, the byte check of the
file against its card, and the CPU session every ONNX model runs in.

Passive-liveness members, the blink detector, the ml/ export check and any future model read
their cards and open their files here; one place decides how, so a tuning of the session
(threads) or of the checks applies to every model at once.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


class CardError(ValueError):
    """A card is missing, malformed, or does not match its model file."""


def load_json(path: Path) -> dict[str, Any]:
    """A card's JSON object, or CardError naming the file."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise CardError(f"{path.name}: {exc}") from exc
    if not isinstance(data, dict):
        raise CardError(f"{path.name}: not a JSON object")
    return data


def verify_file(path: Path, sha256: str) -> None:
    """Refuse a model file whose bytes are not the ones its card describes."""
    try:
        digest = sha256_file(path)
    except OSError as exc:
        raise CardError(f"{path.name}: {exc}") from exc
    if digest != sha256:
        raise CardError(f"{path.name}: sha256 {digest[:12]} does not match its card ({sha256[:12]})")


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
