"""The SSD arithmetic around the context detector's network: Caffe's PriorBox and DetectionOutput
layers, in numpy, reproducing what ``cv2.dnn`` computes for them (float32 throughout).

The ONNX graph (``webapp/assets/detector/retinaface.onnx``) ends at the heads: per prior, four
box offsets and a softmax over (background, face). These two layers are no network: the priors
depend only on the feature-map and image sizes, and DetectionOutput is a decode, a threshold
and a greedy NMS. Written here, with the parameters the export copied from ``deploy.prototxt``
into the card, the graph needs no custom operator and the priors are computed once per input
size. ``tests/test_ssd.py`` checks each step on hand-made inputs; the slow tests and
``python -m ml.detector parity`` check the whole against cv2's layers on real frames.

cv2's semantics kept here (``dnn/src/layers/prior_box_layer.cpp``, ``detection_output_layer.cpp``):

* priors: for each cell (row-major) and each ``min_size``, a square ``min_size`` box centred at
  ``((x + offset) * step, (y + offset) * step)``, normalised by the *network input* width and
  height, not clipped (``clip: false``);
* CENTER_SIZE decode with the variances: centre ``v0 * dx * pw + pcx``, size ``exp(v2 * dw) * pw``;
* per class except the background: scores strictly above ``confidence_threshold``, stable sort
  descending, the first ``top_k``; greedy NMS keeping a box whose IoU with every kept box is
  ``<= nms_threshold`` (IoU of normalised boxes, no +1); then at most ``keep_top_k`` overall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PriorLevel:
    """One PriorBox layer: the anchors of one feature map."""

    min_sizes: tuple[float, ...]
    step: float
    offset: float = 0.5

    @property
    def downsampling(self) -> int:
        """How many stride-2 stages lie between the input and this level (step 8 -> 3)."""
        n = round(math.log2(self.step))
        if 2**n != self.step:
            raise ValueError(f"prior step {self.step} is not a power of two")
        return n


@dataclass(frozen=True)
class DetectionParams:
    """DetectionOutput's parameters (one foreground class, shared locations, CENTER_SIZE)."""

    variance: tuple[float, float, float, float]
    confidence_threshold: float
    nms_threshold: float
    top_k: int
    keep_top_k: int


def feature_size(side: int, downsampling: int) -> int:
    """A feature map's side after ``downsampling`` stride-2 3x3 convolutions with pad 1 (each
    gives ``ceil(side / 2)``), the only strided layers of the backbone."""
    for _ in range(downsampling):
        side = (side + 1) // 2
    return side


def prior_boxes(levels: tuple[PriorLevel, ...], width: int, height: int) -> np.ndarray:
    """The (N, 4) priors ``x1, y1, x2, y2`` normalised to the network input, in the order the
    network's heads emit them (level, row, column, min size)."""
    out = []
    for level in levels:
        fw, fh = feature_size(width, level.downsampling), feature_size(height, level.downsampling)
        cx = (np.arange(fw, dtype=np.float32) + np.float32(level.offset)) * np.float32(level.step)
        cy = (np.arange(fh, dtype=np.float32) + np.float32(level.offset)) * np.float32(level.step)
        gx, gy = np.meshgrid(cx, cy)  # (fh, fw), row-major like the heads' NHWC flatten
        half = np.asarray(level.min_sizes, dtype=np.float32) / np.float32(2.0)
        gx, gy = gx[..., None], gy[..., None]
        boxes = np.stack(
            [
                (gx - half) / np.float32(width),
                (gy - half) / np.float32(height),
                (gx + half) / np.float32(width),
                (gy + half) / np.float32(height),
            ],
            axis=-1,
        )
        out.append(boxes.reshape(-1, 4))
    return np.concatenate(out).astype(np.float32)


def decode(loc: np.ndarray, priors: np.ndarray, variance: tuple[float, float, float, float]) -> np.ndarray:
    """CENTER_SIZE decode of (N, 4) offsets against (N, 4) corner priors: (N, 4) corners."""
    v = np.asarray(variance, dtype=np.float32)
    pw = priors[:, 2] - priors[:, 0]
    ph = priors[:, 3] - priors[:, 1]
    pcx = (priors[:, 0] + priors[:, 2]) * np.float32(0.5)
    pcy = (priors[:, 1] + priors[:, 3]) * np.float32(0.5)
    cx = v[0] * loc[:, 0] * pw + pcx
    cy = v[1] * loc[:, 1] * ph + pcy
    w = np.exp(v[2] * loc[:, 2]) * pw
    h = np.exp(v[3] * loc[:, 3]) * ph
    half_w, half_h = w * np.float32(0.5), h * np.float32(0.5)
    return np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1).astype(np.float32)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` with every box of ``b`` (normalised corners, no +1; a box with
    negative width or height has size 0), as cv2's JaccardOverlap."""
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    iw, ih = ix2 - ix1, iy2 - iy1
    inter = np.where((iw > 0) & (ih > 0), iw * ih, np.float32(0.0))

    def size(x: np.ndarray) -> np.ndarray:
        w, h = x[:, 2] - x[:, 0], x[:, 3] - x[:, 1]
        return np.where((w < 0) | (h < 0), np.float32(0.0), w * h)

    union = size(a)[:, None] + size(b)[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(inter > 0, inter / union, np.float32(0.0)).astype(np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, nms_threshold: float, top_k: int) -> np.ndarray:
    """Indices kept by cv2's ApplyNMSFast (eta 1), most confident first."""
    candidates = np.flatnonzero(scores > np.float32(threshold))
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    if top_k > -1:
        order = order[:top_k]
    if order.size == 0:
        return order
    overlap = iou_matrix(boxes[order], boxes[order])
    alive = np.ones(order.size, dtype=bool)
    keep: list[int] = []
    for i in range(order.size):
        if not alive[i]:
            continue
        keep.append(i)
        alive &= overlap[i] <= np.float32(nms_threshold)
    return order[np.asarray(keep, dtype=np.int64)]


def detection_output(loc: np.ndarray, conf: np.ndarray, priors: np.ndarray, params: DetectionParams) -> np.ndarray:
    """``detection_out`` rows ``(confidence, x1, y1, x2, y2)`` normalised to the input, most
    confident first, from (N, 4) offsets, (N, 2) softmax scores and (N, 4) priors."""
    if not (loc.shape == priors.shape and conf.shape == (priors.shape[0], 2)):
        raise ValueError(f"detector heads {loc.shape}/{conf.shape} do not match {priors.shape[0]} priors")
    boxes = decode(loc, priors, params.variance)
    scores = np.ascontiguousarray(conf[:, 1], dtype=np.float32)
    kept = nms(boxes, scores, params.confidence_threshold, params.nms_threshold, params.top_k)
    if params.keep_top_k > -1 and kept.size > params.keep_top_k:
        kept = kept[np.argsort(-scores[kept], kind="stable")[: params.keep_top_k]]
    return np.concatenate([scores[kept, None], boxes[kept]], axis=1)
