"""A tiny live/spoof dataset built at test time from face_recognition's test photos.

Live images are the photos' faces with context (``tests.support.frames.face_crop``) under a
few capture variations; spoofs are the same faces through ml.augment's print and screen
simulations. Two "sets": obama (three photos) and biden (one). Nothing here is committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from ml.augment import make_spoof
from ml.augment.nuisance import framing, light
from tests.support.faces import PEOPLE
from tests.support.frames import face_crop, photo_rgb

VARIANTS = {"obama": 3, "biden": 8}  # biden needs > 5 live images for Siamese enrollment


@pytest.fixture(scope="session", autouse=True)
def _private_crop_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Detections, crops and encodings of test images go to a temporary cache, not .cache/ml."""
    import ml.datasets.faces
    import ml.datasets.identity

    cache = tmp_path_factory.mktemp("ml-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ml.datasets.faces, "CACHE_DIR", cache)
        mp.setattr(ml.datasets.identity, "CACHE_DIR", cache)
        yield


def _write(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])


@pytest.fixture(scope="session")
def tiny_pad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny_pad")
    rng = np.random.default_rng(0)
    for person, photos in PEOPLE.items():
        for photo in photos:
            face = face_crop(photo_rgb(photo), size=200, scale=2.0)
            for v in range(VARIANTS[person]):
                live = light(framing(face, rng, shift=0.02, zoom=0.05, angle=4.0), rng, 0.5)
                stem = f"{Path(photo).stem}_{v}"
                _write(root / person / "live" / f"{stem}.jpg", live)
                kind = "print" if v % 2 == 0 else "screen"
                _write(root / person / "spoof" / kind / f"{stem}.jpg", make_spoof(live, rng, kind))
    # One picture without a face in each class: the evaluator must count them as rejected.
    _write(root / "biden" / "live" / "blank.jpg", np.full((200, 200, 3), 127, np.uint8))
    _write(root / "biden" / "spoof" / "screen" / "blank.jpg", np.full((200, 200, 3), 60, np.uint8))
    return root
