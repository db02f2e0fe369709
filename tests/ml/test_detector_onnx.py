"""The context detector's ONNX port (webapp/assets/detector/retinaface.onnx) gives the boxes the
Caffe network gives through cv2.dnn, and its card guards its bytes.

Real frames: face_recognition's test photos (the suite's own), as they come and framed like a
480x360 webcam image (tests/support/frames.py); a few frames of each ../shared clip when the
datasets are there. ``python -m ml.detector parity`` is the full study (every login frame of
../shared, down to the liveness decision); these tests keep its bar on what CI has.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ml.detector.caffe_onnx import convert
from ml.detector.reference import CaffeRetinaFace
from tests.support.faces import PEOPLE
from tests.support.frames import photo_rgb, portrait
from webapp.face.retinaface import DEFAULT_DIR, DetectorCard, RetinaFace, ScoredBox
from webapp.runtime.files import CardError, sha256_file

pytestmark = pytest.mark.slow

PHOTOS = [name for names in PEOPLE.values() for name in names] + ["obama_partial_face.jpg", "obama_partial_face2.jpg"]
SHARED_VIDEOS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "videos"


@pytest.fixture(scope="module")
def detectors() -> tuple[CaffeRetinaFace, RetinaFace]:
    return CaffeRetinaFace.load(), RetinaFace.load()


def assert_same_boxes(ref: list[ScoredBox], new: list[ScoredBox]) -> None:
    assert len(new) == len(ref)
    for a, b in zip(ref, new, strict=True):
        np.testing.assert_allclose([b.x1, b.y1, b.x2, b.y2], [a.x1, a.y1, a.x2, a.y2], atol=0.01)  # pixels
        assert abs(a.confidence - b.confidence) < 1e-4
        assert a.xywh == b.xywh or max(abs(p - q) for p, q in zip(a.xywh, b.xywh, strict=True)) <= 1


@pytest.mark.parametrize("name", PHOTOS)
def test_onnx_and_caffe_give_the_same_boxes_on_real_photos(detectors: tuple[CaffeRetinaFace, RetinaFace], name: str) -> None:
    caffe, onnx = detectors
    for rgb in (photo_rgb(name), portrait(name) if name in PEOPLE["obama"] + PEOPLE["biden"] else photo_rgb(name)[::2, ::2]):
        rgb = np.ascontiguousarray(rgb)
        ref = caffe.detect(rgb, caffe.card.matched_confidence)
        assert ref, "the Caffe detector sees a face in every test photo"
        assert_same_boxes(ref, onnx.detect(rgb, onnx.card.matched_confidence))


def test_onnx_and_caffe_agree_where_there_is_no_face(detectors: tuple[CaffeRetinaFace, RetinaFace]) -> None:
    caffe, onnx = detectors
    grey = np.full((480, 640, 3), 128, np.uint8)
    noise = np.random.default_rng(1).integers(0, 255, (300, 500, 3), dtype=np.uint8)
    for rgb in (grey, noise):
        assert_same_boxes(caffe.detect(rgb, 0.1), onnx.detect(rgb, 0.1))
    assert onnx.detect(grey) == []


@pytest.mark.dataset
@pytest.mark.skipif(not SHARED_VIDEOS.is_dir(), reason="../shared/datasets/videos is absent")
def test_onnx_and_caffe_give_the_same_boxes_on_login_frames_of_the_shared_clips(detectors: tuple[CaffeRetinaFace, RetinaFace]) -> None:
    from ml.detector.parity import video_frames

    caffe, onnx = detectors
    per_clip: dict[str, int] = {}
    for clip, rgb in video_frames(SHARED_VIDEOS):
        if per_clip.get(clip, 0) >= 4:
            continue
        per_clip[clip] = per_clip.get(clip, 0) + 1
        assert_same_boxes(caffe.detect(rgb, 0.1), onnx.detect(rgb, 0.1))
    assert len(per_clip) >= 10


def test_the_export_is_deterministic_and_is_the_shipped_file(tmp_path: Path) -> None:
    card = DetectorCard.load()
    data = convert(card.prototxt, card.model).SerializeToString()
    assert data == convert(card.prototxt, card.model).SerializeToString()
    out = tmp_path / "retinaface.onnx"
    out.write_bytes(data)
    assert sha256_file(out) == card.sha256["onnx"] == sha256_file(card.onnx)


def test_a_modified_onnx_file_is_refused_by_its_card(tmp_path: Path) -> None:
    directory = tmp_path / "detector"
    shutil.copytree(DEFAULT_DIR, directory)
    assert DetectorCard.load(directory).onnx == directory / "retinaface.onnx"
    data = bytearray((directory / "retinaface.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one weight
    (directory / "retinaface.onnx").write_bytes(bytes(data))
    with pytest.raises(CardError, match=r"retinaface\.onnx: sha256"):
        DetectorCard.load(directory)
    with pytest.raises(CardError):
        RetinaFace.load(directory)
    (directory / "retinaface.onnx").unlink()
    with pytest.raises(CardError, match=r"retinaface\.onnx"):
        DetectorCard.load(directory)


def test_the_priors_of_each_input_size_are_computed_once(detectors: tuple[CaffeRetinaFace, RetinaFace]) -> None:
    _caffe, onnx = detectors
    first = onnx.priors(221, 166)
    assert onnx.priors(221, 166) is first
    assert onnx.priors(166, 221).shape == first.shape  # same cells, transposed map
    assert not np.array_equal(onnx.priors(166, 221), first)
