from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ml.identity import evaluate, main
from tests.support.faces import PEOPLE, face_photo

pytestmark = pytest.mark.slow  # ml.identity encodes faces with dlib


@pytest.fixture
def identity_dir(tmp_path: Path) -> Path:
    root = tmp_path / "identity" / "frtest"
    for person, names in PEOPLE.items():
        (root / person).mkdir(parents=True)
        for name in names:
            shutil.copy(face_photo(name), root / person / name)
    (root / "biden" / "broken.jpg").write_bytes(b"not a photo")
    return tmp_path / "identity"


def test_genuine_and_impostor_pairs(identity_dir: Path) -> None:
    report = evaluate(identity_dir)
    assert report["images_with_face"] == 4 and report["images_without_face"] == 1
    r = report["all"]
    assert (r["genuine_pairs"], r["impostor_pairs"]) == (3, 3)  # obama x3 among themselves; each obama vs biden
    at = r["by_tolerance"]["0.50"]
    assert at == {"fnmr": 0.0, "fmr": 0.0}
    assert r["genuine_distance_median"] < 0.5 < r["impostor_distance_median"]


def test_cli_writes_json(identity_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    main(["--data", str(identity_dir), "--json", str(out)])
    assert out.exists() and "frtest" in capsys.readouterr().out


def test_average_linkage_matches_scipy_without_needing_it() -> None:
    """ml.evaluate --enroll runs with the serving requirements: the clustering is numpy."""
    import numpy as np
    from scipy.cluster.hierarchy import fcluster, linkage

    from ml.datasets.identity import average_linkage_clusters

    rng = np.random.default_rng(5)
    centres = rng.normal(0, 1.0, (4, 16))
    points = np.concatenate([c + rng.normal(0, 0.15, (12, 16)) for c in centres])
    for cut in (0.3, 0.8, 2.0, 10.0):
        ours = average_linkage_clusters(points, cut)
        theirs = fcluster(linkage(points, method="average", metric="euclidean"), cut, criterion="distance")
        # The same partition (label numbers may differ).
        assert len({(a, b) for a, b in zip(ours, theirs, strict=True)}) == len(set(ours)) == len(set(theirs)), cut
