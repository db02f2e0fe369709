"""MiniFASNet (Silent-Face) rebuilt from its state dict: the channel plan, a numpy reference, Keras.

The released weights come without a model definition we could import (it is PyTorch). The
*topology* of MiniFASNetV1/V2/V1SE is fixed by the paper's code (minivision-ai/
Silent-Face-Anti-Spoofing, ``src/model_lib/MiniFASNet.py``); only the pruned channel widths
differ between variants. So the plan below fixes the order of the named stages and their
strides, and reads every width, kernel size, block count and the presence of
squeeze-excitation from the key names and tensor shapes:

    conv1 (3x3 s2) -> conv2_dw (3x3 depthwise) -> conv_23 (bottleneck s2) -> conv_3 (residual x n)
    -> conv_34 (s2) -> conv_4 (residual x n) -> conv_45 (s2) -> conv_5 (residual x n)
    -> conv_6_sep (1x1) -> conv_6_dw (kxk depthwise, valid, no activation) -> flatten
    -> linear (512 -> 128, no bias) -> bn (BatchNorm1d) -> prob (128 -> 3 logits, no bias)

A bottleneck ("Depth_Wise") is 1x1 conv+BN+PReLU, 3x3 depthwise+BN+PReLU, 1x1 conv+BN; residual
ones add their input; in V1SE the last block of each residual stage passes its output through an
SE module (avg-pool, 1x1 conv, BN, ReLU, 1x1 conv, BN, sigmoid, multiply) before the addition.

Two independent implementations consume the plan: :func:`reference_forward` (numpy, float64,
straight from the state dict: the ground truth for parity) and :func:`build_keras` (the
project's training framework, so the models can be fine-tuned; exported in inference mode).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

StateDict = dict[str, np.ndarray]

BN_EPS = 1e-5  # torch.nn.BatchNorm{1,2}d default; the repo never changes it
BN_MOMENTUM = 0.9  # Keras convention for torch's momentum=0.1 (only matters when fine-tuning)

# Stage order and strides of MiniFASNet (not recoverable from weights: a stride has no tensor).
# kind: "conv" = Conv_block / Linear_block, "bottleneck" = one Depth_Wise, "stage" = Residual(SE).
TOPOLOGY: tuple[tuple[str, str, int], ...] = (
    ("conv1", "conv", 2),
    ("conv2_dw", "conv", 1),
    ("conv_23", "bottleneck", 2),
    ("conv_3", "stage", 1),
    ("conv_34", "bottleneck", 2),
    ("conv_4", "stage", 1),
    ("conv_45", "bottleneck", 2),
    ("conv_5", "stage", 1),
    ("conv_6_sep", "conv", 1),
    ("conv_6_dw", "conv", 1),
)


class PlanError(ValueError):
    """The state dict does not have the shape of a MiniFASNet."""


@dataclass(frozen=True)
class ConvBN:
    """Conv (no bias) + BatchNorm (+ PReLU when ``prelu``): the repo's Conv_block / Linear_block."""

    prefix: str
    in_ch: int
    out_ch: int
    kernel: int
    stride: int
    padding: int
    depthwise: bool
    prelu: bool


@dataclass(frozen=True)
class SqueezeExcite:
    prefix: str
    channels: int
    reduced: int


@dataclass(frozen=True)
class Bottleneck:
    """Expand 1x1 -> depthwise 3x3 (carries the stride) -> project 1x1, optional SE and shortcut."""

    prefix: str
    expand: ConvBN
    depthwise: ConvBN
    project: ConvBN
    residual: bool
    se: SqueezeExcite | None


Layer = ConvBN | Bottleneck


@dataclass(frozen=True)
class Plan:
    """Everything needed to run or rebuild one MiniFASNet, read from its state dict."""

    layers: tuple[Layer, ...]
    flat_dim: int
    embedding: int
    classes: int
    input_size: int
    has_se: bool

    @property
    def widths(self) -> list[int]:
        """Output width of every layer (for comparing with the repo's ``keep`` lists)."""
        return [layer.out_ch if isinstance(layer, ConvBN) else layer.project.out_ch for layer in self.layers]


def _shape(sd: StateDict, key: str) -> tuple[int, ...]:
    if key not in sd:
        raise PlanError(f"missing tensor {key}")
    return tuple(sd[key].shape)


