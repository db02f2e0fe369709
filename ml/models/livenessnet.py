"""LivenessNet: the small VGG-style CNN of the lineage (seed 001/003, after PyImageSearch 2019).

Two conv blocks (16 and 32 filters, two 3x3 convs each, batch norm, max-pool, dropout), a 64-unit
dense layer and one sigmoid unit for P(live). We run it at 64 px instead of the original 32 px:
print and screen texture lives in the fine detail a 32 px crop throws away.
"""

from __future__ import annotations

import keras
from keras import layers

INPUT_SIZE = 64


def build(input_size: int = INPUT_SIZE) -> keras.Model:
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = inputs
    for filters in (16, 32):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Dropout(0.25)(x)
    x = layers.Conv2D(64, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    # Global pooling instead of the original Flatten: 30x fewer weights at 64 px, less to overfit.
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(64, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid", name="live")(x)
    return keras.Model(inputs, outputs, name="livenessnet")
