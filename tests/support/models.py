"""A tiny, transparent ONNX liveness model for fast tests of the service around the models.

live = sigmoid(K * (mean red - mean blue) + C) over the face crop: a skin-toned face scores
live; the same frame with its red and blue channels swapped scores spoof. That lets API tests
drive the passive-liveness branch of the decision without the real (slow, opaque) models,
which have their own integration tests.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

K = 40.0
C = -1.0
SIZE = 64


def build_model_dir(target: Path, threshold: float = 0.5) -> Path:
    import onnx
    from onnx import TensorProto, helper

    target.mkdir(parents=True, exist_ok=True)
    weights = helper.make_tensor("w", TensorProto.FLOAT, [3, 1], [K, 0.0, -K])
    bias = helper.make_tensor("b", TensorProto.FLOAT, [1], [C])
    axes = helper.make_tensor("axes", TensorProto.INT64, [2], [1, 2])
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input", "axes"], ["means"], keepdims=0),
            helper.make_node("MatMul", ["means", "w"], ["logit0"]),
            helper.make_node("Add", ["logit0", "b"], ["logit"]),
            helper.make_node("Sigmoid", ["logit"], ["live"]),
        ],
        "redblue",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, SIZE, SIZE, 3])],
        [helper.make_tensor_value_info("live", TensorProto.FLOAT, [None, 1])],
        initializer=[weights, bias, axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    path = target / "redblue.onnx"
    onnx.save(model, str(path))
    card = {
        "name": "redblue",
        "version": "test-1",
        "kind": "classifier",
        "file": "redblue.onnx",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "input": {
            "name": "input",
            "size": SIZE,
            "layout": "NHWC",
            "color_order": "RGB",
            "scale": 1 / 255,
            "mean": [0, 0, 0],
            "std": [1, 1, 1],
        },
        "crop": {"scale": 1.2},
        "output": {"name": "live"},
        "threshold": threshold,
        "training": {"data": "none: a transparent test double"},
    }
    (target / "redblue.json").write_text(json.dumps(card, indent=2))
    ensemble = {"name": "test", "version": "test-1", "members": [{"model": "redblue", "weight": 1.0}], "threshold": threshold}
    (target / "ensemble.json").write_text(json.dumps(ensemble, indent=2))
    return target


def expected_score(crop_rgb: np.ndarray) -> float:
    x = crop_rgb.astype(np.float64) / 255.0
    z = K * (x[..., 0].mean() - x[..., 2].mean()) + C
    return float(1 / (1 + np.exp(-z)))