def _conv_bn(sd: StateDict, prefix: str, stride: int, padding: int | None = None) -> ConvBN:
    out_ch, in_per_group, kh, kw = _shape(sd, f"{prefix}.conv.weight")
    if kh != kw:
        raise PlanError(f"{prefix}: non-square kernel {kh}x{kw}")
    for stat in ("weight", "bias", "running_mean", "running_var"):
        if _shape(sd, f"{prefix}.bn.{stat}") != (out_ch,):
            raise PlanError(f"{prefix}.bn.{stat} does not match {out_ch} channels")
    prelu = f"{prefix}.prelu.weight" in sd
    if prelu and _shape(sd, f"{prefix}.prelu.weight") != (out_ch,):
        raise PlanError(f"{prefix}.prelu must be per-channel")
    depthwise = in_per_group == 1 and out_ch != 1
    # Depthwise convs have groups = in = out; only the first conv has 3 inputs and is dense.
    in_ch = out_ch if depthwise else in_per_group
    return ConvBN(prefix, in_ch, out_ch, kh, stride, (kh - 1) // 2 if padding is None else padding, depthwise, prelu)


def _bottleneck(sd: StateDict, prefix: str, stride: int, residual: bool) -> Bottleneck:
    expand = _conv_bn(sd, f"{prefix}.conv", 1)
    dw = _conv_bn(sd, f"{prefix}.conv_dw", stride)
    project = _conv_bn(sd, f"{prefix}.project", 1)
    if not (expand.prelu and dw.prelu and not project.prelu and dw.depthwise):
        raise PlanError(f"{prefix}: not a Depth_Wise block")
    if not (expand.out_ch == dw.in_ch and dw.out_ch == project.in_ch):
        raise PlanError(f"{prefix}: widths do not chain ({expand.out_ch}->{dw.in_ch}, {dw.out_ch}->{project.in_ch})")
    se = None
    if f"{prefix}.se_module.fc1.weight" in sd:
        reduced, channels, _, _ = _shape(sd, f"{prefix}.se_module.fc1.weight")
        if channels != project.out_ch or _shape(sd, f"{prefix}.se_module.fc2.weight") != (channels, reduced, 1, 1):
            raise PlanError(f"{prefix}: SE module does not fit the block")
        se = SqueezeExcite(f"{prefix}.se_module", channels, reduced)
    if residual and expand.in_ch != project.out_ch:
        raise PlanError(f"{prefix}: residual block changes width {expand.in_ch} -> {project.out_ch}")
    return Bottleneck(prefix, expand, dw, project, residual, se)


def infer_plan(sd: StateDict, input_size: int = 80) -> Plan:
    """Read the channel plan of a MiniFASNet state dict (``module.`` prefix already stripped)."""
    layers: list[Layer] = []
    for name, kind, stride in TOPOLOGY:
        if kind == "conv":
            layers.append(_conv_bn(sd, name, stride, padding=0 if name == "conv_6_dw" else None))
        elif kind == "bottleneck":
            layers.append(_bottleneck(sd, name, stride, residual=False))
        else:
            indices = sorted({int(m.group(1)) for k in sd if (m := re.match(rf"{name}\.model\.(\d+)\.", k))})
            if not indices or indices != list(range(len(indices))):
                raise PlanError(f"{name}: no residual blocks found")
            layers.extend(_bottleneck(sd, f"{name}.model.{i}", stride, residual=True) for i in indices)
    # The widths must chain from the 3-channel input to the head.
    width = 3
    for layer in layers:
        first = layer if isinstance(layer, ConvBN) else layer.expand
        if first.in_ch != width:
            raise PlanError(f"{first.prefix}: expects {first.in_ch} channels, gets {width}")
        width = layer.out_ch if isinstance(layer, ConvBN) else layer.project.out_ch
    head = layers[-1]
    assert isinstance(head, ConvBN)
    if head.prelu or not head.depthwise:
        raise PlanError("conv_6_dw must be a depthwise Linear_block")
    side = input_size
    for layer in layers:
        conv = layer if isinstance(layer, ConvBN) else layer.depthwise
        side = (side + 2 * conv.padding - conv.kernel) // conv.stride + 1
    if side != 1:
        raise PlanError(f"input {input_size} px leaves a {side}x{side} map after conv_6_dw (kernel {head.kernel})")
    embedding, flat = _shape(sd, "linear.weight")
    if flat != width:
        raise PlanError(f"linear expects {flat} features, the body gives {width}")
    if _shape(sd, "bn.weight") != (embedding,):
        raise PlanError("bn does not match the embedding")
    classes, emb2 = _shape(sd, "prob.weight")
    if emb2 != embedding:
        raise PlanError("prob does not match the embedding")
    has_se = any(isinstance(la, Bottleneck) and la.se is not None for la in layers)
    return Plan(tuple(layers), flat, embedding, classes, input_size, has_se)


# -- numpy reference (float64, NCHW) ------------------------------------------------------------


def _np_conv(x: np.ndarray, w: np.ndarray, stride: int, padding: int, depthwise: bool) -> np.ndarray:
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    k = w.shape[-1]
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    if depthwise:
        return np.einsum("nchwij,cij->nchw", win, w[:, 0], optimize=True)
    return np.einsum("nchwij,ocij->nohw", win, w, optimize=True)


def _np_bn(x: np.ndarray, sd: StateDict, prefix: str) -> np.ndarray:
    shape = (1, -1) + (1,) * (x.ndim - 2)
    g, b = sd[f"{prefix}.weight"].astype(np.float64), sd[f"{prefix}.bias"].astype(np.float64)
    m, v = sd[f"{prefix}.running_mean"].astype(np.float64), sd[f"{prefix}.running_var"].astype(np.float64)
    scale = g / np.sqrt(v + BN_EPS)
    return x * scale.reshape(shape) + (b - m * scale).reshape(shape)


def _np_conv_bn(x: np.ndarray, sd: StateDict, c: ConvBN) -> np.ndarray:
    y = _np_bn(_np_conv(x, sd[f"{c.prefix}.conv.weight"].astype(np.float64), c.stride, c.padding, c.depthwise), sd, f"{c.prefix}.bn")
    if c.prelu:
        a = sd[f"{c.prefix}.prelu.weight"].astype(np.float64).reshape(1, -1, 1, 1)
        y = np.where(y > 0, y, a * y)
    return y


def _np_se(x: np.ndarray, sd: StateDict, se: SqueezeExcite) -> np.ndarray:
    s = x.mean(axis=(2, 3), keepdims=True)
    s = np.einsum("nchw,oc->nohw", s, sd[f"{se.prefix}.fc1.weight"][:, :, 0, 0].astype(np.float64))
    s = np.maximum(_np_bn(s, sd, f"{se.prefix}.bn1"), 0.0)
    s = np.einsum("nchw,oc->nohw", s, sd[f"{se.prefix}.fc2.weight"][:, :, 0, 0].astype(np.float64))
    s = _np_bn(s, sd, f"{se.prefix}.bn2")
    return x * (1.0 / (1.0 + np.exp(-s)))


def reference_forward(sd: StateDict, x: np.ndarray, plan: Plan | None = None) -> np.ndarray:
    """Logits (N, classes) of NCHW float input ``x``, computed in float64 from the state dict alone."""
    plan = plan or infer_plan(sd, int(x.shape[-1]))
    y = np.asarray(x, np.float64)
    for layer in plan.layers:
        if isinstance(layer, ConvBN):
            y = _np_conv_bn(y, sd, layer)
            continue
        z = _np_conv_bn(_np_conv_bn(_np_conv_bn(y, sd, layer.expand), sd, layer.depthwise), sd, layer.project)
        if layer.residual:
            if layer.se is not None:
                z = _np_se(z, sd, layer.se)
            z = y + z
        y = z
    y = y.reshape(y.shape[0], -1)
    if plan.embedding != plan.flat_dim:  # the repo skips `linear` only when the embedding is 512
        y = y @ sd["linear.weight"].astype(np.float64).T
    y = _np_bn(y, sd, "bn")
    return np.asarray(y @ sd["prob.weight"].astype(np.float64).T)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=-1, keepdims=True))


