"""Silent-Face ``.pth`` -> Keras -> ONNX + model card, with parity against the numpy reference.

Output per model: ``<name>.onnx`` and ``<name>.json`` (the card schema of webapp/liveness/card.py,
as ml/export.py writes it, plus the fields a 3-class BGR model needs: ``output.activation``,
``output.live_index``, ``crop.box``/``crop.policy``, licence and origin). The folder also gets the
upstream LICENSE and a NOTICE saying what was changed (Apache-2.0, section 4). The RetinaFace
detector is copied byte for byte with its own card (:func:`write_detector`).

Parity: the ONNX file must match :func:`ml.pretrained.minifasnet.reference_forward` (float64,
from the state dict alone, no Keras) to ``PARITY_TOLERANCE`` on the logits, or conversion fails.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml.pretrained.detector import CAFFEMODEL, DEFAULT_MIN_CONFIDENCE, INPUT_AREA_SIDE, MEAN_BGR, PROTOTXT
from ml.pretrained.legacy_torch import load_legacy_state_dict
from ml.pretrained.minifasnet import Plan, build_keras, infer_plan, reference_forward
from ml.pretrained.silentface import LIVE_INDEX, NATIVE_THRESHOLD
from webapp.liveness.card import parse_model_card
from webapp.runtime.files import cpu_session, sha256_file

PARITY_TOLERANCE = 1e-4
UPSTREAM_REPO = "minivision-ai/Silent-Face-Anti-Spoofing"
UPSTREAM_COMMIT = "b6d5f04"  # ../shared/pretrained/README.md


@dataclass(frozen=True)
class Source:
    """One released weight file and how the repo uses it (from its file name and test.py)."""

    file: str
    name: str
    family: str
    crop_scale: float
    dropout: float  # the repo's drop_p, kept in the Keras model for fine-tuning only


SOURCES = (
    Source("2.7_80x80_MiniFASNetV2.pth", "minifasnet_v2", "MiniFASNetV2", 2.7, 0.2),
    Source("4_0_0_80x80_MiniFASNetV1SE.pth", "minifasnet_v1se", "MiniFASNetV1SE", 4.0, 0.75),
)
INPUT_SIZE = 80
STAT_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")  # BN statistics are not parameters

CROP_POLICY = (
    "Silent-Face crop (src/generate_patches.py CropImage; webapp.face.crop.silent_face_crop, which serving and ml share): the detector box "
    "[x, y, w, h] = [int(x1), int(y1), int(x2 - x1 + 1), int(y2 - y1 + 1)] is scaled by `scale` about its centre, the scale "
    "reduced to min(scale, (H-1)/h, (W-1)/w) so the box fits the image, the box shifted inside the image, the region "
    "(inclusive corners, integer-truncated) resized to 80x80 with bilinear cv2.resize. NOT webapp.face.crop_face."
)
THRESHOLD_RULE = (
    "native decision: live when the softmax live probability (class 1), averaged over minifasnet_v2 and minifasnet_v1se, "
    "is >= 0.5 (the repo sums both softmax outputs and takes the argmax; >= 0.5 on the mean implies that argmax is live)"
)
NOTICE = """LiveGate -- converted Silent-Face anti-spoofing models

minifasnet_v2.onnx and minifasnet_v1se.onnx are derived from the files
2.7_80x80_MiniFASNetV2.pth and 4_0_0_80x80_MiniFASNetV1SE.pth released by Minivision in
https://github.com/minivision-ai/Silent-Face-Anti-Spoofing (commit b6d5f04), licensed under the
Apache License, Version 2.0 (LICENSE.silent-face in this folder).

Changes made by LiveGate: the PyTorch state dicts were read without PyTorch
(ml/pretrained/legacy_torch.py), rebuilt as Keras models (ml/pretrained/minifasnet.py) and exported
to ONNX in inference mode (BatchNorm with its stored running statistics, dropout removed). The
weights are not retrained or otherwise modified; outputs match a float64 reference of the original
network to 1e-4 on the logits. The model cards (*.json) are LiveGate's.
"""
DETECTOR_NOTICE = """LiveGate -- Silent-Face face detector

