"""Real face photos for tests: the two people in face_recognition 1.3.0's own test images.

The images are third-party and are never committed. They come from the face_recognition
1.3.0 source distribution on PyPI, fetched with pip once and cached under
``$LIVEGATE_TEST_CACHE`` (default: ``<repo>/.cache/test-data``, git-ignored).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from functools import cache
from pathlib import Path

SDIST = "face_recognition==1.3.0"
MEMBER_PREFIX = "face_recognition-1.3.0/tests/test_images/"
REPO_ROOT = Path(__file__).resolve().parents[2]

# Who is who in tests/test_images (obama2.jpg and 32bit.png are the same photo).
PEOPLE = {
    "obama": ["obama.jpg", "obama2.jpg", "obama3.jpg"],
    "biden": ["biden.jpg"],
}


def cache_dir() -> Path:
    return Path(os.environ.get("LIVEGATE_TEST_CACHE", REPO_ROOT / ".cache" / "test-data"))


@cache
def test_images_dir() -> Path:
    """Directory holding face_recognition's test images, downloading them on first use."""
    target = cache_dir() / "face_recognition-1.3.0-test_images"
    if (target / "biden.jpg").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", SDIST, "-d", tmp],
            check=True,
        )
        (sdist,) = Path(tmp).glob("face_recognition-1.3.0.tar.gz")
        staging = Path(tmp) / "images"
        staging.mkdir()
        with tarfile.open(sdist) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.startswith(MEMBER_PREFIX):
                    name = Path(member.name).name
                    src = tar.extractfile(member)
                    assert src is not None
                    (staging / name).write_bytes(src.read())
        if not target.exists():
            staging.rename(target)
    return target


def face_photo(name: str) -> Path:
    """Path of one test photo, e.g. ``face_photo("obama.jpg")``."""
    return test_images_dir() / name
