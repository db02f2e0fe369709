"""The Silent-Face pipeline on the converted ONNX files: detector box -> crop -> two models -> P(live).

This is how the anchor (../shared/notes/pad-anchor.md) scores an image, rebuilt without PyTorch:
RetinaFace's most confident box; per model, the box scaled about its centre (2.7 or 4.0), the
scale reduced so the box fits the image, the box shifted inside the image, the region resized to
80x80 (``src/generate_patches.py``, ``CropImage``); BGR float 0..255, NCHW; softmax over 3 logits,
class 1 = live.

Decision: the repo sums the two models' softmax outputs and takes the argmax. We accept when the
*mean* live probability is >= 0.5 (the threshold in the cards): that implies the repo's argmax is
live, but not the reverse (live 0.4 against two spoof classes at 0.3 is live for the repo, not
for us). :func:`native_decision` keeps the repo's rule so evaluations can report both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml.paths import REPO_ROOT
from ml.pretrained.detector import DEFAULT_MIN_CONFIDENCE, FaceBox, detect_faces
from webapp.face.crop import SILENTFACE, CropSpec, silent_face_region
from webapp.face.crop import silent_face_crop as service_crop

MINIFASNET_DIR = REPO_ROOT / "webapp" / "assets" / "models"
MODEL_NAMES = ("minifasnet_v2", "minifasnet_v1se")
LIVE_INDEX = 1
NATIVE_THRESHOLD = 0.5


def silent_face_box(src_w: int, src_h: int, box: tuple[int, int, int, int], scale: float) -> tuple[int, int, int, int]:
    """The crop rectangle (x1, y1, x2, y2, inclusive) for the repo's ``[x, y, w, h]`` box: the
    service's own (``webapp.face.crop.silent_face_region``), so training and serving agree."""
    return silent_face_region(src_w, src_h, box, scale)


def silent_face_crop(bgr: np.ndarray, box: tuple[int, int, int, int], scale: float, size: int = 80) -> np.ndarray:
    """The model input crop (size x size, uint8, same channel order as ``bgr``), cut by the service's code."""
    return service_crop(bgr, box, CropSpec(size=size, scale=scale, policy=SILENTFACE))


def to_input(crops: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) uint8 BGR crops -> (N, 3, S, S) float32 0..255, the models' input."""
    if crops.ndim == 3:
        crops = crops[None]
    return np.ascontiguousarray(crops.astype(np.float32).transpose(0, 3, 1, 2))


def native_decision(probs: list[np.ndarray]) -> bool:
    """The repo's decision: argmax of the summed softmax outputs is the live class."""
    return int(np.argmax(np.sum(probs, axis=0))) == LIVE_INDEX


@dataclass(frozen=True)
class MemberCard:
    """The fields of a MiniFASNet card the pipeline needs."""

    name: str
    path: Path
    scale: float
    size: int

    @classmethod
    def load(cls, card_path: Path) -> MemberCard:
        card = json.loads(card_path.read_text())
        return cls(card["name"], card_path.parent / card["file"], float(card["crop"]["scale"]), int(card["input"]["size"]))


@dataclass(frozen=True)
class Scored:
    """One image through the pipeline: no face -> ``box`` None and NaN probabilities."""

    box: FaceBox | None
    live: float  # mean of the members' softmax live probability (NaN = no face)
    member_probs: tuple[np.ndarray, ...]  # softmax (3,) per member
    native_live: bool  # the repo's argmax-of-sum decision


class SilentFace:
    """The two converted models with their cards, each in a 1-thread onnxruntime session."""

    def __init__(self, model_dir: Path = MINIFASNET_DIR, threads: int = 1) -> None:
        from webapp.runtime.files import cpu_session

        self.members = [MemberCard.load(model_dir / f"{n}.json") for n in MODEL_NAMES]
        self.sessions: list[Any] = [cpu_session(m.path, threads) for m in self.members]
        self.inputs = [s.get_inputs()[0].name for s in self.sessions]

    def crops(self, bgr: np.ndarray, box: FaceBox) -> list[np.ndarray]:
        return [silent_face_crop(bgr, box.xywh, m.scale, m.size) for m in self.members]

    def member_softmax(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """Softmax outputs (N, 3) per member for per-member crop batches."""
        from ml.pretrained.minifasnet import softmax

        out = []
        for sess, name, c in zip(self.sessions, self.inputs, crops, strict=True):
            logits = np.asarray(sess.run(None, {name: to_input(c)})[0], np.float64)
            out.append(softmax(logits))
        return out

    def score_box(self, bgr: np.ndarray, box: FaceBox) -> Scored:
        probs = [p[0] for p in self.member_softmax([c[None] for c in self.crops(bgr, box)])]
        live = float(np.mean([p[LIVE_INDEX] for p in probs]))
        return Scored(box, live, tuple(probs), native_decision(probs))

    def score(self, bgr: np.ndarray, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> Scored:
        """Detect (most confident face) and score one BGR image."""
        faces = detect_faces(bgr, "BGR", min_confidence=min_confidence)
        if not faces:
            nan = np.full(3, np.nan)
            return Scored(None, float("nan"), (nan, nan), False)
        return self.score_box(bgr, faces[0])
