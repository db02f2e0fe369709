"""Keras model definitions, registered by name (``python -m ml.train --model NAME``).

The registry is plain data, so reporting tools can read a model's kind and input size without
importing Keras; a family's module (and TensorFlow) is imported only to build the model.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    """What training and export need to know about a model family."""

    name: str
    kind: str  # "classifier" (sigmoid P(live)) or "siamese" (embedding twin)
    input_size: int
    crop_scale: float  # x the HOG face box, see webapp.face.crop
    module: str
    description: str

    def build(self, input_size: int | None = None) -> Any:
        """The Keras model (classifier) or (pair model, twin) (siamese)."""
        return importlib.import_module(self.module).build(input_size or self.input_size)


# Crop scale 1.0: the shared crop sets are tight (the HOG box is already 1.13x their width), so
# a wider framing would be mostly edge-replicated padding in training but real background at
# login: the model would see a framing at login that it never trained on.
MODELS: dict[str, ModelSpec] = {
    "livenessnet": ModelSpec(
        "livenessnet",
        "classifier",
        64,
        1.0,
        "ml.models.livenessnet",
        "LivenessNet: the lineage's small VGG-style CNN (2 conv blocks, 40 k parameters), 64 px, sigmoid P(live).",
    ),
    "dsnet": ModelSpec(
        "dsnet",
        "classifier",
        96,
        1.0,
        "ml.models.dsnet",
        "DSNet: depthwise-separable inverted-residual backbone (0.23 M parameters), 96 px, sigmoid P(live).",
    ),
    "siamese": ModelSpec(
        "siamese",
        "siamese",
        64,
        1.0,
        "ml.models.siamese",
        "Siamese twin (contrastive loss on same-person live/live vs live/spoof pairs), 64 px -> 32-d unit embedding.",
    ),
}


def get_spec(name: str, crop_scale: float | None = None) -> ModelSpec:
    """The registered family, optionally with another crop framing (an experiment knob)."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    spec = MODELS[name]
    return spec if crop_scale is None else replace(spec, crop_scale=crop_scale)
