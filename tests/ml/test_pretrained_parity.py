"""The converted Silent-Face models (webapp/assets/models) compute what the original weights compute.

``tests/fixtures/minifasnet_parity.json`` holds, per face_recognition test photo, the RetinaFace
box and the logits of a float64 numpy forward pass of the original ``.pth`` on the Silent-Face
crops (``python -m ml.pretrained parity-fixture``). The committed ONNX files must reproduce them
to 1e-4 on the same crops; no detector and no ../shared are needed. The tests that read the
``.pth`` files themselves (converter, Keras rebuild) skip when ../shared/pretrained is absent.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from ml.paths import REPO_ROOT
from ml.pretrained.legacy_torch import LEGACY_MAGIC, LEGACY_PROTOCOL, LegacyFormatError, UnsafePickle, load_legacy_state_dict
from ml.pretrained.silentface import silent_face_box, silent_face_crop, to_input

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "minifasnet_parity.json"
MODEL_DIR = REPO_ROOT / "webapp" / "assets" / "models"
SHARED_WEIGHTS = REPO_ROOT.parent / "shared" / "pretrained" / "silent-face"
needs_weights = pytest.mark.skipif(not SHARED_WEIGHTS.is_dir(), reason=f"Silent-Face weights not present at {SHARED_WEIGHTS}")

# The repo's channel plans (src/model_lib/MiniFASNet.py keep_dict): what the state dicts must give.
KEEP_V1 = [32, 32, 103, 103, 64, 13, 13, 64, 26, 26, 64, 13, 13, 64, 52, 52, 64, 231, 231, 128, 154, 154, 128, 52, 52, 128, 26, 26, 128, 52,
           52, 128, 26, 26, 128, 26, 26, 128, 308, 308, 128, 26, 26, 128, 26, 26, 128, 512, 512]  # fmt: skip
KEEP_V2 = [32, 32, 103, 103, 64, 13, 13, 64, 13, 13, 64, 13, 13, 64, 13, 13, 64, 231, 231, 128, 231, 231, 128, 52, 52, 128, 26, 26, 128,
           77, 77, 128, 26, 26, 128, 26, 26, 128, 308, 308, 128, 26, 26, 128, 26, 26, 128, 512, 512]  # fmt: skip


def _fixture() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def _crop(photo: dict[str, Any], scale: float) -> np.ndarray:
    from tests.support.faces import face_photo

    bgr = cv2.imread(str(face_photo(photo["photo"])))
    assert bgr is not None and list(bgr.shape[:2]) == photo["image_shape"]
    return silent_face_crop(bgr, tuple(photo["box_xywh"]), scale, 80)


def _session(path: Path) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


# -- the committed ONNX files against the fixture (needs the downloaded photos, no dlib, no ../shared) --


@pytest.mark.realmodels
@pytest.mark.parametrize("model", ["minifasnet_v2", "minifasnet_v1se"])
def test_onnx_matches_the_reference_on_real_crops(model: str) -> None:
    fixture = _fixture()
    card = json.loads((MODEL_DIR / f"{model}.json").read_text())
    onnx_path = MODEL_DIR / card["file"]
    assert hashlib.sha256(onnx_path.read_bytes()).hexdigest() == card["sha256"]
    assert card["source"]["sha256"] == fixture["sources"][model]["sha256"]
    sess = _session(onnx_path)
    worst = 0.0
    for photo in fixture["photos"]:
        ref = photo["models"][model]
        assert card["crop"]["scale"] == ref["crop_scale"]
        crop = _crop(photo, ref["crop_scale"])
        # A different crop (decoder or resize) would make the comparison meaningless: say so first.
        assert hashlib.sha256(crop.tobytes()).hexdigest() == ref["crop_sha256"], f"{photo['photo']}: crop differs from the fixture's"
        logits = np.asarray(sess.run(None, {card["input"]["name"]: to_input(crop)})[0][0], np.float64)
        worst = max(worst, float(np.max(np.abs(logits - np.asarray(ref["logits"])))))
        e = np.exp(logits - logits.max())
        np.testing.assert_allclose(e / e.sum(), ref["softmax"], atol=1e-4)
    assert worst <= fixture["tolerance"] <= 1e-4, f"{model}: max |ONNX - reference| = {worst:.2e}"


def test_cards_describe_the_silent_face_input() -> None:
    for model, scale in (("minifasnet_v2", 2.7), ("minifasnet_v1se", 4.0)):
        card = json.loads((MODEL_DIR / f"{model}.json").read_text())
        assert card["input"] | {"name": None} == {
            "size": 80, "layout": "NCHW", "color_order": "BGR", "scale": 1.0, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0], "name": None,
        }  # fmt: skip
        assert card["crop"]["scale"] == scale and card["crop"]["box"] == "retinaface"
        assert card["output"]["activation"] == "softmax" and card["output"]["live_index"] == 1 and card["output"]["classes"] == 3
        assert card["threshold"] == 0.5 and card["licence"]["spdx"] == "Apache-2.0"
        assert (MODEL_DIR / "LICENSE.silent-face").is_file() and (MODEL_DIR / "NOTICE.silent-face").is_file()


def test_detector_card_matches_its_files() -> None:
    det = REPO_ROOT / "webapp" / "assets" / "detector"
    card = json.loads((det / "retinaface.json").read_text())
    for entry in card["files"].values():
        assert hashlib.sha256((det / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
    assert (det / "LICENSE").is_file() and card["licence"]["spdx"] == "Apache-2.0"


# -- the crop policy --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("box", "scale", "expected"),
    [
        ((100, 100, 50, 50), 2.0, (75, 75, 175, 175)),  # fits: scaled about the centre
        ((0, 0, 50, 50), 2.0, (0, 0, 100, 100)),  # sticks out top-left: shifted inside
        ((180, 180, 20, 20), 4.0, (119, 119, 199, 199)),  # 80 px around (190, 190) sticks out: shifted back
        ((50, 50, 100, 100), 4.0, (0, 0, 199, 199)),  # too big: scale shrinks to 199/100, the whole image
    ],
)
def test_silent_face_box(box: tuple[int, int, int, int], scale: float, expected: tuple[int, int, int, int]) -> None:
    got = silent_face_box(200, 200, box, scale)
    assert all(abs(a - b) <= 1 for a, b in zip(got, expected, strict=True)), got
    x1, y1, x2, y2 = got
    assert 0 <= x1 < x2 <= 199 and 0 <= y1 < y2 <= 199


# -- the restricted unpickler (no ../shared needed) ---------------------------------------------------


def _legacy_bytes(obj_pickle: bytes, storages: list[tuple[str, bytes, int]]) -> bytes:
    out = io.BytesIO()
    for header in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"protocol_version": LEGACY_PROTOCOL, "little_endian": True}):
        pickle.dump(header, out, protocol=2)
    out.write(obj_pickle)
    pickle.dump([k for k, _, _ in storages], out, protocol=2)
    for _, raw, n in storages:
        out.write(struct.pack("<q", n) + raw)
    return out.getvalue()


@dataclass(frozen=True)
class _Storage:
    key: str
    n: int


def _op(value: Any) -> bytes:
    """The opcodes that push ``value`` (a protocol-2 pickle without its header and STOP)."""
    return pickle.dumps(value, protocol=2)[2:-1]


def _pickle_state_dict(tensors: dict[str, tuple[_Storage, tuple[int, ...], tuple[int, ...]]], evil: bool = False) -> bytes:
    """A state dict pickled with the opcodes torch 1.x's legacy ``torch.save`` writes (see legacy_torch.py)."""
    p = io.BytesIO()
    p.write(b"\x80\x02" + b"ccollections\nOrderedDict\n)R" + b"(")
    for name, (storage, shape, stride) in tensors.items():
        p.write(_op(name) + b"ctorch._utils\n_rebuild_tensor_v2\n(")
        # persistent id ("storage", torch.FloatStorage, key, location, numel, None) -> BINPERSID
        p.write(b"(" + _op("storage") + b"ctorch\nFloatStorage\n" + _op(storage.key) + _op("cpu") + _op(storage.n) + b"NtQ")
        p.write(_op(0) + _op(shape) + _op(stride) + b"\x89" + b"ccollections\nOrderedDict\n)R" + b"tR")
    p.write(b"u")
    if evil:  # replace the dict by os.system("echo pwned")
        p.write(b"0" + b"cos\nsystem\n" + _op("echo pwned") + b"\x85R")
    p.write(b".")
    return p.getvalue()