# -- Keras ---------------------------------------------------------------------------------------


def _keras_name(prefix: str) -> str:
    return prefix.replace(".", "_")


def _bn_weights(sd: StateDict, prefix: str) -> list[np.ndarray]:
    return [sd[f"{prefix}.{k}"].astype(np.float32) for k in ("weight", "bias", "running_mean", "running_var")]


def build_keras(sd: StateDict, plan: Plan | None = None, name: str = "minifasnet", dropout: float = 0.0) -> Any:
    """A Keras model with the state dict's weights: NCHW float input (BGR, 0..255), logits out.

    The input is NCHW like the original so the card and the parity fixture describe one tensor;
    the first layer transposes to NHWC, which is what Keras' CPU kernels run. Padding is explicit
    (ZeroPadding2D + "valid") because Keras' "same" pads stride-2 convs asymmetrically, unlike
    torch's symmetric ``padding=1``. ``dropout`` sits before ``prob`` as in the repo (0.2 for V2,
    0.75 for V1SE there) and only acts when fine-tuning.
    """
    from ml.tfsetup import setup

    setup(seed=0)  # TensorFlow's thread pools are set before its first op, as every ml model does
    import keras
    from keras import layers as L

    plan = plan or infer_plan(sd)
    assigns: list[tuple[Any, list[np.ndarray]]] = []

    def conv_bn(x: Any, c: ConvBN) -> Any:
        n = _keras_name(c.prefix)
        if c.padding:
            x = L.ZeroPadding2D(c.padding, name=f"{n}_pad")(x)
        w = sd[f"{c.prefix}.conv.weight"].astype(np.float32)
        if c.depthwise:
            conv = L.DepthwiseConv2D(c.kernel, strides=c.stride, padding="valid", use_bias=False, name=f"{n}_dw")
            kernel = w.transpose(2, 3, 0, 1)  # (C,1,k,k) -> (k,k,C,1)
        else:
            conv = L.Conv2D(c.out_ch, c.kernel, strides=c.stride, padding="valid", use_bias=False, name=f"{n}_conv")
            kernel = w.transpose(2, 3, 1, 0)  # (O,I,k,k) -> (k,k,I,O)
        x = conv(x)
        assigns.append((conv, [kernel]))
        bn = L.BatchNormalization(epsilon=BN_EPS, momentum=BN_MOMENTUM, name=f"{n}_bn")
        x = bn(x)
        assigns.append((bn, _bn_weights(sd, f"{c.prefix}.bn")))
        if c.prelu:
            act = L.PReLU(shared_axes=[1, 2], name=f"{n}_prelu")
            x = act(x)
            assigns.append((act, [sd[f"{c.prefix}.prelu.weight"].astype(np.float32).reshape(1, 1, -1)]))
        return x

    def squeeze_excite(x: Any, se: SqueezeExcite) -> Any:
        n = _keras_name(se.prefix)
        s = L.GlobalAveragePooling2D(keepdims=True, name=f"{n}_pool")(x)
        for i, (act, width) in enumerate((("relu", se.reduced), ("sigmoid", se.channels)), start=1):
            fc = L.Conv2D(width, 1, use_bias=False, name=f"{n}_fc{i}")
            s = fc(s)
            assigns.append((fc, [sd[f"{se.prefix}.fc{i}.weight"].astype(np.float32).transpose(2, 3, 1, 0)]))
            bn = L.BatchNormalization(epsilon=BN_EPS, momentum=BN_MOMENTUM, name=f"{n}_bn{i}")
            s = bn(s)
            assigns.append((bn, _bn_weights(sd, f"{se.prefix}.bn{i}")))
            s = L.Activation(act, name=f"{n}_{act}")(s)
        return L.Multiply(name=f"{n}_scale")([x, s])

    inp = keras.Input((3, plan.input_size, plan.input_size), name="input")
    x = L.Permute((2, 3, 1), name="nchw_to_nhwc")(inp)
    for layer in plan.layers:
        if isinstance(layer, ConvBN):
            x = conv_bn(x, layer)
            continue
        z = conv_bn(conv_bn(conv_bn(x, layer.expand), layer.depthwise), layer.project)
        if layer.residual:
            if layer.se is not None:
                z = squeeze_excite(z, layer.se)
            z = L.Add(name=f"{_keras_name(layer.prefix)}_add")([x, z])
        x = z
    x = L.Flatten(name="flatten")(x)
    if plan.embedding != plan.flat_dim:
        linear = L.Dense(plan.embedding, use_bias=False, name="linear")
        x = linear(x)
        assigns.append((linear, [sd["linear.weight"].astype(np.float32).T]))
    bn = L.BatchNormalization(epsilon=BN_EPS, momentum=BN_MOMENTUM, name="bn")
    x = bn(x)
    assigns.append((bn, _bn_weights(sd, "bn")))
    if dropout:
        x = L.Dropout(dropout, name="drop")(x)
    prob = L.Dense(plan.classes, use_bias=False, name="prob")
    out = prob(x)
    assigns.append((prob, [sd["prob.weight"].astype(np.float32).T]))
    model = keras.Model(inp, out, name=name)
    for layer_obj, weights in assigns:
        layer_obj.set_weights(weights)
    return model
