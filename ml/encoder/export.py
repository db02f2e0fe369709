"""Export dlib's face recognition ResNet to ONNX, with its card (webapp/assets/encoder).

    python -m ml.encoder export [--dat PATH] [--out DIR]

The source is the ``dlib_face_recognition_resnet_model_v1.dat`` installed with
face_recognition_models; nothing is downloaded. The ONNX bytes depend only on that file (and
on the onnx package's serializer), so exporting twice gives the same file and the same sha256.
The card's ``parity`` section is written by ``python -m ml.encoder parity --card``: an export
that produces the same bytes keeps it, an export that changes the file marks it unmeasured
(and the service refuses a card whose parity is not accepted).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import onnx

from ml.encoder.dlib_net import DlibNetwork, parse_network
from ml.encoder.graph import INPUT_NAME, OPSET, OUTPUT_NAME, build_model
from webapp.face.encoder import CARD_FILE, ENCODER_DIR
from webapp.runtime.files import sha256_file

MODEL_FILE = "dlib_resnet_v1.onnx"
PARITY_BOUND = 1e-3  # issue 10: per-image max |descriptor difference| and pairwise |distance difference|


def default_dat() -> Path:
    import face_recognition_models as frm  # imported here: needs pkg_resources (setuptools < 82)

    return Path(frm.face_recognition_model_location())


def _unmeasured_parity() -> dict[str, Any]:
    return {"bound": PARITY_BOUND, "accepted": False, "measured": None}


def build_card(net: DlibNetwork, dat: Path, model: Path, previous: dict[str, Any] | None) -> dict[str, Any]:
    sha = sha256_file(model)
    same_file = bool(previous) and previous.get("files", {}).get("model", {}).get("sha256") == sha  # type: ignore[union-attr]
    keep = previous if same_file and previous is not None else {}
    size = net.input.size[0]
    return {
        "schema": 1,
        "name": "dlib_resnet_v1",
        "kind": "face_encoder",
        "family": "dlib face recognition ResNet v1: anet_type of dlib's examples/dnn_face_recognition_ex.cpp "
        "(29 convolutions, 128-d metric-learning descriptor), the network face_recognition.face_encodings runs",
        "files": {"model": {"file": model.name, "sha256": sha, "size_bytes": model.stat().st_size}},
        "runtime": "onnxruntime CPU session (webapp.runtime.files.cpu_session, 1 intra-op thread); "
        "webapp.face.encoder.OnnxEncoder, selected by FACE_ENCODER=onnx",
        "input": {
            "name": INPUT_NAME,
            "shape": [1, 3, size, size],
            "dtype": "float32",
            "layout": "NCHW (the batch axis is symbolic)",
            "color_order": "RGB",
            "values": "raw pixel values 0-255 as float32, not normalised: the graph normalises",
            "chip": {
                "size": size,
                "padding": 0.25,
                "how": "dlib.get_face_chip(rgb, shape5, 150, 0.25), shape5 = the 5-point predictor "
                "(shape_predictor_5_face_landmarks.dat) on the detected box; exactly the chip "
                "dlib's compute_face_descriptor(rgb, shape5, 1) cuts itself",
            },
            "normalisation": "inside the graph, as dlib's input_rgb_image_sized: (x - mean_rgb[c]) / 256",
            "mean_rgb": list(net.input.mean_rgb),
        },
        "output": {
            "name": OUTPUT_NAME,
            "size": 128,
            "meaning": "dlib's face descriptor, not normalised; compared by euclidean distance against "
            "IDENTITY_TOLERANCE, as face_recognition.face_distance does",
        },
        "source": {
            "file": dat.name,
            "sha256": sha256_file(dat),
            "size_bytes": dat.stat().st_size,
            "package": "face_recognition_models 0.3.0 (PyPI), models/" + dat.name,
            "origin": "trained and released by Davis E. King with dlib's dnn_face_recognition_ex.cpp example "
            "(February 2017; 99.38% on LFW per that example); "
            "https://github.com/davisking/dlib-models (dlib_face_recognition_resnet_model_v1.dat.bz2)",
            "converted_by": "python -m ml.encoder export: ml/encoder/dlib_net.py reads dlib's serialization "
            "of anet_type, ml/encoder/graph.py writes the same layers as ONNX operators",
        },
        "export": {"onnx": onnx.__version__, "opset": OPSET, "command": "python -m ml.encoder export"},
        "licence": {
            "spdx": "CC0-1.0",
            "file": "LICENSE",
            "text": "The weights are Davis King's, released into the public domain (dlib-models README: "
            "'anyone can do whatever they want with these model files as I've released them into the public "
            "domain'). face_recognition_models 0.3.0 ships them with a CC0 1.0 LICENSE file (copied here as "
            "LICENSE; its PyPI classifier says MIT, its description 'public domain or CC0 1.0'). The ONNX "
            "file holds the same weights, rewritten as ONNX operators.",
            "training_data": "about 3 million faces of 7485 identities: FaceScrub, VGG Face and images scraped "
            "from the internet (dlib-models README); no identity overlap with LFW",
        },
        "parity": keep.get("parity", _unmeasured_parity()),
        "metrics": keep.get("metrics", {}),
    }


def export(dat: Path | None = None, out_dir: Path = ENCODER_DIR) -> Path:
    """Write ``<out_dir>/dlib_resnet_v1.onnx`` and its card; the card's path."""
    dat = dat or default_dat()
    net = parse_network(dat.read_bytes())
    model_bytes = build_model(net).SerializeToString()
    out_dir.mkdir(parents=True, exist_ok=True)
    model = out_dir / MODEL_FILE
    model.write_bytes(model_bytes)
    card_path = out_dir / CARD_FILE
    previous = json.loads(card_path.read_text(encoding="utf-8")) if card_path.exists() else None
    write_card(card_path, build_card(net, dat, model, previous))
    return card_path


def write_card(path: Path, card: dict[str, Any]) -> None:
    path.write_text(json.dumps(card, indent=2, allow_nan=False) + "\n", encoding="utf-8")
