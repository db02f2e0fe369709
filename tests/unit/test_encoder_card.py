"""The ONNX encoder's card and file checks (webapp/face/encoder.py), on a tiny stand-in model
in a temporary folder: a file that is not the card's, a card without accepted parity, or a
malformed card is refused before any session opens."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from webapp.face.encoder import CARD_FILE, ENCODER_DIR, EncoderCard, OnnxEncoder
from webapp.runtime.files import CardError, sha256_file


def stand_in_model(path: Path) -> None:
    """(1, 3, 150, 150) -> (1, 128): the first 128 values of the flattened chip, minus 1."""
    nodes = [
        helper.make_node("Flatten", ["chip"], ["flat"], axis=1),
        helper.make_node("Slice", ["flat", "starts", "ends", "axes"], ["first"]),
        helper.make_node("Sub", ["first", "one"], ["descriptor"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([0], dtype=np.int64), "starts"),
        numpy_helper.from_array(np.array([128], dtype=np.int64), "ends"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"),
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
    ]
    graph = helper.make_graph(
        nodes,
        "stand_in",
        [helper.make_tensor_value_info("chip", TensorProto.FLOAT, ["batch", 3, 150, 150])],
        [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, ["batch", 128])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())


def write_card(folder: Path, **changes: Any) -> Path:
    """The shipped card pointed at a stand-in model in ``folder``, with ``changes`` applied."""
    card = json.loads((ENCODER_DIR / CARD_FILE).read_text(encoding="utf-8"))
    model = folder / card["files"]["model"]["file"]
    stand_in_model(model)
    card["files"]["model"]["sha256"] = sha256_file(model)
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        node = card
        for key in path:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
    (folder / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    return model


def test_a_matching_file_loads_and_encodes_a_chip(tmp_path: Path) -> None:
    write_card(tmp_path)
    enc = OnnxEncoder.load(tmp_path)
    chip = np.arange(150 * 150 * 3, dtype=np.int64).reshape(150, 150, 3) % 256
    out = enc.encode(chip.astype(np.uint8))
    assert out.dtype == np.float64 and out.shape == (128,)
    # Channel-first: the first 128 inputs are the red plane's first row.
    np.testing.assert_array_equal(out, chip[0, :128, 0] - 1.0)


def test_a_modified_file_is_refused(tmp_path: Path) -> None:
    model = write_card(tmp_path)
    data = bytearray(model.read_bytes())
    data[-1] ^= 0x01
    model.write_bytes(bytes(data))
    with pytest.raises(CardError, match="does not match its card"):
        OnnxEncoder.load(tmp_path)


@pytest.mark.parametrize("accepted", [False, None])
def test_a_card_without_accepted_parity_is_refused(tmp_path: Path, accepted: bool | None) -> None:
    write_card(tmp_path, parity__accepted=accepted)
    with pytest.raises(CardError, match="parity with dlib not measured or not accepted"):
        OnnxEncoder.load(tmp_path)
    # The parity tool itself reads such a card: it is measuring exactly that.
    assert OnnxEncoder.load(tmp_path, require_parity=False).card.parity_bound == 1e-3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"input__name": None}, "missing or malformed"),
        ({"input__chip__size": "big"}, "missing or malformed"),
        ({"output__size": 512}, "128-d output"),
        ({"input__shape": [1, 150, 150, 3]}, "chip and a 128-d output"),
    ],
)
def test_a_malformed_card_is_refused(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    write_card(tmp_path, **change)
    with pytest.raises(CardError, match=message):
        EncoderCard.read(tmp_path)


def test_a_missing_card_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CardError, match=CARD_FILE):
        EncoderCard.read(tmp_path)


def test_a_chip_of_the_wrong_size_or_type_is_refused(tmp_path: Path) -> None:
    write_card(tmp_path)
    enc = OnnxEncoder.load(tmp_path)
    with pytest.raises(ValueError, match="uint8 chip"):
        enc.encode(np.zeros((160, 160, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8 chip"):
        enc.encode(np.zeros((150, 150, 3), dtype=np.float32))


def test_the_shipped_card_states_origin_licence_and_accepted_parity() -> None:
    card = json.loads((ENCODER_DIR / CARD_FILE).read_text(encoding="utf-8"))
    assert card["licence"]["spdx"] == "CC0-1.0" and (ENCODER_DIR / card["licence"]["file"]).is_file()
    assert card["source"]["file"] == "dlib_face_recognition_resnet_model_v1.dat" and len(card["source"]["sha256"]) == 64
    parity = card["parity"]
    assert parity["accepted"] is True
    assert parity["measured"]["descriptor_max_abs_diff"] <= parity["bound"]
    assert parity["measured"]["distance_max_abs_diff"] <= parity["bound"]
    assert (ENCODER_DIR / card["files"]["model"]["file"]).stat().st_size == card["files"]["model"]["size_bytes"]


def test_an_export_folder_copy_keeps_working(tmp_path: Path) -> None:
    """The card names its file relative to its own folder, so the folder can move."""
    (tmp_path / "a").mkdir()
    write_card(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert OnnxEncoder.load(tmp_path / "b").card.model_path == tmp_path / "b" / "dlib_resnet_v1.onnx"


def test_the_engine_module_does_not_import_onnxruntime() -> None:
    """gunicorn's master imports webapp.face.engine to preload dlib before forking; onnxruntime
    imported there makes workers hang on SIGTERM (shared/notes/stack.md)."""
    import subprocess
    import sys

    code = "import sys, webapp.face.engine, webapp.face.encoder; print('onnxruntime' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.strip() == "False"
