"""Passive liveness models behind one interface, run with onnxruntime.

A model takes face crops made by :func:`webapp.face.crop.crop_face` with its card's
:class:`CropSpec` and returns, per crop, the probability that the face is a live person.
Identity-aware (Siamese) models also take the claimed user's enrolled reference embeddings;
without references they abstain (NaN), and the ensemble fuses whatever did score.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Protocol

import numpy as np

from webapp.face.crop import CropSpec
from webapp.liveness.card import ModelCard
from webapp.runtime.files import cpu_session


class LivenessModel(Protocol):
    """What the ensemble needs from any liveness model."""

    card: ModelCard

    @property
    def name(self) -> str: ...

    @property
    def crop_spec(self) -> CropSpec: ...

    @property
    def needs_references(self) -> bool: ...

    def load(self) -> None:
        """Open the model's session now (warm-up) instead of on first use."""
        ...

    def score(self, crops: np.ndarray, references: np.ndarray | None = None) -> np.ndarray:
        """Live probability in [0, 1] for each crop of ``crops`` (N, S, S, 3) uint8 RGB; NaN = abstain."""
        ...

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """Reference embeddings of enrolled live crops (identity-aware models only)."""
        ...


def preprocess(crops: np.ndarray, card: ModelCard) -> np.ndarray:
    """uint8 RGB crops -> the float tensor the card describes."""
    spec = card.input
    if crops.ndim == 3:
        crops = crops[None]
    if crops.shape[1:3] != (spec.size, spec.size):
        raise ValueError(f"{card.name} expects {spec.size}px crops, got {crops.shape[1:3]}")
    x: np.ndarray = crops.astype(np.float32)
    if spec.color_order == "BGR":
        x = x[..., ::-1]
    x = (x * np.float32(spec.scale) - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    if spec.layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x, dtype=np.float32)


class _OnnxRunner:
    """One onnxruntime session, created on first use in the process that scores."""

    def __init__(self, card: ModelCard, threads: int = 1) -> None:
        self.card = card
        self._threads = threads
        self._session: Any = None
        self._in_name = ""
        self._out_names: list[str] | None = [card.output_name] if card.output_name else None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._session is None:
                session = cpu_session(self.card.model_path, self._threads)
                # Resolved once with the session, not on every frame.
                self._in_name = self.card.input.name or session.get_inputs()[0].name
                self._session = session
            return self._session

    def load(self) -> None:
        self._get()

    def run(self, x: np.ndarray) -> np.ndarray:
        result = self._get().run(self._out_names, {self._in_name: x})
        return np.asarray(result[0], dtype=np.float32)


class _OnnxMember:
    """What every ONNX ensemble member shares: its card, a lazily opened session, its crop."""

    def __init__(self, card: ModelCard, threads: int = 1) -> None:
        self.card = card
        self._runner = _OnnxRunner(card, threads)

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def crop_spec(self) -> CropSpec:
        return self.card.crop_spec

    def load(self) -> None:
        self._runner.load()

    def embed(self, crops: np.ndarray) -> np.ndarray:
        raise TypeError(f"{self.name} is not identity-aware: it has no reference embeddings")


class OnnxClassifier(_OnnxMember):
    """A CNN whose output is the live probability (sigmoid unit, or softmax with live last)."""

    needs_references = False

    def score(self, crops: np.ndarray, references: np.ndarray | None = None) -> np.ndarray:
        out = self._runner.run(preprocess(crops, self.card))
        if self.card.output_activation == "softmax":
            logits = out.reshape(len(out), -1).astype(np.float64)
            z = np.exp(logits - logits.max(axis=1, keepdims=True))
            return (z[:, self.card.live_index] / z.sum(axis=1)).astype(np.float32)
        if out.ndim == 2 and out.shape[1] == 2:
            out = out[:, 1]  # softmax over (spoof, live)
        return np.clip(out.reshape(-1), 0.0, 1.0)


class OnnxSiamese(_OnnxMember):
    """One twin of a Siamese network: an embedding per crop, compared with the user's own live faces.

    The live probability is a logistic function of the distance to the nearest enrolled
    embedding, fitted on validation pairs (``calibration`` in the card): near the user's
    real faces = live, far (the print/screen look of the same face) = spoof.
    """

    needs_references = True

    def __init__(self, card: ModelCard, threads: int = 1) -> None:
        super().__init__(card, threads)
        self._a = float(card.calibration.get("a", -1.0))
        self._b = float(card.calibration.get("b", 0.0))

    def embed(self, crops: np.ndarray) -> np.ndarray:
        return self._runner.run(preprocess(crops, self.card)).reshape(len(crops) if crops.ndim == 4 else 1, -1)

    def score(self, crops: np.ndarray, references: np.ndarray | None = None) -> np.ndarray:
        n = len(crops) if crops.ndim == 4 else 1
        if references is None or len(references) == 0:
            return np.full(n, np.nan, dtype=np.float32)
        emb = self.embed(crops)
        refs = np.asarray(references, dtype=np.float32).reshape(len(references), -1)
        if refs.shape[1] != emb.shape[1]:
            # Embeddings from another model version (another size): nothing to compare with.
            return np.full(n, np.nan, dtype=np.float32)
        dists = np.linalg.norm(emb[:, None, :] - refs[None, :, :], axis=2).min(axis=1)
        z = self._a * dists + self._b
        return np.array([1.0 / (1.0 + math.exp(-float(v))) for v in z], dtype=np.float32)


MODEL_KINDS: dict[str, type[OnnxClassifier] | type[OnnxSiamese]] = {
    "classifier": OnnxClassifier,
    "siamese": OnnxSiamese,
}
