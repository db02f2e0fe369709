"""Model cards: the JSON file beside every shipped ``.onnx`` that says how to feed and trust it.

The card is the whole contract between ``ml/`` (which writes it on export) and the service
(which reads it): input size, colour order, normalisation, crop framing, output meaning,
decision threshold, version, training data and validation metrics. The service never
hard-codes any of these, so shipping a better model is dropping in two files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webapp.face.crop import CROP_POLICIES, SQUARE, CropSpec
from webapp.runtime.files import CardError, verify_file

CARD_SCHEMA_VERSION = 1
ENSEMBLE_CARD = "ensemble.json"


@dataclass(frozen=True)
class InputSpec:
    """How a uint8 RGB crop becomes the model's input tensor: ``(x * scale - mean) / std``."""

    size: int
    layout: str = "NHWC"  # or "NCHW"
    color_order: str = "RGB"  # or "BGR"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    name: str | None = None  # input tensor name; the first input when omitted


@dataclass(frozen=True)
class ModelCard:
    """One liveness model as described by its card (see ml/export.py, which writes them)."""

    name: str
    version: str
    kind: str  # "classifier" (live probability per crop) or "siamese" (embedding per crop)
    file: str
    sha256: str
    input: InputSpec
    crop_scale: float
    threshold: float
    output_name: str | None = None
    # How the crop is cut (webapp/face/crop.py): "square" on the dlib box, or "silentface" on
    # the RetinaFace box (the pretrained MiniFASNet members, cards in webapp/assets/models).
    crop_policy: str = SQUARE
    # "probability": the output is P(live) (one column, or two with live last); "softmax": the
    # output holds logits, and P(live) is the softmax of column ``live_index``.
    output_activation: str = "probability"
    live_index: int = 1
    # Siamese models: live probability = sigmoid(a * distance + b) of the distance to the
    # user's nearest enrolled embedding; fitted on validation pairs by ml/export.py.
    calibration: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    limits: list[str] = field(default_factory=list)
    path: Path | None = None  # directory the card was loaded from

    @property
    def crop_spec(self) -> CropSpec:
        return CropSpec(size=self.input.size, scale=self.crop_scale, policy=self.crop_policy)

    @property
    def model_path(self) -> Path:
        if self.path is None:
            raise CardError(f"card {self.name} has no location")
        return self.path / self.file

    def verify_file(self) -> None:
        """Refuse a model file whose bytes are not the ones the card describes."""
        verify_file(self.model_path, self.sha256)


@dataclass(frozen=True)
class EnsembleMember:
    model: str
    weight: float


@dataclass(frozen=True)
class EnsembleCard:
    """Which models the service fuses, with what weights, and the fused decision threshold."""

    name: str
    version: str
    members: tuple[EnsembleMember, ...]
    threshold: float
    fusion: str = "weighted_mean"
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _require(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise CardError(f"{where}: missing key {key!r}")
    return data[key]


def parse_model_card(data: dict[str, Any], path: Path | None = None) -> ModelCard:
    where = f"card {data.get('name', '?')}"
    inp = _require(data, "input", where)
    output = data.get("output", {})
    crop = data.get("crop", {})
    kind = str(_require(data, "kind", where))
    if kind not in ("classifier", "siamese"):
        raise CardError(f"{where}: unknown kind {kind!r}")
    spec = InputSpec(
        size=int(_require(inp, "size", where)),
        layout=str(inp.get("layout", "NHWC")),
        color_order=str(inp.get("color_order", "RGB")),
        scale=float(inp.get("scale", 1.0 / 255.0)),
        mean=tuple(float(v) for v in inp.get("mean", (0.0, 0.0, 0.0))),  # type: ignore[arg-type]
        std=tuple(float(v) for v in inp.get("std", (1.0, 1.0, 1.0))),  # type: ignore[arg-type]
        name=inp.get("name"),
    )
    if spec.layout not in ("NHWC", "NCHW") or spec.color_order not in ("RGB", "BGR"):
        raise CardError(f"{where}: bad layout/colour order")
    crop_policy = str(crop.get("method", SQUARE))
    if crop_policy not in CROP_POLICIES:
        raise CardError(f"{where}: unknown crop method {crop_policy!r}")
    activation = str(output.get("activation", "probability"))
    if activation not in ("probability", "softmax"):
        raise CardError(f"{where}: unknown output activation {activation!r}")
    return ModelCard(
        name=str(_require(data, "name", where)),
        version=str(_require(data, "version", where)),
        kind=kind,
        file=str(_require(data, "file", where)),
        sha256=str(_require(data, "sha256", where)),
        input=spec,
        crop_scale=float(crop.get("scale", 1.0)),
        threshold=float(_require(data, "threshold", where)),
        output_name=output.get("name"),
        crop_policy=crop_policy,
        output_activation=activation,
        live_index=int(output.get("live_index", 1)),
        calibration={k: float(v) for k, v in data.get("calibration", {}).items()},
        metrics=dict(data.get("metrics", {})),
        training=dict(data.get("training", {})),
        limits=list(data.get("limits", [])),
        path=path,
    )


def parse_ensemble_card(data: dict[str, Any]) -> EnsembleCard:
    where = "ensemble card"
    members = tuple(
        EnsembleMember(model=str(_require(m, "model", where)), weight=float(m.get("weight", 1.0))) for m in _require(data, "members", where)
    )
    if not members or any(m.weight < 0 for m in members) or sum(m.weight for m in members) <= 0:
        raise CardError(f"{where}: members need non-negative weights with a positive sum")
    fusion = str(data.get("fusion", "weighted_mean"))
    if fusion != "weighted_mean":
        raise CardError(f"{where}: unknown fusion {fusion!r}")
    return EnsembleCard(
        name=str(data.get("name", "default")),
        version=str(data.get("version", "0")),
        members=members,
        threshold=float(_require(data, "threshold", where)),
        fusion=fusion,
        metrics=dict(data.get("metrics", {})),
        notes=list(data.get("notes", [])),
    )
