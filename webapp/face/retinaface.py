"""The context detector: Silent-Face's RetinaFace (mobilenet, Caffe) through ``cv2.dnn``.

MiniFASNet was trained on crops 2.7x and 4x around *this* detector's boxes, so its box size and
centre decide the framing the liveness models see; the service frames those crops with it, as
training did. It also finds faces dlib's frontal HOG detector loses (turned, dark, tight). The
input convention is the original repo's (read in ``src/anti_spoof_predict.py``): frames over
192x192 pixels are resized to about that area keeping their aspect ratio, the blob is BGR minus
(104, 117, 123) without scaling, and ``detection_out`` rows are ``(image, label, confidence,
x1, y1, x2, y2)`` normalised to the frame. Every number comes from the detector's card
(``webapp/assets/detector/retinaface.json``).

The network runs in onnxruntime (``retinaface.onnx``, the Caffe network converted by
``python -m ml.detector export``: same weights, BatchNorm folded as cv2 folds it) like every
other model, in one intra-op thread; cv2.dnn ran it in 2 threads for about 2.3x the CPU. The
PriorBox and DetectionOutput layers are numpy (:mod:`webapp.face.ssd`), priors cached per input
size. ``python -m ml.detector parity`` measured the boxes against the Caffe network through
cv2.dnn on every login frame of the shared clips and PAD stills (figures in the card).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from webapp.face.ssd import DetectionParams, PriorLevel, detection_output, prior_boxes
from webapp.face.types import Box
from webapp.runtime.files import CardError, cpu_session, load_json, verify_file

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
    model: Path  # the Caffe weights: the conversion's source and licence origin
    prototxt: Path
    onnx: Path  # what serving runs
    area_side: int
    mean: tuple[float, float, float]
    min_confidence: float
    matched_confidence: float  # floor for a box of a face another detector already found
    sha256: dict[str, str]
    priors: tuple[PriorLevel, ...]
    detection: DetectionParams

    @classmethod
    def load(cls, directory: Path = DEFAULT_DIR, verify: bool = True) -> DetectorCard:
        data = load_json(directory / CARD_FILE)
        try:
            files: dict[str, Any] = data["files"]
            post: dict[str, Any] = data["postprocess"]
            out: dict[str, Any] = post["detection_output"]
            card = cls(
                name=str(data["name"]),
                version=str(data.get("version", files["onnx"]["sha256"][:12])),  # the file served
                model=directory / files["model"]["file"],
                prototxt=directory / files["prototxt"]["file"],
                onnx=directory / files["onnx"]["file"],
                area_side=int(data["input"]["area_side"]),
                mean=tuple(float(v) for v in data["input"]["mean"]),  # type: ignore[arg-type]
                min_confidence=float(data["confidence_threshold"]),
                matched_confidence=float(data["matched_confidence_threshold"]),
                sha256={k: str(files[k]["sha256"]) for k in ("model", "prototxt", "onnx")},
                priors=tuple(
                    PriorLevel(tuple(float(v) for v in p["min_sizes"]), float(p["step"]), float(p["offset"])) for p in post["priors"]
                ),
                detection=DetectionParams(
                    variance=tuple(float(v) for v in post["variance"]),  # type: ignore[arg-type]
                    confidence_threshold=float(out["confidence_threshold"]),
                    nms_threshold=float(out["nms_threshold"]),
                    top_k=int(out["top_k"]),
                    keep_top_k=int(out["keep_top_k"]),
                ),
            )
            if out.get("code_type", "CENTER_SIZE") != "CENTER_SIZE" or len(card.detection.variance) != 4 or not card.priors:
                raise ValueError("postprocess needs CENTER_SIZE, 4 variances and at least one prior level")
            for level in card.priors:
                _ = level.downsampling  # a step that is no power of two is refused here
        except (KeyError, TypeError, ValueError) as exc:
            raise CardError(f"{CARD_FILE}: {exc}") from exc
        if verify:
            for key, path in (("model", card.model), ("prototxt", card.prototxt), ("onnx", card.onnx)):
                verify_file(path, card.sha256[key])
        return card


class RetinaFace:
    """The detector: one onnxruntime session, opened once per process on first use (never in
    gunicorn's master: the runtime that owns it is built in each worker), and the priors of
    each input size seen."""

    def __init__(self, card: DetectorCard, threads: int = 1) -> None:
        self.card = card
        self.threads = threads
        self._session: Any = None
        self._priors: dict[tuple[int, int], np.ndarray] = {}
        self._lock = threading.Lock()  # guards the one-time opening only; run() is re-entrant

    @classmethod
    def load(cls, directory: Path = DEFAULT_DIR, verify: bool = True, threads: int = 1) -> RetinaFace:
        """The card checked and the session opened now, so a broken file fails at load."""
        detector = cls(DetectorCard.load(directory, verify), threads)
        detector._open()
        return detector

    def _open(self) -> Any:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = cpu_session(self.card.onnx, self.threads)
        return self._session

    def network_input(self, image: np.ndarray) -> np.ndarray:
        """The frame as the detector sees it: at most ~area_side^2 pixels, aspect kept (any
        channel order: the resize treats channels alike)."""
        h, w = image.shape[:2]
        side = self.card.area_side
        if w * h < side * side:
            return image
        aspect = w / h
        return cv2.resize(image, (int(side * math.sqrt(aspect)), int(side / math.sqrt(aspect))), interpolation=cv2.INTER_LINEAR)

    def blob(self, rgb: np.ndarray) -> np.ndarray:
        """The 1x3xHxW network input of an RGB frame: resized first, then swapped to BGR and
        the card's (BGR) mean subtracted inside blobFromImage. The same blob as flipping the
        whole frame to BGR first, without a strided copy of the full frame (3 ms at 640x480)."""
        return cv2.dnn.blobFromImage(np.ascontiguousarray(self.network_input(rgb)), 1.0, mean=self.card.mean, swapRB=True)

    def priors(self, width: int, height: int) -> np.ndarray:
        """The (N, 4) normalised priors of a ``width`` x ``height`` network input (cached)."""
        key = (width, height)
        cached = self._priors.get(key)
        if cached is None:
            cached = prior_boxes(self.card.priors, width, height)
            if len(self._priors) < 64:  # frame sizes are few; a flood of odd sizes is not cached
                self._priors[key] = cached
        return cached

    def rows(self, blob: np.ndarray) -> np.ndarray:
        """``detection_out`` of a 1x3xHxW blob: rows ``(confidence, x1, y1, x2, y2)`` normalised
        to the input, most confident first, down to the network's own floor."""
        loc, conf = self._open().run(None, {"data": blob})
        height, width = blob.shape[2:]
        return detection_output(loc[0], conf[0], self.priors(width, height), self.card.detection)

    def detect(self, rgb: np.ndarray, min_confidence: float | None = None) -> list[ScoredBox]:
        """Faces of an RGB uint8 frame at or above ``min_confidence`` (the card's unless given),
        most confident first."""
        floor = self.card.min_confidence if min_confidence is None else min_confidence
        h, w = rgb.shape[:2]
        boxes = [
            ScoredBox(float(r[1] * w), float(r[2] * h), float(r[3] * w), float(r[4] * h), float(r[0]))
            for r in self.rows(self.blob(rgb))
            if r[0] >= floor and r[3] > r[1] and r[4] > r[2]
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
