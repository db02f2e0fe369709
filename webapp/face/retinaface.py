"""The context detector: Silent-Face's RetinaFace (mobilenet, Caffe) through ``cv2.dnn``.

MiniFASNet was trained on crops 2.7x and 4x around *this* detector's boxes, so its box size and
centre decide the framing the liveness models see; the service frames those crops with it, as
training did. It also finds faces dlib's frontal HOG detector loses (turned, dark, tight). The
input convention is the original repo's (read in ``src/anti_spoof_predict.py``): frames over
192x192 pixels are resized to about that area keeping their aspect ratio, the blob is BGR minus
(104, 117, 123) without scaling, and ``detection_out`` rows are ``(image, label, confidence,
x1, y1, x2, y2)`` normalised to the frame. Every number comes from the detector's card
(``webapp/assets/detector/retinaface.json``).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from webapp.face.types import Box
from webapp.runtime.files import CardError, load_json, verify_file

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "assets" / "detector"
CARD_FILE = "retinaface.json"


@dataclass(frozen=True)
class ScoredBox:
    """One detection in original pixels (floats, as the network gives them) and its confidence."""

    x1: float
    y1: float
    x2: float
    y2: float
    confidence: float

    @property
    def xywh(self) -> tuple[int, int, int, int]:
        """The integer ``[x, y, w, h]`` box the Silent-Face crop takes."""
        return int(self.x1), int(self.y1), int(self.x2 - self.x1 + 1), int(self.y2 - self.y1 + 1)

    def as_box(self) -> Box:
        return Box(round(self.x1), round(self.y1), round(self.x2), round(self.y2))

    def as_list(self) -> list[float]:
        return [round(self.x1, 1), round(self.y1, 1), round(self.x2, 1), round(self.y2, 1), round(self.confidence, 3)]


@dataclass(frozen=True)
class DetectorCard:
    name: str
    version: str
    model: Path
    prototxt: Path
    area_side: int
    mean: tuple[float, float, float]
    min_confidence: float
    matched_confidence: float  # floor for a box of a face another detector already found
    sha256: dict[str, str]

    @classmethod
    def load(cls, directory: Path = DEFAULT_DIR, verify: bool = True) -> DetectorCard:
        data = load_json(directory / CARD_FILE)
        try:
            files: dict[str, Any] = data["files"]
            card = cls(
                name=str(data["name"]),
                version=str(data.get("version", files["model"]["sha256"][:12])),
                model=directory / files["model"]["file"],
                prototxt=directory / files["prototxt"]["file"],
                area_side=int(data["input"]["area_side"]),
                mean=tuple(float(v) for v in data["input"]["mean"]),  # type: ignore[arg-type]
                min_confidence=float(data["confidence_threshold"]),
                matched_confidence=float(data["matched_confidence_threshold"]),
                sha256={"model": str(files["model"]["sha256"]), "prototxt": str(files["prototxt"]["sha256"])},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CardError(f"{CARD_FILE}: {exc}") from exc
        if verify:
            verify_file(card.model, card.sha256["model"])
            verify_file(card.prototxt, card.sha256["prototxt"])
        return card


class RetinaFace:
    """The detector behind one lock (``cv2.dnn.Net.forward`` is not re-entrant)."""

    def __init__(self, card: DetectorCard) -> None:
        self.card = card
        self._net: Any = None
        self._lock = threading.Lock()

    @classmethod
    def load(cls, directory: Path = DEFAULT_DIR, verify: bool = True) -> RetinaFace:
        detector = cls(DetectorCard.load(directory, verify))
        detector._open()
        return detector

    def _open(self) -> Any:
        if self._net is None:
            net = cv2.dnn.readNetFromCaffe(str(self.card.prototxt), str(self.card.model))
            net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
            net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
            self._net = net
        return self._net

    def network_input(self, bgr: np.ndarray) -> np.ndarray:
        """The frame as the detector sees it: at most ~area_side^2 pixels, aspect kept."""
        h, w = bgr.shape[:2]
        side = self.card.area_side
        if w * h < side * side:
            return bgr
        aspect = w / h
        return cv2.resize(bgr, (int(side * math.sqrt(aspect)), int(side / math.sqrt(aspect))), interpolation=cv2.INTER_LINEAR)

    def detect(self, rgb: np.ndarray, min_confidence: float | None = None) -> list[ScoredBox]:
        """Faces of an RGB uint8 frame at or above ``min_confidence`` (the card's unless given),
        most confident first."""
        floor = self.card.min_confidence if min_confidence is None else min_confidence
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        h, w = bgr.shape[:2]
        blob = cv2.dnn.blobFromImage(np.ascontiguousarray(self.network_input(bgr)), 1.0, mean=self.card.mean)
        with self._lock:
            net = self._open()
            net.setInput(blob, "data")
            rows = np.asarray(net.forward("detection_out")).reshape(-1, 7)
        boxes = [
            ScoredBox(float(r[3] * w), float(r[4] * h), float(r[5] * w), float(r[6] * h), float(r[2]))
            for r in rows
            if r[2] >= floor and r[5] > r[3] and r[6] > r[4]
        ]
        boxes.sort(key=lambda b: b.confidence, reverse=True)
        return boxes


def context_box(detector: RetinaFace, rgb: np.ndarray, face: Box) -> ScoredBox | None:
    """RetinaFace's box of the face dlib found in ``face``, for the crops framed on it.

    dlib has already decided there is a face, so RetinaFace only frames it: its detections are
    taken down to the card's ``matched_confidence_threshold``. Measured on sivakumar/Bala.mp4:
    a clear 138 px frontal face that RetinaFace scores 0.2-0.35 for its first 6 s, boxed within
    a few pixels of dlib's box; at the 0.6 floor the liveness members abstained on every frame.
    """
    return matching_box(detector.detect(rgb, detector.card.matched_confidence), face)


def matching_box(boxes: list[ScoredBox], face: Box) -> ScoredBox | None:
    """The context detection of the face dlib found: the most confident box whose centre lies
    inside the dlib box, or failing that the one overlapping it most (IoU >= 0.2); None when the
    context detector did not see that face (its crops then abstain)."""
    for b in boxes:
        cx, cy = (b.x1 + b.x2) / 2.0, (b.y1 + b.y2) / 2.0
        if face.left <= cx <= face.right and face.top <= cy <= face.bottom:
            return b
    best = max(boxes, key=lambda b: b.as_box().iou(face), default=None)
    return best if best is not None and best.as_box().iou(face) >= 0.2 else None
