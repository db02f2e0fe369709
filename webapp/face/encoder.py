"""The identity descriptor in onnxruntime: dlib's face recognition ResNet, exported to ONNX.

``ml/encoder`` reads dlib's own model file (the ``dlib_face_recognition_resnet_model_v1.dat``
that face_recognition ships) and writes the same network as ONNX, with a card that states the
input, the source file's hash and the measured parity with dlib (webapp/assets/encoder). Here
the service runs it: the aligned 150x150 chip still comes from dlib (``get_face_chip`` on the
5-point shape, about 1 ms), only the ResNet (about 140 ms of CPU in dlib, no BLAS) moves to
onnxruntime. Descriptors stay within the card's parity bound of dlib's, far below any match
tolerance, so templates enrolled with either encoder keep matching (FACE_ENCODER).

The session opens on first use, once per process and never at import time: the gunicorn master
preloads dlib only, and onnxruntime created before the fork makes workers hang on SIGTERM.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from webapp.runtime.files import CardError, cpu_session, load_json, verify_file

ENCODERS = ("onnx", "dlib")  # FACE_ENCODER's values
ENCODER_DIR = Path(__file__).resolve().parents[1] / "assets" / "encoder"
CARD_FILE = "dlib_resnet_v1.json"


@dataclass(frozen=True)
class EncoderCard:
    """What the service needs from the encoder's card (ml/encoder/export.py writes it)."""

    name: str
    model_path: Path
    sha256: str
    input_name: str
    output_name: str
    chip_size: int
    chip_padding: float
    parity_bound: float

    @classmethod
    def read(cls, directory: Path = ENCODER_DIR, require_parity: bool = True) -> EncoderCard:
        """The card; with ``require_parity`` (the service), only once parity with dlib was
        measured and accepted for these bytes (``python -m ml.encoder parity --card``)."""
        path = directory / CARD_FILE
        data = load_json(path)
        try:
            inp, out, model = data["input"], data["output"], data["files"]["model"]
            card = cls(
                name=str(data["name"]),
                model_path=directory / str(model["file"]),
                sha256=str(model["sha256"]),
                input_name=str(inp["name"]),
                output_name=str(out["name"]),
                chip_size=int(inp["chip"]["size"]),
                chip_padding=float(inp["chip"]["padding"]),
                parity_bound=float(data["parity"]["bound"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CardError(f"{path.name}: missing or malformed field {exc}") from exc
        if tuple(inp.get("shape", ())) != (1, 3, card.chip_size, card.chip_size) or out.get("size") != 128:
            raise CardError(f"{path.name}: expects a (1, 3, {card.chip_size}, {card.chip_size}) chip and a 128-d output")
        if require_parity and data["parity"].get("accepted") is not True:
            raise CardError(f"{path.name}: parity with dlib not measured or not accepted; use FACE_ENCODER=dlib")
        return card


class OnnxEncoder:
    """The ResNet in one CPU session; :meth:`encode` is thread-safe (onnxruntime's run is)."""

    def __init__(self, card: EncoderCard, session: Any) -> None:
        self.card = card
        self._session = session

    @classmethod
    def load(cls, directory: Path = ENCODER_DIR, threads: int = 1, require_parity: bool = True) -> OnnxEncoder:
        """Read the card, refuse a file whose bytes it does not describe, open the session."""
        card = EncoderCard.read(directory, require_parity)
        verify_file(card.model_path, card.sha256)
        return cls(card, cpu_session(card.model_path, threads))

    def encode(self, chip: np.ndarray) -> np.ndarray:
        """The 128-d descriptor (float64, as dlib returns it) of one aligned uint8 RGB chip."""
        size = self.card.chip_size
        if chip.shape != (size, size, 3) or chip.dtype != np.uint8:
            raise ValueError(f"expected a ({size}, {size}, 3) uint8 chip, got {chip.shape} {chip.dtype}")
        x = np.ascontiguousarray(chip.transpose(2, 0, 1)[None], dtype=np.float32)
        (out,) = self._session.run([self.card.output_name], {self.card.input_name: x})
        return np.asarray(out[0], dtype=np.float64)


_LOCK = threading.Lock()
_LOADED: dict[Path, OnnxEncoder] = {}


def shared_encoder(directory: Path = ENCODER_DIR) -> OnnxEncoder:
    """This process's encoder for ``directory``, loaded on the first call (every engine shares it)."""
    with _LOCK:
        enc = _LOADED.get(directory)
        if enc is None:
            enc = _LOADED[directory] = OnnxEncoder.load(directory)
        return enc