Widerface-RetinaFace.caffemodel and deploy.prototxt are copied unchanged from
https://github.com/minivision-ai/Silent-Face-Anti-Spoofing (commit b6d5f04,
resources/detection_model/), licensed under the Apache License, Version 2.0 (LICENSE in this
folder). retinaface.json is LiveGate's description of how the files are used.
"""

LIMITS = [
    "Trained by Minivision on their own data (not public); LiveGate has not retrained it. Frozen figures on the shared sets are in "
    "the card's metrics and ml/README.md.",
    "Most of the signal is context around the face (2.7x / 4x the detector box): screen edges, hands, paper borders. Tight face "
    "crops, where that context is missing, score badly.",
    "Needs the RetinaFace box (webapp/assets/detector) and the Silent-Face crop; the service's HOG box and crop_face frame faces "
    "differently.",
    "Per-frame scores; no mask or 3D attacks were measured.",
]


def canonical_names(model: Any) -> Any:
    """Rename every node and internal tensor of an ONNX graph by position, in place.

    tf2onnx names nodes and folded constants from process-wide counters (``Conv__1216``,
    ``const_fold_opt__884``), so two exports of the same weights differ in bytes. Positional
    names make the committed file a function of the weights alone: rerunning the converter
    leaves it, and its sha256 in the card, unchanged.
    """
    graph = model.graph
    graph.doc_string = "MiniFASNet converted by LiveGate (ml/pretrained/convert.py) from the Silent-Face weights"
    keep = {v.name for v in graph.input} | {v.name for v in graph.output}
    mapping: dict[str, str] = {}
    initializers = {t.name for t in graph.initializer}
    for i, node in enumerate(graph.node):
        for name in node.input:
            if name and name in initializers and name not in mapping:
                mapping[name] = f"w{len(mapping)}"
        for name in node.output:
            if name and name not in keep and name not in mapping:
                mapping[name] = f"t{len(mapping)}"
        node.name = f"{node.op_type}_{i}"
    for node in graph.node:
        node.input[:] = [mapping.get(n, n) for n in node.input]
        node.output[:] = [mapping.get(n, n) for n in node.output]
    for t in graph.initializer:
        t.name = mapping.get(t.name, t.name)
    for v in graph.value_info:
        v.name = mapping.get(v.name, v.name)
    for v in [*graph.input, *graph.output]:  # the dynamic batch axis is named by a counter too
        for dim in v.type.tensor_type.shape.dim:
            if dim.dim_param:
                dim.dim_param = "batch"
    # Initializers in first-use order, so their byte layout does not depend on the export either.
    order = {new: i for i, new in enumerate(mapping.values())}
    inits = sorted(graph.initializer, key=lambda t: order.get(t.name, len(order)))
    del graph.initializer[:]
    graph.initializer.extend(inits)
    return model


def _export_onnx(model: Any, path: Path) -> None:
    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp) / path.name
        model.export(str(tmp_path), format="onnx", verbose=False)
        proto = canonical_names(onnx.load(str(tmp_path)))
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp_path))
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(tmp_path), path)


def onnx_logits(path: Path, x: np.ndarray) -> np.ndarray:
    sess = cpu_session(path)
    return np.asarray(sess.run(None, {sess.get_inputs()[0].name: x.astype(np.float32)})[0], np.float64)


def parity_inputs(extra: np.ndarray | None = None, n_random: int = 8) -> np.ndarray:
    """NCHW float inputs for the parity check: fixed random crops plus any real crops given."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(n_random, 3, INPUT_SIZE, INPUT_SIZE)).astype(np.float32)
    if extra is not None and len(extra):
        x = np.concatenate([x, extra.astype(np.float32)])
    return x