def test_reader_rebuilds_tensors_and_strips_the_prefix() -> None:
    data = np.arange(6, dtype="<f4")
    blob = _legacy_bytes(
        _pickle_state_dict({"module.w": (_Storage("0", 6), (2, 3), (3, 1)), "module.t": (_Storage("0", 6), (3, 2), (1, 3))}),
        [("0", data.tobytes(), 6)],
    )
    sd = load_legacy_state_dict(blob)
    assert list(sd) == ["w", "t"]
    np.testing.assert_array_equal(sd["w"], data.reshape(2, 3))
    np.testing.assert_array_equal(sd["t"], data.reshape(2, 3).T)  # a transposed (strided) view is honoured


def test_reader_refuses_foreign_globals() -> None:
    blob = _legacy_bytes(_pickle_state_dict({"w": (_Storage("0", 1), (1,), (1,))}, evil=True), [("0", b"\x00" * 4, 1)])
    with pytest.raises(UnsafePickle, match=r"os\.system"):
        load_legacy_state_dict(blob)


def test_reader_refuses_a_tensor_past_its_storage() -> None:
    blob = _legacy_bytes(_pickle_state_dict({"w": (_Storage("0", 4), (8,), (1,))}), [("0", b"\x00" * 16, 4)])
    with pytest.raises(LegacyFormatError, match="overruns"):
        load_legacy_state_dict(blob)


