"""The layers of dlib's face recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``).

The network is ``anet_type`` of dlib's examples/dnn_face_recognition_ex.cpp (the same type
dlib's Python ``face_recognition_model_v1`` loads)::

    block<N,stride>   = affine<con<N,3,3,1,1, relu<affine<con<N,3,3,stride,stride, x>>>>>
    ares<N>           = relu<add_prev1<block<N,1, tag1<x>>>>
    ares_down<N>      = relu<add_prev2<avg_pool<2,2,2,2, skip1<tag2<block<N,2, tag1<x>>>>>>>
    level0 = ares_down<256>;  level1 = ares<256>,ares<256>,ares_down<256>
    level2 = ares<128> x2, ares_down<128>;  level3 = ares<64> x3, ares_down<64>
    level4 = ares<32> x3
    net = loss_metric<fc_no_bias<128, avg_pool_everything<level0..level4<
              max_pool<3,3,2,2, relu<affine<con<32,7,7,2,2, input_rgb_image_sized<150>>>>>>>>>

dlib serializes a network outermost layer first, each layer writing its version and then its
whole subnetwork before its own parameters, so the file holds the 130 version numbers of the
stack top-down, then the input layer, then the layers' parameters bottom-up. The file names its
layer kinds but not the tag numbers, so :func:`anet_layers` spells out the type above and
:func:`parse_network` checks every layer of the file against it: a file of any other shape is
refused, never half-read.

The parameters are read as dlib stores them: ``con_`` holds its filters (num_filters, k, nr,
nc) then its biases in one flat tensor; ``affine_`` (batch norm folded at training time) gamma
then beta, one pair per channel; ``fc_`` a (num_inputs, num_outputs) matrix, no bias here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ml.encoder.dlib_stream import DlibFormatError, DlibStream


@dataclass
class Layer:
    """One layer of the stack; ``weights`` are filled in by :func:`parse_network`."""

    kind: str  # con, affine, relu, max_pool, avg_pool, avg_pool_all, add_prev, tag, skip, fc
    num_outputs: int = 0  # con / fc
    window: int = 0  # con kernel, pool window (0: whole input)
    stride: int = 1
    tag: int = 0  # tag / skip / add_prev: which tag
    padding: int = 0  # dlib's default: window // 2 when stride is 1, else 0
    weights: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def is_tag_or_skip(self) -> bool:
        return self.kind in ("tag", "skip")


@dataclass
class InputSpec:
    """input_rgb_image_sized: ``(pixel - mean[channel]) / 256``, planes in R, G, B order."""

    mean_rgb: tuple[float, float, float]
    size: tuple[int, int]


@dataclass
class DlibNetwork:
    """The parsed network: ``layers`` bottom-up (input side first), plus the input layer."""

    input: InputSpec
    layers: list[Layer]
    loss: str


def _pad_default(window: int, stride: int) -> int:
    return window // 2 if stride == 1 else 0


def _con(n: int, window: int, stride: int) -> Layer:
    return Layer("con", num_outputs=n, window=window, stride=stride, padding=_pad_default(window, stride))


def _block(n: int, stride: int) -> list[Layer]:
    return [Layer("affine"), _con(n, 3, 1), Layer("relu"), Layer("affine"), _con(n, 3, stride)]


def _ares(n: int) -> list[Layer]:
    return [Layer("relu"), Layer("add_prev", tag=1), *_block(n, 1), Layer("tag", tag=1)]


def _ares_down(n: int) -> list[Layer]:
    return [
        Layer("relu"),
        Layer("add_prev", tag=2),
        Layer("avg_pool", window=2, stride=2),
        Layer("skip", tag=1),
        Layer("tag", tag=2),
        *_block(n, 2),
        Layer("tag", tag=1),
    ]


def anet_layers() -> list[Layer]:
    """The stack of ``anet_type``, outermost (output side) first, as dlib serializes it."""
    top: list[Layer] = [Layer("fc", num_outputs=128), Layer("avg_pool_all")]
    top += _ares_down(256)
    top += _ares(256) + _ares(256) + _ares_down(256)
    top += _ares(128) + _ares(128) + _ares_down(128)
    top += _ares(64) + _ares(64) + _ares(64) + _ares_down(64)
    top += _ares(32) + _ares(32) + _ares(32)
    top += [Layer("max_pool", window=3, stride=2), Layer("relu"), Layer("affine"), _con(32, 7, 2)]
    return top


def _params_slices(params: np.ndarray, *shapes: tuple[int, int, int, int]) -> list[np.ndarray]:
    flat = params.reshape(-1)
    sizes = [int(np.prod(s)) for s in shapes]
    if sum(sizes) != flat.size:
        raise DlibFormatError(f"params hold {flat.size} values, the layer's views need {sum(sizes)}")
    out, start = [], 0
    for shape, size in zip(shapes, sizes, strict=True):
        out.append(flat[start : start + size].reshape(shape).copy())
        start += size
    return out


def _read_con(s: DlibStream, layer: Layer) -> None:
    s.expect_string("con_4")
    params = s.tensor()
    for value, what in (
        (layer.num_outputs, "num_filters"),
        (layer.window, "nr"),
        (layer.window, "nc"),
        (layer.stride, "stride_y"),
        (layer.stride, "stride_x"),
        (layer.padding, "padding_y"),
        (layer.padding, "padding_x"),
    ):
        s.expect_integer(value, f"con {what}")
    filters, biases = s.alias(), s.alias()
    for _ in range(4):  # learning-rate and weight-decay multipliers (training only)
        s.real()
    w, b = _params_slices(params, filters, biases)
    layer.weights = {"filters": w, "biases": b.reshape(-1)}


def _read_affine(s: DlibStream, layer: Layer) -> None:
    s.expect_string("affine_")
    params = s.tensor()
    gamma, beta = s.alias(), s.alias()
    s.expect_integer(0, "affine mode (0: CONV_MODE, one gamma/beta per channel)")
    g, b = _params_slices(params, gamma, beta)
    layer.weights = {"gamma": g.reshape(-1), "beta": b.reshape(-1)}


def _read_pool(s: DlibStream, layer: Layer, name: str, window: int, stride: int, padding: int) -> None:
    s.expect_string(name)
    for value, what in (
        (window, "nr"),
        (window, "nc"),
        (stride, "stride_y"),
        (stride, "stride_x"),
        (padding, "padding_y"),
        (padding, "padding_x"),
    ):
        s.expect_integer(value, f"{name} {what}")


def _read_fc(s: DlibStream, layer: Layer) -> None:
    s.expect_string("fc_2")
    s.expect_integer(layer.num_outputs, "fc num_outputs")
    num_inputs = s.integer()
    params = s.tensor()
    weights = s.alias()
    s.alias()  # biases view: empty for fc_no_bias
    s.expect_integer(1, "fc bias_mode (1: FC_NO_BIAS)")
    for _ in range(4):
        s.real()
    (w,) = _params_slices(params, weights)
    layer.weights = {"matrix": w.reshape(num_inputs, layer.num_outputs)}


def _read_details(s: DlibStream, layer: Layer) -> None:
    kind = layer.kind
    if kind == "con":
        _read_con(s, layer)
    elif kind == "affine":
        _read_affine(s, layer)
    elif kind == "relu":
        s.expect_string("relu_")
    elif kind == "add_prev":
        s.expect_string("add_prev_")
    elif kind == "max_pool":
        _read_pool(s, layer, "max_pool_2", layer.window, layer.stride, layer.padding)
    elif kind == "avg_pool":
        _read_pool(s, layer, "avg_pool_2", layer.window, layer.stride, layer.padding)
    elif kind == "avg_pool_all":
        _read_pool(s, layer, "avg_pool_2", 0, 1, 0)
    elif kind == "fc":
        _read_fc(s, layer)
    else:  # pragma: no cover - anet_layers() has no other kinds
        raise DlibFormatError(f"no reader for layer kind {kind!r}")


def _read_add_layer_state(s: DlibStream, bottom: bool) -> None:
    """What add_layer writes after its layer's parameters: training state, all ignored."""
    for _ in range(3):  # this_layer_setup_called, gradient_input_is_stale, output/gradient disabled
        s.boolean()
    for _ in range(3):  # x_grad, cached_output, params_grad (grad_final for the bottom layer)
        s.tensor()
    if bottom:
        s.integer()  # _sample_expansion_factor


def parse_network(data: bytes) -> DlibNetwork:
    """Read a serialized ``anet_type`` (the whole .dat file) into its layers and weights."""
    s = DlibStream(data)
    s.expect_integer(1, "add_loss_layer version")
    loss = s.expect_string("loss_metric_2")
    s.real()  # margin (training only)
    s.real()  # distance threshold (training only)
    top_down = anet_layers()
    for i, layer in enumerate(top_down):
        bottom = i == len(top_down) - 1
        s.expect_integer(1 if layer.is_tag_or_skip else (3 if bottom else 2), f"layer {i} ({layer.kind}) version")
    s.expect_string("input_rgb_image_sized")
    mean = (s.real(), s.real(), s.real())
    size = (s.integer(), s.integer())
    bottom_up = list(reversed(top_down))
    for i, layer in enumerate(bottom_up):
        if layer.is_tag_or_skip:
            continue
        _read_details(s, layer)
        _read_add_layer_state(s, bottom=i == 0)
    if not s.at_end():
        raise DlibFormatError(f"offset {s.pos}: {len(s.data) - s.pos} bytes left after the network")
    return DlibNetwork(input=InputSpec(mean_rgb=mean, size=size), layers=bottom_up, loss=loss)
