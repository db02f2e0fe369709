"""DSNet: a small depthwise-separable backbone (MobileNetV2-style inverted residuals), ~0.2 M parameters.

Stronger than LivenessNet at the same CPU cost class: 96 px input, a stride-2 stem, five stages
of inverted-residual blocks (expand 1x1 -> depthwise 3x3 -> project 1x1, residual when shapes
match), global pooling and one sigmoid unit. Depthwise convolutions keep per-channel texture
(print dots, screen sub-pixels, colour cast) cheap to model; about 0.2 M parameters, < 1 MB ONNX.
"""

from __future__ import annotations

import keras
from keras import layers

INPUT_SIZE = 96

# (expansion, output channels, blocks, first stride) per stage.
_STAGES = ((1, 16, 1, 1), (4, 24, 2, 2), (4, 32, 2, 2), (4, 64, 2, 2), (4, 96, 2, 1))


def _block(x: keras.KerasTensor, expansion: int, out_ch: int, stride: int) -> keras.KerasTensor:
    in_ch = x.shape[-1]
    h = x
    if expansion != 1:
        h = layers.Conv2D(in_ch * expansion, 1, use_bias=False)(h)
        h = layers.BatchNormalization()(h)
        h = layers.ReLU(6.0)(h)
    h = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(h)
    h = layers.BatchNormalization()(h)
    h = layers.ReLU(6.0)(h)
    h = layers.Conv2D(out_ch, 1, use_bias=False)(h)
    h = layers.BatchNormalization()(h)
    if stride == 1 and in_ch == out_ch:
        h = layers.Add()([x, h])
    return h


def backbone(input_size: int = INPUT_SIZE, name: str = "dsnet_backbone") -> keras.Model:
    """Image -> pooled feature vector (shared by the classifier and usable as a Siamese twin)."""
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(6.0)(x)
    for expansion, out_ch, blocks, stride in _STAGES:
        for i in range(blocks):
            x = _block(x, expansion, out_ch, stride if i == 0 else 1)
    x = layers.Conv2D(192, 1, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(6.0)(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, x, name=name)


def build(input_size: int = INPUT_SIZE) -> keras.Model:
    base = backbone(input_size)
    x = layers.Dropout(0.3)(base.output)
    outputs = layers.Dense(1, activation="sigmoid", name="live")(x)
    return keras.Model(base.input, outputs, name="dsnet")
