"""``python -m ml.detector export``: write ``retinaface.onnx`` beside the Caffe files and extend
the detector card with it.

The ONNX bytes are deterministic (no timestamps, no producer version, weights folded in
float64 and cast once): rerunning the export on the same Caffe files gives the same sha256,
which the card records and :meth:`DetectorCard.load` verifies. The card also gets the
post-processing parameters (read from the prototxt's PriorBox and DetectionOutput layers, which
serving reproduces in numpy), the conversion's origin, and a head-level parity check on seeded
inputs of three sizes (cv2.dnn's ``mbox_loc``/``mbox_conf_softmax`` vs onnxruntime's outputs).
The frame-level parity figures come from ``python -m ml.detector parity --card``; the export
keeps them only while the ONNX file they were measured on is unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ml.detector.caffe_onnx import OPSET, convert, detection_output_params, prior_box_params
from webapp.face.retinaface import CARD_FILE, DEFAULT_DIR
from webapp.runtime.files import CardError, cpu_session, load_json, sha256_file, verify_file

ONNX_FILE = "retinaface.onnx"
PARITY_SIZES = ((221, 166), (192, 192), (166, 221))  # a 4:3 frame, a square, a portrait
HEAD_TOLERANCE = 1e-4


def head_parity(prototxt: Path, caffemodel: Path, onnx_path: Path) -> dict[str, Any]:
    """Max |difference| of the heads, cv2.dnn vs onnxruntime, on seeded blobs of PARITY_SIZES."""
    from ml.detector.reference import caffe_heads

    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    session = cpu_session(onnx_path)
    rng = np.random.default_rng(0)
    loc_diff = conf_diff = 0.0
    for w, h in PARITY_SIZES:
        blob = (rng.uniform(0, 255, (1, 3, h, w)) - 117.0).astype(np.float32)
        ref_loc, ref_conf = caffe_heads(net, blob)
        loc, conf = session.run(None, {"data": blob})
        if loc.shape[1:] != ref_loc.shape or conf.shape[1:] != ref_conf.shape:
            raise RuntimeError(f"{w}x{h}: ONNX heads {loc.shape}/{conf.shape} vs cv2 {ref_loc.shape}/{ref_conf.shape}")
        loc_diff = max(loc_diff, float(np.abs(loc[0] - ref_loc).max()))
        conf_diff = max(conf_diff, float(np.abs(conf[0] - ref_conf).max()))
    if max(loc_diff, conf_diff) > HEAD_TOLERANCE:
        raise RuntimeError(f"ONNX heads differ from cv2.dnn by {max(loc_diff, conf_diff):.2e} (> {HEAD_TOLERANCE})")
    return {
        "inputs": f"seeded uniform blobs (numpy default_rng(0), BGR 0-255 minus 117) of {[f'{w}x{h}' for w, h in PARITY_SIZES]}",
        "loc_max_abs_diff": loc_diff,
        "conf_max_abs_diff": conf_diff,
    }


def postprocess_section(prototxt: Path) -> dict[str, Any]:
    """The PriorBox and DetectionOutput parameters serving needs, from the prototxt."""
    levels = prior_box_params(prototxt)
    out = detection_output_params(prototxt)
    variances = {tuple(level["variance"]) for level in levels}
    unsupported = [level["layer"] for level in levels if level["max_sizes"] or set(level["aspect_ratios"]) - {1.0} or level["clip"]]
    if len(variances) != 1 or unsupported:
        raise CardError(f"prior layers need one shared variance, no max_size/aspect ratio/clip: {unsupported}")
    if out["num_classes"] != 2 or not out["share_location"] or out["code_type"] != "CENTER_SIZE" or out["variance_encoded_in_target"]:
        raise CardError(f"DetectionOutput {out} is not the one numpy reproduces (2 classes, shared, CENTER_SIZE)")
    return {
        "what": "PriorBox + DetectionOutput of deploy.prototxt, run in numpy by webapp.face.ssd (not in the ONNX graph)",
        "priors": [{"layer": lv["layer"], "min_sizes": lv["min_sizes"], "step": lv["step"], "offset": lv["offset"]} for lv in levels],
        "variance": list(variances.pop()),
        "detection_output": {k: out[k] for k in ("confidence_threshold", "nms_threshold", "top_k", "keep_top_k", "code_type")},
    }


def export(directory: Path = DEFAULT_DIR) -> dict[str, Any]:
    """Convert, write the ONNX file and the card; returns the card's new ``onnx`` section."""
    card_path = directory / CARD_FILE
    card = load_json(card_path)
    files = card["files"]
    prototxt, caffemodel = directory / files["prototxt"]["file"], directory / files["model"]["file"]
    verify_file(prototxt, files["prototxt"]["sha256"])
    verify_file(caffemodel, files["model"]["sha256"])
    onnx_path = directory / ONNX_FILE
    onnx_path.write_bytes(convert(prototxt, caffemodel).SerializeToString())
    digest = sha256_file(onnx_path)
    previous = card.get("onnx", {})
    files["onnx"] = {"file": ONNX_FILE, "sha256": digest, "size_bytes": onnx_path.stat().st_size}
    section: dict[str, Any] = {
        "origin": (
            f"python -m ml.detector export: {files['prototxt']['file']} (sha256 {files['prototxt']['sha256'][:12]}) + "
            f"{files['model']['file']} (sha256 {files['model']['sha256'][:12]}) rewritten layer by layer with onnx.helper "
            "(ml/detector/caffe_onnx.py); BatchNorm + Scale folded into the convolutions in float64 (as cv2.dnn fuses them); "
            "same weights, same licence (Apache-2.0, LICENSE, NOTICE)"
        ),
        "opset": OPSET,
        "inputs": {"data": "1x3xHxW float32, H and W dynamic: the blob cv2.dnn.blobFromImage makes (BGR minus mean)"},
        "outputs": {
            "loc": "1xNx4 box offsets (mbox_loc), priors in PriorBox order",
            "conf": "1xNx2 softmax (background, face) (mbox_conf_softmax)",
        },
        "head_parity": head_parity(prototxt, caffemodel, onnx_path),
    }
    if previous.get("parity", {}).get("onnx_sha256") == digest:
        section["parity"] = previous["parity"]
    card["onnx"] = section
    card["postprocess"] = postprocess_section(prototxt)
    card["runtime"] = (
        "onnxruntime (webapp.runtime.files.cpu_session) on retinaface.onnx + numpy PriorBox/DetectionOutput (webapp.face.ssd): "
        "webapp.face.retinaface.RetinaFace; the Caffe files are the conversion's source (ml.detector.reference runs them in cv2.dnn)"
    )
    card["output"] = {
        "rows": "(confidence, x1, y1, x2, y2) normalised to the frame (RetinaFace.rows), multiply by width/height",
        "nms": "webapp.face.ssd.detection_output, the prototxt's DetectionOutput (threshold 0.3, top_k 400, keep_top_k 200, floor 0.1)",
    }
    write_card(card_path, card)
    return section


def write_card(path: Path, card: dict[str, Any]) -> None:
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
