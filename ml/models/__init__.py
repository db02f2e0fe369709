"""Keras model definitions, registered by name (``python -m ml.train --model NAME``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras

from ml.models import dsnet, livenessnet, siamese


@dataclass(frozen=True)
class ModelSpec:
    """What training and export need to know about a model family."""

    name: str
    kind: str  # "classifier" (sigmoid P(live)) or "siamese" (embedding twin)
    input_size: int
    crop_scale: float  # x the HOG face box, see webapp.face.crop
    build: Callable[[int], keras.Model] | Callable[[int], tuple[keras.Model, keras.Model]]
    description: str


# Crop scale 1.0: the shared crop sets are tight (the HOG box is already 1.13x their width), so
# a wider framing would be mostly edge-replicated padding in training but real background at
# login: the model would see a framing at login that it never trained on.
MODELS: dict[str, ModelSpec] = {
    "livenessnet": ModelSpec("livenessnet", "classifier", livenessnet.INPUT_SIZE, 1.0, livenessnet.build, livenessnet.__doc__ or ""),
    "dsnet": ModelSpec("dsnet", "classifier", dsnet.INPUT_SIZE, 1.0, dsnet.build, dsnet.__doc__ or ""),
    "siamese": ModelSpec("siamese", "siamese", siamese.INPUT_SIZE, 1.0, siamese.build, siamese.__doc__ or ""),
}


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    return MODELS[name]