def check_parity(sd: dict[str, np.ndarray], plan: Plan, onnx_path: Path, x: np.ndarray) -> float:
    """Max |ONNX - reference| over the logits of ``x``; raises when above the tolerance."""
    ref = reference_forward(sd, x, plan)
    got = onnx_logits(onnx_path, x)
    diff = float(np.max(np.abs(ref - got)))
    if not np.isfinite(diff) or diff > PARITY_TOLERANCE:
        raise RuntimeError(f"{onnx_path.name}: ONNX differs from the reference by {diff:.2e} (> {PARITY_TOLERANCE:g})")
    return diff


def card_dict(
    src: Source, src_path: Path, onnx_path: Path, plan: Plan, n_params: int, parity: float, metrics: dict[str, Any]
) -> dict[str, Any]:
    """The model card for one converted model (schema: webapp/liveness/card.py)."""
    sess = cpu_session(onnx_path)
    digest = sha256_file(onnx_path)
    card: dict[str, Any] = {
        "schema": 1,
        "name": src.name,
        "version": f"silentface-{UPSTREAM_COMMIT}-{digest[:8]}",
        "kind": "classifier",
        "family": src.family,
        "description": f"{src.family} from Silent-Face-Anti-Spoofing ({src.file}), converted to ONNX without retraining",
        "file": onnx_path.name,
        "sha256": digest,
        "size_bytes": onnx_path.stat().st_size,
        "input": {
            "size": INPUT_SIZE,
            "layout": "NCHW",
            "color_order": "BGR",
            "scale": 1.0,  # the repo's to_tensor does not divide by 255
            "mean": [0.0, 0.0, 0.0],
            "std": [1.0, 1.0, 1.0],
            "name": sess.get_inputs()[0].name,
        },
        "crop": {
            "scale": src.crop_scale,
            "method": "silentface",
            "box": "retinaface",
            "box_convention": "x1 y1 x2 y2 in original pixels, from webapp/assets/detector (most confident face)",
            "policy": CROP_POLICY,
        },
        "output": {
            "name": sess.get_outputs()[0].name,
            "meaning": "3 logits; softmax, class 1 = live, classes 0 and 2 = spoof",
            "activation": "softmax",
            "live_index": LIVE_INDEX,
            "classes": plan.classes,
        },
        "threshold": NATIVE_THRESHOLD,
        "threshold_rule": THRESHOLD_RULE,
        "ensemble": {"members": ["minifasnet_v2", "minifasnet_v1se"], "fusion": "mean of softmax live probability", "threshold": 0.5},
        "metrics": metrics,
        "training": {
            "data": "Minivision's own (not public); not retrained by LiveGate",
            "converted": {
                "tool": "python -m ml.pretrained convert",
                "date": f"{dt.date.today():%Y-%m-%d}",
                "parameters": n_params,
                "onnx_parity_max_abs_diff": parity,
                "parity_reference": "ml.pretrained.minifasnet.reference_forward (numpy float64 from the state dict)",
            },
        },
        "source": {
            "repository": f"https://github.com/{UPSTREAM_REPO}",
            "commit": UPSTREAM_COMMIT,
            "file": src.file,
            "sha256": sha256_file(src_path),
        },
        "licence": {"spdx": "Apache-2.0", "file": "LICENSE.silent-face", "notice": "NOTICE.silent-face"},
        "limits": LIMITS,
    }
    parse_model_card(card)  # refuse to write a card the service could not read
    return card


