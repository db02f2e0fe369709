"""The original Caffe network through ``cv2.dnn`` behind the service detector's API: the
reference the ONNX port is compared with (``python -m ml.detector parity``, the slow tests).

Only :meth:`RetinaFace.rows` differs: cv2 runs the whole prototxt, PriorBox and DetectionOutput
included, so the numpy post-processing of :mod:`webapp.face.ssd` is checked too.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from webapp.face.retinaface import DEFAULT_DIR, DetectorCard, RetinaFace


class CaffeRetinaFace(RetinaFace):
    """RetinaFace as cv2.dnn runs it (its Net is not re-entrant: one lock around forward)."""

    def __init__(self, card: DetectorCard, threads: int = 1) -> None:
        super().__init__(card, threads)
        self._forward_lock = threading.Lock()

    @classmethod
    def load(cls, directory: Path = DEFAULT_DIR, verify: bool = True, threads: int = 1) -> CaffeRetinaFace:
        detector = cls(DetectorCard.load(directory, verify), threads)
        detector._open()
        return detector

    def _open(self) -> Any:
        if self._session is None:
            net = cv2.dnn.readNetFromCaffe(str(self.card.prototxt), str(self.card.model))
            net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
            net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
            self._session = net
        return self._session

    def rows(self, blob: np.ndarray) -> np.ndarray:
        with self._forward_lock:
            net = self._open()
            net.setInput(blob, "data")
            out = np.asarray(net.forward("detection_out")).reshape(-1, 7)
        out = out[out[:, 2] > 0]  # cv2 answers one all-zero row when nothing passes the floor
        return np.ascontiguousarray(out[:, 2:7], dtype=np.float32)

    def heads(self, blob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (N, 4) offsets and (N, 2) softmax scores: what the ONNX graph outputs."""
        with self._forward_lock:
            return caffe_heads(self._open(), blob)


def caffe_heads(net: Any, blob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A cv2.dnn Net's ``mbox_loc`` as (N, 4) and ``mbox_conf_softmax`` as (N, 2)."""
    net.setInput(blob, "data")
    loc, conf = net.forward(["mbox_loc", "mbox_conf_softmax"])
    return np.asarray(loc).reshape(-1, 4), np.asarray(conf).reshape(-1, 2)