def test_reader_refuses_zip_checkpoints() -> None:
    with pytest.raises(LegacyFormatError, match="zip"):
        load_legacy_state_dict(b"PK\x03\x04rest")


# -- the converter on the real weights (skipped without ../shared/pretrained) ------------------------


@needs_weights
@pytest.mark.parametrize(
    ("file", "keep", "se"), [("2.7_80x80_MiniFASNetV2.pth", KEEP_V2, False), ("4_0_0_80x80_MiniFASNetV1SE.pth", KEEP_V1, True)]
)
def test_state_dict_plan_matches_the_repo(file: str, keep: list[int], se: bool) -> None:
    from ml.pretrained.minifasnet import Bottleneck, infer_plan

    sd = load_legacy_state_dict(SHARED_WEIGHTS / file)
    assert not any(k.startswith("module.") for k in sd)
    plan = infer_plan(sd, 80)
    widths: list[int] = []
    for layer in plan.layers:
        widths += [layer.expand.out_ch, layer.depthwise.out_ch, layer.project.out_ch] if isinstance(layer, Bottleneck) else [layer.out_ch]
    assert widths == keep
    assert plan.has_se is se and plan.embedding == 128 and plan.classes == 3


@needs_weights
@pytest.mark.slow
def test_reference_and_keras_reproduce_the_fixture() -> None:
    from ml.pretrained.minifasnet import build_keras, infer_plan, reference_forward

    fixture = _fixture()
    for model, src in fixture["sources"].items():
        sd = load_legacy_state_dict(SHARED_WEIGHTS / src["file"])
        plan = infer_plan(sd, 80)
        keras_model = build_keras(sd, plan)
        for photo in fixture["photos"][:2]:
            x = to_input(_crop(photo, photo["models"][model]["crop_scale"]))
            ref = reference_forward(sd, x, plan)[0]
            np.testing.assert_allclose(ref, photo["models"][model]["logits"], atol=1e-9)
            np.testing.assert_allclose(np.asarray(keras_model(x))[0], ref, atol=1e-4)
