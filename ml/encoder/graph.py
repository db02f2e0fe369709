"""The ONNX graph of a parsed dlib ResNet (:mod:`ml.encoder.dlib_net`), built with onnx.helper.

Every dlib layer becomes the ONNX operator that computes the same thing, in the same order,
in float32, so the exported model is the same network rather than an approximation of it:

- input_rgb_image_sized: the graph takes the 150x150 RGB chip as float pixel values (0-255,
  NCHW) and computes ``(x - mean) / 256`` itself, as dlib's to_tensor does (mean per channel
  from the file; dividing by 256 is exact in float32).
- con: Conv (dlib's convolution is a correlation, like ONNX's), padding as stored in the file
  (dlib's default: half the window at stride 1, none at stride 2).
- affine (batch norm folded at training time): Mul by gamma, Add beta, per channel. Left as
  two operators, not folded into the convolution weights: onnxruntime fuses them at load
  time, and the file keeps dlib's values as they are.
- relu, max_pool, avg_pool: Relu, MaxPool, AveragePool with the stored window, stride and
  padding (no padding anywhere in this network, so ONNX's floor output size is dlib's).
- add_prev: Add of the current tensor and the tagged one. When their shapes differ (a
  downsampling block adds a 2x2-pooled input with half the channels, or a 4x4 pool to a 3x3
  convolution output), dlib's tt::add gives the larger shape and treats the smaller tensor's
  missing entries as zeros; the graph pads the smaller tensor with zeros at the end of each
  axis, then adds.
- avg_pool_everything, fc_no_bias: GlobalAveragePool, Flatten, MatMul by the stored
  (inputs, outputs) matrix. loss_metric's output is that product, unnormalised.

The batch dimension is symbolic; shapes of the other axes are tracked here to size the pads.
Nothing in the model depends on time or randomness, so the same .dat gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ml.encoder.dlib_net import DlibNetwork, Layer

INPUT_NAME = "chip"
OUTPUT_NAME = "descriptor"
OPSET = 17
IR_VERSION = 8  # read by every onnxruntime since 1.10


@dataclass
class _Builder:
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    counter: int = 0

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter:03d}"

    def const(self, prefix: str, value: np.ndarray) -> str:
        name = self.name(prefix)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], prefix: str, **attrs: Any) -> str:
        out = self.name(prefix)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def _out_side(side: int, window: int, stride: int, padding: int) -> int:
    return 1 + (side + 2 * padding - window) // stride


def _pad_to(b: _Builder, x: str, shape: tuple[int, int, int], target: tuple[int, int, int]) -> str:
    """``x`` (N, C, H, W) zero-extended at the end of C, H and W to ``target``."""
    if shape == target:
        return x
    ends = [t - s for s, t in zip(shape, target, strict=True)]
    pads = np.array([0, 0, 0, 0, 0, *ends], dtype=np.int64)  # begins (N, C, H, W), then ends
    return b.op("Pad", [x, b.const("pads", pads)], "pad", mode="constant")


def build_model(net: DlibNetwork) -> onnx.ModelProto:
    """The ONNX model of ``net``: (N, 3, 150, 150) float RGB pixels -> (N, 128) descriptor."""
    b = _Builder()
    h, w = net.input.size
    mean = np.array(net.input.mean_rgb, dtype=np.float32).reshape(1, 3, 1, 1)
    x = b.op("Sub", [INPUT_NAME, b.const("mean", mean)], "centre")
    x = b.op("Div", [x, b.const("scale", np.array(256.0, dtype=np.float32))], "scaled")
    shape: tuple[int, ...] = (3, h, w)
    tags: dict[int, tuple[str, tuple[int, int, int]]] = {}
    for layer in net.layers:
        x, shape = _layer(b, layer, x, shape, tags)
    if shape != (128,):
        raise ValueError(f"the network ends with shape {shape}, not a 128-d descriptor")
    graph = helper.make_graph(
        b.nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", 3, h, w])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", 128])],
        b.initializers,
    )
    # The last node writes the graph output under its public name.
    graph.node[-1].output[0] = OUTPUT_NAME
    model = helper.make_model(
        graph,
        producer_name="livegate-ml.encoder",
        producer_version="1",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def _layer(
    b: _Builder, layer: Layer, x: str, shape: tuple[int, ...], tags: dict[int, tuple[str, tuple[int, int, int]]]
) -> tuple[str, tuple[int, ...]]:
    kind = layer.kind
    if kind == "tag":
        tags[layer.tag] = (x, shape)  # type: ignore[assignment]
        return x, shape
    if kind == "skip":
        return tags[layer.tag]
    if kind == "fc":
        matrix = layer.weights["matrix"]
        return b.op("MatMul", [x, b.const("fc", matrix)], "fc"), (matrix.shape[1],)
    c, hh, ww = shape
    if kind == "con":
        k, s, p = layer.window, layer.stride, layer.padding
        filters = layer.weights["filters"]
        if filters.shape[1] != c:
            raise ValueError(f"con expects {filters.shape[1]} input channels, gets {c}")
        y = b.op(
            "Conv",
            [x, b.const("filters", filters), b.const("biases", layer.weights["biases"])],
            "conv",
            kernel_shape=[k, k],
            strides=[s, s],
            pads=[p, p, p, p],
        )
        return y, (layer.num_outputs, _out_side(hh, k, s, p), _out_side(ww, k, s, p))
    if kind == "affine":
        gamma = layer.weights["gamma"].reshape(1, -1, 1, 1)
        beta = layer.weights["beta"].reshape(1, -1, 1, 1)
        y = b.op("Mul", [x, b.const("gamma", gamma)], "affine_mul")
        return b.op("Add", [y, b.const("beta", beta)], "affine_add"), shape
    if kind == "relu":
        return b.op("Relu", [x], "relu"), shape
    if kind in ("max_pool", "avg_pool"):
        k, s, p = layer.window, layer.stride, layer.padding
        op = "MaxPool" if kind == "max_pool" else "AveragePool"
        y = b.op(op, [x], kind, kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p])
        return y, (c, _out_side(hh, k, s, p), _out_side(ww, k, s, p))
    if kind == "add_prev":
        other, other_shape = tags[layer.tag]
        target = tuple(max(a, o) for a, o in zip(shape, other_shape, strict=True))
        y = b.op(
            "Add",
            [_pad_to(b, x, shape, target), _pad_to(b, other, other_shape, target)],  # type: ignore[arg-type]
            "add_prev",
        )
        return y, target
    if kind == "avg_pool_all":
        y = b.op("GlobalAveragePool", [x], "avg_pool_all")
        return b.op("Flatten", [y], "flatten", axis=1), (c,)
    raise ValueError(f"no ONNX translation for layer kind {kind!r}")
