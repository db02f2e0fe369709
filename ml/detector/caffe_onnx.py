"""The context detector's Caffe network (``deploy.prototxt`` + ``Widerface-RetinaFace.caffemodel``)
rewritten as an ONNX graph, built with ``onnx.helper`` (no torch, no caffe).

The graph is the backbone and heads only: ``data`` (1x3xHxW, dynamic H/W, BGR minus the card's
mean) to ``loc`` (1xNx4, the box offsets) and ``conf`` (1xNx2, softmax over background/face).
PriorBox and DetectionOutput are not network layers but fixed arithmetic on the input size;
they run in numpy (``webapp.face.priors``), so the graph needs no custom operator.

Weights are read from the caffemodel through ``cv2.dnn`` *before* any forward pass: cv2 fuses
BatchNorm and Scale into the convolutions at the first forward and the blobs then no longer
describe the layers. BatchNorm + Scale are folded into the preceding convolution here, in float64,
the same fusion cv2 applies at run time; the folded float32 weights are what both runtimes
multiply by.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
GRAPH_NAME = "retinaface_mobilenet_silentface"
HEAD_LAYERS = ("mbox_loc", "mbox_conf_softmax")


# --- prototxt (protobuf text format) -------------------------------------------------------


@dataclass
class Message:
    """One protobuf text-format message: every field is a list (repeated or not)."""

    fields: dict[str, list[Any]] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        values = self.fields.get(key)
        return values[0] if values else default

    def all(self, key: str) -> list[Any]:
        return self.fields.get(key, [])


_TOKEN = re.compile(r'\s*(?:(#[^\n]*)|("(?:[^"\\]|\\.)*")|([{}:])|([^\s{}:"#]+))')


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip():
                raise ValueError(f"prototxt: cannot parse at offset {pos}")
            break
        pos = m.end()
        if m.group(1):
            continue
        out.append(m.group(2) or m.group(3) or m.group(4))
    return out


def _scalar(token: str) -> Any:
    if token.startswith('"'):
        return token[1:-1]
    if token in ("true", "false"):
        return token == "true"
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        return token  # an enum (MAX, SUM, CENTER_SIZE, TEST)


def parse_prototxt(text: str) -> Message:
    """The prototxt as nested :class:`Message` objects (enough of text format for Caffe)."""
    tokens = _tokens(text)
    stack = [Message()]
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "}":
            stack.pop()
            i += 1
            continue
        if i + 1 >= len(tokens):
            raise ValueError(f"prototxt: dangling {tok!r}")
        nxt = tokens[i + 1]
        if nxt == "{" or (nxt == ":" and i + 2 < len(tokens) and tokens[i + 2] == "{"):
            child = Message()
            stack[-1].fields.setdefault(tok, []).append(child)
            stack.append(child)
            i += 2 if nxt == "{" else 3
        elif nxt == ":":
            stack[-1].fields.setdefault(tok, []).append(_scalar(tokens[i + 2]))
            i += 3
        else:
            raise ValueError(f"prototxt: unexpected {nxt!r} after {tok!r}")
    if len(stack) != 1:
        raise ValueError("prototxt: unbalanced braces")
    return stack[0]


# --- weights ---------------------------------------------------------------------------------


def read_blobs(prototxt: Path, caffemodel: Path) -> dict[str, list[np.ndarray]]:
    """Every layer's blobs as stored in the caffemodel (read before any forward pass, so
    BatchNorm/Scale are still separate layers)."""
    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    blobs: dict[str, list[np.ndarray]] = {}
    for name in net.getLayerNames():
        layer = net.getLayer(name)
        blobs[name] = [np.array(b, dtype=np.float64) for b in layer.blobs]
    return blobs


# --- conversion ------------------------------------------------------------------------------


@dataclass
class _Conv:
    """A Convolution being built: weights and bias folded as BatchNorm/Scale layers follow it."""

    name: str
    bottom: str
    weight: np.ndarray
    bias: np.ndarray
    pad: int
    stride: int
    group: int
    dilation: int
    transpose: bool


class Converter:
    """Walks the Caffe layers in order and emits ONNX nodes (static SSA names for in-place tops)."""

    def __init__(self, net: Message, blobs: dict[str, list[np.ndarray]]) -> None:
        self.net = net
        self.blobs = blobs
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.alias: dict[str, str] = {}  # Caffe blob name -> current ONNX tensor name
        self.pending: dict[str, _Conv] = {}  # Caffe top -> conv not yet emitted (BN/Scale may fold)
        self.skipped: set[str] = set()  # tops computed outside the graph (priors, detections)

    # names
    def _ref(self, blob: str) -> str:
        if blob in self.pending:
            self._emit_conv(blob)
        return self.alias[blob]

    def _const(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def _emit_conv(self, top: str) -> None:
        c = self.pending.pop(top)
        w = self._const(f"{c.name}.weight", c.weight.astype(np.float32))
        b = self._const(f"{c.name}.bias", c.bias.astype(np.float32))
        k = int(c.weight.shape[2])
        out = f"{c.name}_out"
        op = "ConvTranspose" if c.transpose else "Conv"
        self.nodes.append(
            helper.make_node(
                op,
                [self.alias[c.bottom], w, b],
                [out],
                name=c.name,
                kernel_shape=[k, k],
                strides=[c.stride, c.stride],
                pads=[c.pad] * 4,
                dilations=[c.dilation, c.dilation],
                group=c.group,
            )
        )
        self.alias[top] = out

    def convert(self) -> onnx.ModelProto:
        self.alias["data"] = "data"
        for layer in self.net.all("layer"):
            self._layer(layer)
        loc = self._ref("mbox_loc")
        conf = self._ref("mbox_conf_softmax")
        shape_loc = self._const("loc_shape", np.array([0, -1, 4], dtype=np.int64))
        self.nodes.append(helper.make_node("Reshape", [loc, shape_loc], ["loc"], name="loc_reshape"))
        self.nodes.append(helper.make_node("Identity", [conf], ["conf"], name="conf_out"))
        graph = helper.make_graph(
            self.nodes,
            GRAPH_NAME,
            [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, "height", "width"])],
            [
                helper.make_tensor_value_info("loc", TensorProto.FLOAT, [1, "priors", 4]),
                helper.make_tensor_value_info("conf", TensorProto.FLOAT, [1, "priors", 2]),
            ],
            self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="ml.detector")
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        return model

    def _layer(self, layer: Message) -> None:
        name: str = layer.get("name")
        kind: str = layer.get("type")
        bottoms: list[str] = layer.all("bottom")
        tops: list[str] = layer.all("top")
        top = tops[0] if tops else name
        if kind in ("PriorBox", "DetectionOutput") or (bottoms and all(b in self.skipped for b in bottoms)):
            self.skipped.update(tops)  # numpy, see webapp.face.priors (and the Concat of the priors)
            return
        if kind in ("Convolution", "Deconvolution"):
            p = layer.get("convolution_param")
            blobs = self.blobs[name] if name in self.blobs else self.blobs[top]  # cv2 names convs by top
            weight = blobs[0]
            bias = blobs[1].reshape(-1) if p.get("bias_term", True) else np.zeros(int(p.get("num_output")))
            self._ref(bottoms[0])  # materialise the input
            self.pending[top] = _Conv(
                name=name,
                bottom=bottoms[0],
                weight=weight,
                bias=bias,
                pad=int(p.get("pad", 0)),
                stride=int(p.get("stride", 1)),
                group=int(p.get("group", 1)),
                dilation=int(p.get("dilation", 1)),
                transpose=kind == "Deconvolution",
            )
            return
        if kind == "BatchNorm":
            c = self._fold_target(bottoms[0], name)
            mean, var, factor = self.blobs[name][:3]
            f = 0.0 if float(factor.reshape(-1)[0]) == 0 else 1.0 / float(factor.reshape(-1)[0])
            eps = float(layer.get("batch_norm_param").get("eps", 1e-5))
            scale = 1.0 / np.sqrt(var.reshape(-1) * f + eps)
            self._fold(c, scale, -mean.reshape(-1) * f * scale)
            self._rename(bottoms[0], top)
            return
        if kind == "Scale":
            c = self._fold_target(bottoms[0], name)
            blobs = self.blobs[name]
            gamma = blobs[0].reshape(-1)
            beta = blobs[1].reshape(-1) if len(blobs) > 1 else np.zeros_like(gamma)
            self._fold(c, gamma, beta)
            self._rename(bottoms[0], top)
            return
        ins = [self._ref(b) for b in bottoms]
        out = f"{name}_out"
        if kind == "ReLU":
            slope = float((layer.get("relu_param") or Message()).get("negative_slope", 0.0))
            if slope:
                self.nodes.append(helper.make_node("LeakyRelu", ins, [out], name=name, alpha=slope))
            else:
                self.nodes.append(helper.make_node("Relu", ins, [out], name=name))
        elif kind == "Concat":
            axis = int((layer.get("concat_param") or Message()).get("axis", 1))
            self.nodes.append(helper.make_node("Concat", ins, [out], name=name, axis=axis))
        elif kind == "Eltwise":
            op = (layer.get("eltwise_param") or Message()).get("operation", "SUM")
            if op != "SUM" or (layer.get("eltwise_param") or Message()).all("coeff"):
                raise ValueError(f"{name}: only plain Eltwise SUM is supported")
            self.nodes.append(helper.make_node("Sum", ins, [out], name=name))
        elif kind == "Crop":
            p = layer.get("crop_param") or Message()
            if int(p.get("axis", 2)) != 2 or int(p.get("offset", 0)) != 0:
                raise ValueError(f"{name}: only Crop axis 2 offset 0 is supported")
            shape = f"{name}_ref_shape"
            self.nodes.append(helper.make_node("Shape", [ins[1]], [shape], name=f"{name}_shape", start=2))
            starts = self._const(f"{name}_starts", np.array([0, 0], dtype=np.int64))
            axes = self._const(f"{name}_axes", np.array([2, 3], dtype=np.int64))
            self.nodes.append(helper.make_node("Slice", [ins[0], starts, shape, axes], [out], name=name))
        elif kind == "Permute":
            order = [int(v) for v in layer.get("permute_param").all("order")]
            self.nodes.append(helper.make_node("Transpose", ins, [out], name=name, perm=order))
        elif kind == "Flatten":
            axis = int((layer.get("flatten_param") or Message()).get("axis", 1))
            self.nodes.append(helper.make_node("Flatten", ins, [out], name=name, axis=axis))
        elif kind == "Reshape":
            dims = [int(v) for v in layer.get("reshape_param").get("shape").all("dim")]
            shape = self._const(f"{name}_shape", np.array(dims, dtype=np.int64))
            self.nodes.append(helper.make_node("Reshape", [ins[0], shape], [out], name=name))
        elif kind == "Softmax":
            axis = int((layer.get("softmax_param") or Message()).get("axis", 1))
            self.nodes.append(helper.make_node("Softmax", ins, [out], name=name, axis=axis))
        else:
            raise ValueError(f"{name}: layer type {kind} is not supported")
        self.alias[top] = out

    def _fold_target(self, bottom: str, name: str) -> _Conv:
        c = self.pending.get(bottom)
        if c is None:
            raise ValueError(f"{name}: BatchNorm/Scale must follow a Convolution directly")
        return c

    @staticmethod
    def _fold(c: _Conv, scale: np.ndarray, shift: np.ndarray) -> None:
        axis_shape = (1, -1, 1, 1) if c.transpose else (-1, 1, 1, 1)
        c.weight = c.weight * scale.reshape(axis_shape)
        c.bias = c.bias * scale + shift

    def _rename(self, bottom: str, top: str) -> None:
        if top != bottom:
            self.pending[top] = self.pending.pop(bottom)


def convert(prototxt: Path, caffemodel: Path) -> onnx.ModelProto:
    """The backbone + heads of the Caffe detector as a checked ONNX model."""
    net = parse_prototxt(prototxt.read_text(encoding="utf-8"))
    return Converter(net, read_blobs(prototxt, caffemodel)).convert()


def prior_box_params(prototxt: Path) -> list[dict[str, Any]]:
    """Each PriorBox layer's parameters, in the order DetectionOutput concatenates them."""
    net = parse_prototxt(prototxt.read_text(encoding="utf-8"))
    out = []
    for layer in net.all("layer"):
        if layer.get("type") == "PriorBox":
            p = layer.get("prior_box_param")
            out.append(
                {
                    "layer": layer.get("name"),
                    "min_sizes": [float(v) for v in p.all("min_size")],
                    "max_sizes": [float(v) for v in p.all("max_size")],
                    "aspect_ratios": [float(v) for v in p.all("aspect_ratio")],
                    "step": float(p.get("step", 0.0)),
                    "offset": float(p.get("offset", 0.5)),
                    "clip": bool(p.get("clip", False)),
                    "variance": [float(v) for v in p.all("variance")],
                }
            )
    return out


def detection_output_params(prototxt: Path) -> dict[str, Any]:
    """The DetectionOutput layer's parameters."""
    net = parse_prototxt(prototxt.read_text(encoding="utf-8"))
    for layer in net.all("layer"):
        if layer.get("type") == "DetectionOutput":
            p = layer.get("detection_output_param")
            nms = p.get("nms_param")
            return {
                "num_classes": int(p.get("num_classes")),
                "share_location": bool(p.get("share_location", True)),
                "background_label_id": int(p.get("background_label_id", 0)),
                "nms_threshold": float(nms.get("nms_threshold", 0.3)),
                "top_k": int(nms.get("top_k", -1)),
                "code_type": str(p.get("code_type", "CORNER")),
                "keep_top_k": int(p.get("keep_top_k", -1)),
                "confidence_threshold": float(p.get("confidence_threshold", 0.0)),
                "variance_encoded_in_target": bool(p.get("variance_encoded_in_target", False)),
            }
    raise ValueError("prototxt has no DetectionOutput layer")
