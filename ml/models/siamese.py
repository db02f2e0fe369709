"""The identity-aware Siamese network of the lineage (seed 000): twin CNNs and contrastive loss.

Each twin maps a face crop to an L2-normalised embedding. Training pairs come from ONE person:
(live, live) pairs are pulled together, (live, spoof) pairs pushed at least ``margin`` apart
(Hadsell, Chopra & LeCun 2006). At login the service embeds the frame with one twin and
compares it with the claimed user's own enrolled live embeddings: a replay or print of that
user lands far from their real faces even when it would fool a generic classifier.

Only the twin is exported (ONNX: crop -> embedding); distances and the calibration to a live
probability live in the service (``webapp/liveness/models.py``, ``OnnxSiamese``).
"""

from __future__ import annotations

import keras
from keras import layers, ops

INPUT_SIZE = 64
EMBEDDING_DIM = 32
MARGIN = 1.0


def build_twin(input_size: int = INPUT_SIZE, dim: int = EMBEDDING_DIM) -> keras.Model:
    """An AlexNet-flavoured small CNN (the lineage's twin, scaled to CPU) -> unit-norm embedding."""
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = inputs
    for filters, kernel in ((32, 5), (64, 3), (96, 3)):
        x = layers.Conv2D(filters, kernel, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(128, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(dim)(x)
    outputs = layers.UnitNormalization(name="embedding")(x)
    return keras.Model(inputs, outputs, name="siamese_twin")


def pair_distance(a: keras.KerasTensor, b: keras.KerasTensor) -> keras.KerasTensor:
    return ops.sqrt(ops.maximum(ops.sum(ops.square(a - b), axis=-1, keepdims=True), 1e-12))


def build(input_size: int = INPUT_SIZE) -> tuple[keras.Model, keras.Model]:
    """(pair model: two crops -> distance, twin: crop -> embedding); the twin's weights are shared."""
    twin = build_twin(input_size)
    a = keras.Input((input_size, input_size, 3), name="a")
    b = keras.Input((input_size, input_size, 3), name="b")
    dist = layers.Lambda(lambda t: pair_distance(t[0], t[1]), name="distance")([twin(a), twin(b)])
    return keras.Model([a, b], dist, name="siamese"), twin


def contrastive_loss(margin: float = MARGIN) -> object:
    """y = 1 for a similar pair (live, live), 0 for a dissimilar one (live, spoof)."""

    def loss(y_true: keras.KerasTensor, distance: keras.KerasTensor) -> keras.KerasTensor:
        y = ops.cast(y_true, distance.dtype)
        return ops.mean(y * ops.square(distance) + (1.0 - y) * ops.square(ops.maximum(margin - distance, 0.0)))

    return loss
