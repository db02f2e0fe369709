"""The ONNX encoder (FACE_ENCODER=onnx, the default) against dlib on real faces, and the
shipped file against its card and its source.

Parity bound (issue 10): every descriptor within 1e-3 of dlib's per component, every pair's
distance within 1e-3. ``python -m ml.encoder parity`` measures the same on the identity sets
(the card's figures); here it runs on face_recognition's own test photos, as the suite does.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.support.faces import PEOPLE
from tests.support.frames import photo_rgb
from webapp.face import DetectorSettings, FaceEngine, match
from webapp.face.encoder import CARD_FILE, ENCODER_DIR, OnnxEncoder
from webapp.runtime.files import CardError, sha256_file

pytestmark = pytest.mark.slow  # the dlib models and the shipped encoder

BOUND = 1e-3
PHOTOS = [name for names in PEOPLE.values() for name in names]


@pytest.fixture(scope="module")
def encodings() -> dict[str, dict[str, np.ndarray]]:
    """Each photo's largest face, encoded by both encoders through FaceEngine.observe."""
    engines = {name: FaceEngine(DetectorSettings(encoder=name)) for name in ("dlib", "onnx")}
    out: dict[str, dict[str, np.ndarray]] = {"dlib": {}, "onnx": {}}
    for photo in PHOTOS:
        rgb = photo_rgb(photo)
        box = engines["dlib"].detect(rgb)[0]
        for name, engine in engines.items():
            enc = engine.observe(rgb, box).encoding
            assert enc is not None and enc.shape == (128,) and enc.dtype == np.float64
            out[name][photo] = enc
    return out


def test_onnx_descriptors_are_within_the_bound_of_dlib(encodings: dict[str, dict[str, np.ndarray]]) -> None:
    diffs = {photo: float(np.abs(encodings["onnx"][photo] - encodings["dlib"][photo]).max()) for photo in PHOTOS}
    assert max(diffs.values()) <= BOUND, diffs
    assert max(diffs.values()) > 0, "bit-identical everywhere would mean the ONNX path did not run"


def test_pair_distances_agree_within_the_bound(encodings: dict[str, dict[str, np.ndarray]]) -> None:
    for a, b in itertools.combinations(PHOTOS, 2):
        d_dlib = float(np.linalg.norm(encodings["dlib"][a] - encodings["dlib"][b]))
        d_onnx = float(np.linalg.norm(encodings["onnx"][a] - encodings["onnx"][b]))
        assert abs(d_dlib - d_onnx) <= BOUND, (a, b, d_dlib, d_onnx)


def test_templates_enrolled_with_dlib_match_logins_encoded_with_onnx(encodings: dict[str, dict[str, np.ndarray]]) -> None:
    """Stored encodings stay valid: no re-enrollment when the encoder changes."""
    checked = 0
    for person, photos in PEOPLE.items():
        enrolled_photos = photos[:2]
        templates = np.stack([encodings["dlib"][p] for p in enrolled_photos])
        for other, login_photos in PEOPLE.items():
            for login in login_photos:
                if login in enrolled_photos:
                    continue
                old = match(encodings["dlib"][login], templates, tolerance=0.5)
                new = match(encodings["onnx"][login], templates, tolerance=0.5)
                assert new.match == old.match == (other == person), (person, login, old, new)
                assert abs(new.distance - old.distance) <= BOUND
                checked += 1
    assert checked >= 3


def test_other_jitter_counts_stay_with_dlib(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_onnx(self: OnnxEncoder, chip: np.ndarray) -> np.ndarray:
        raise AssertionError("the ONNX encoder ran for num_jitters != 1")

    monkeypatch.setattr(OnnxEncoder, "encode", no_onnx)
    rgb = photo_rgb("obama.jpg")
    engine = FaceEngine(DetectorSettings(encoder="onnx"))
    box = engine.detect(rgb)[0]
    jittered = engine.observe(rgb, box, num_jitters=2).encoding
    assert jittered is not None and jittered.shape == (128,)
    with pytest.raises(AssertionError, match="ONNX encoder ran"):
        engine.observe(rgb, box)  # and one jitter does use it


def test_the_shipped_file_matches_its_card_and_a_modified_copy_is_refused(tmp_path: Path) -> None:
    assert OnnxEncoder.load().card.sha256 == sha256_file(ENCODER_DIR / "dlib_resnet_v1.onnx")
    copy = tmp_path / "encoder"
    shutil.copytree(ENCODER_DIR, copy)
    model = copy / "dlib_resnet_v1.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x40  # one bit of one weight
    model.write_bytes(bytes(data))
    with pytest.raises(CardError, match="does not match its card"):
        OnnxEncoder.load(copy)


def test_export_reproduces_the_shipped_file_byte_for_byte(tmp_path: Path) -> None:
    from ml.encoder.export import export

    card_path = export(out_dir=tmp_path / "one")
    export(out_dir=tmp_path / "two")
    one, two = (tmp_path / d / "dlib_resnet_v1.onnx" for d in ("one", "two"))
    assert one.read_bytes() == two.read_bytes()
    shipped = json.loads((ENCODER_DIR / CARD_FILE).read_text(encoding="utf-8"))
    assert sha256_file(one) == shipped["files"]["model"]["sha256"]
    fresh = json.loads(card_path.read_text(encoding="utf-8"))
    assert fresh["source"]["sha256"] == shipped["source"]["sha256"]
    assert fresh["parity"]["accepted"] is False  # measured for the shipped folder, not this one


def test_load_encoder_names_the_encoder_it_runs() -> None:
    engine = FaceEngine(DetectorSettings(encoder="onnx"))
    assert engine.load_encoder().startswith("dlib_resnet_v1 (")
    assert FaceEngine(DetectorSettings(encoder="dlib")).load_encoder() == "dlib"