def convert_one(
    src: Source, src_dir: Path, out_dir: Path, metrics: dict[str, Any], extra_parity: np.ndarray | None = None
) -> dict[str, Any]:
    """Convert one ``.pth``; returns its card (also written to ``out_dir``)."""
    src_path = src_dir / src.file
    sd = load_legacy_state_dict(src_path)
    plan = infer_plan(sd, INPUT_SIZE)
    model = build_keras(sd, plan, name=src.name, dropout=src.dropout)
    onnx_path = out_dir / f"{src.name}.onnx"
    x = parity_inputs(extra_parity)
    # Predict first: Keras exports only a model that has been called.
    keras_diff = float(np.max(np.abs(np.asarray(model.predict(x, verbose=0), np.float64) - reference_forward(sd, x, plan))))
    _export_onnx(model, onnx_path)
    if keras_diff > PARITY_TOLERANCE:
        raise RuntimeError(f"{src.name}: Keras differs from the reference by {keras_diff:.2e}")
    parity = check_parity(sd, plan, onnx_path, x)
    n_params = sum(v.size for k, v in sd.items() if not k.endswith(STAT_SUFFIXES))
    card = card_dict(src, src_path, onnx_path, plan, n_params, parity, metrics.get(src.name, {}) if metrics else {})
    card["training"]["converted"]["keras_parity_max_abs_diff"] = keras_diff
    (out_dir / f"{src.name}.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def write_detector(src_dir: Path, out_dir: Path, metrics: dict[str, Any] | None = None) -> Path:
    """Copy the RetinaFace files, LICENSE and a NOTICE into ``out_dir`` and write their card."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (CAFFEMODEL, PROTOTXT, "LICENSE"):
        shutil.copyfile(src_dir / name, out_dir / name)
    (out_dir / "NOTICE").write_text(DETECTOR_NOTICE)
    card = {
        "schema": 1,
        "name": "retinaface",
        "kind": "face_detector",
        "family": "RetinaFace (mobilenet, Caffe), Silent-Face-Anti-Spoofing resources/detection_model",
        "files": {
            "model": {"file": CAFFEMODEL, "sha256": sha256_file(out_dir / CAFFEMODEL), "size_bytes": (out_dir / CAFFEMODEL).stat().st_size},
            "prototxt": {"file": PROTOTXT, "sha256": sha256_file(out_dir / PROTOTXT), "size_bytes": (out_dir / PROTOTXT).stat().st_size},
        },
        "runtime": "replaced by ml.detector.export (onnxruntime on retinaface.onnx)",
        "input": {
            "color_order": "BGR",
            "resize": f"frames over {INPUT_AREA_SIDE}x{INPUT_AREA_SIDE} px are resized to (int({INPUT_AREA_SIDE}*sqrt(w/h)), "
            f"int({INPUT_AREA_SIDE}/sqrt(w/h))), bilinear; smaller frames as they are",
            "mean": list(MEAN_BGR),
            "scale": 1.0,
            "layout": "NCHW blob from cv2.dnn.blobFromImage",
            "input_name": "data",
            "area_side": INPUT_AREA_SIDE,
        },
        "output": {
            "name": "detection_out",
            "rows": "(image_id, label, confidence, x1, y1, x2, y2); coordinates normalised to the frame, multiply by width/height",
            "nms": "inside the network (threshold 0.3, keep_top_k 200, confidence floor 0.1)",
        },
        "confidence_threshold": DEFAULT_MIN_CONFIDENCE,
        "confidence_threshold_reason": (
            "0.6 is the repo's own Detection.detector_confidence (defined there but not applied: the repo always takes the argmax "
            "row). A floor is needed so a frame without a face is rejected as 'no face' rather than scored; 0.6 keeps the repo's "
            "value and reproduces the anchor's no-face counts (see ml/README.md)."
        ),
        "matched_confidence_threshold": 0.1,
        "matched_confidence_reason": (
            "When dlib has already found the face, RetinaFace only frames it: any detection down to the network's own floor (0.1) "
            "that matches dlib's box is used (webapp.face.retinaface.context_box). A clear frontal face (sivakumar/Bala.mp4) "
            "scores 0.2-0.35 for seconds; at 0.6 the liveness members abstained on all of its frames."
        ),
        "use": "the most confident box frames the MiniFASNet crops (webapp/assets/models/*.json, crop.box = retinaface)",
        "source": {"repository": f"https://github.com/{UPSTREAM_REPO}", "commit": UPSTREAM_COMMIT, "path": "resources/detection_model/"},
        "licence": {"spdx": "Apache-2.0", "file": "LICENSE", "notice": "NOTICE"},
        "metrics": metrics or {},
    }
    path = out_dir / "retinaface.json"
    path.write_text(json.dumps(card, indent=2) + "\n")
    from ml.detector.export import export

    export(out_dir)  # retinaface.onnx, what serving runs (rerun `python -m ml.detector parity --card` after)
    return path


def convert_all(
    src_dir: Path, out_dir: Path, metrics: dict[str, Any] | None = None, detector_dir: Path | None = None
) -> list[dict[str, Any]]:
    """Convert both models into ``out_dir`` (+ LICENSE, NOTICE) and, if asked, copy the detector."""
    from ml.tfsetup import setup

    setup(0)
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src_dir / "LICENSE", out_dir / "LICENSE.silent-face")
    (out_dir / "NOTICE.silent-face").write_text(NOTICE)
    cards = [convert_one(src, src_dir, out_dir, metrics or {}) for src in SOURCES]
    if detector_dir is not None:
        write_detector(src_dir, detector_dir, (metrics or {}).get("retinaface"))
    return cards


PARITY_PHOTOS = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "obama_partial_face.jpg")
PARITY_COMMAND = (
    "python -m ml.pretrained parity-fixture --src ../shared/pretrained/silent-face "
    "--photos .cache/test-data/face_recognition-1.3.0-test_images --out tests/fixtures/minifasnet_parity.json"
)


def write_parity_fixture(src_dir: Path, photos_dir: Path, out: Path, names: tuple[str, ...] = PARITY_PHOTOS) -> dict[str, Any]:
    """Reference outputs on real crops for tests/ml/test_pretrained_parity.py.

    Boxes come from RetinaFace now and are stored, so the test needs no detector; the crops are
    cut with the Silent-Face policy from face_recognition 1.3.0's test photos (downloaded by the
    tests, never committed); the logits are :func:`reference_forward`'s, float64, from the
    ``.pth`` -- so the test compares the committed ONNX with the original weights, not with Keras.
    """
    import cv2

    from ml.pretrained.detector import detect_faces
    from ml.pretrained.minifasnet import softmax
    from ml.pretrained.silentface import silent_face_crop, to_input

    cv2.setNumThreads(1)
    models = {s.name: (s, load_legacy_state_dict(src_dir / s.file)) for s in SOURCES}
    plans = {name: infer_plan(sd, INPUT_SIZE) for name, (_, sd) in models.items()}
    photos: list[dict[str, Any]] = []
    for name in names:
        bgr = cv2.imread(str(photos_dir / name))
        if bgr is None:
            raise FileNotFoundError(photos_dir / name)
        face = detect_faces(bgr, "BGR")[0]
        entry: dict[str, Any] = {
            "photo": name,
            "image_shape": list(bgr.shape[:2]),
            "retinaface_box": [round(v, 3) for v in face.as_list()],
            "box_xywh": list(face.xywh),
            "models": {},
        }
        for model_name, (src, sd) in models.items():
            crop = silent_face_crop(bgr, face.xywh, src.crop_scale, INPUT_SIZE)
            logits = reference_forward(sd, to_input(crop), plans[model_name])[0]
            entry["models"][model_name] = {
                "crop_scale": src.crop_scale,
                "crop_sha256": hashlib.sha256(np.ascontiguousarray(crop).tobytes()).hexdigest(),
                "logits": [float(v) for v in logits],
                "softmax": [float(v) for v in softmax(logits[None])[0]],
            }
        photos.append(entry)
    doc = {
        "what": "MiniFASNet reference outputs (numpy float64 forward pass of the original .pth) on Silent-Face crops of "
        "face_recognition 1.3.0 test photos; the test runs the committed ONNX files on the same crops",
        "command": PARITY_COMMAND,
        "reference": "ml.pretrained.minifasnet.reference_forward",
        "tolerance": PARITY_TOLERANCE,
        "decode": "cv2.imread (BGR); crop: ml.pretrained.silentface.silent_face_crop(bgr, box_xywh, crop_scale, 80)",
        "sources": {name: {"file": src.file, "sha256": sha256_file(src_dir / src.file)} for name, (src, _) in models.items()},
        "photos": photos,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    return doc
