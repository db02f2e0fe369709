"""Facts about ../shared/datasets/pad that the fold map and species map rely on (skipped without it)."""

from __future__ import annotations

import json

import pytest

from ml.datasets.layout import PAD_FOLDS, PAD_SPECIES, fold_of, scan
from ml.paths import SHARED_PAD

pytestmark = [
    pytest.mark.dataset,
    pytest.mark.skipif(not SHARED_PAD.is_dir(), reason=f"shared datasets not present at {SHARED_PAD}"),
]


def test_scan_counts_match_the_published_counts() -> None:
    counts = json.loads((SHARED_PAD.parent / "counts.json").read_text())
    samples = scan(SHARED_PAD)
    for set_name, per_class in counts.items():
        for cls, n in per_class.items():
            label = 1 if cls == "live" else 0
            assert sum(1 for s in samples if s.set_name == set_name and s.label == label) == n, (set_name, cls)


def test_every_shared_set_has_a_fold_and_a_species() -> None:
    listed = {s for members in PAD_FOLDS.values() for s in members}
    on_disk = {p.name for p in SHARED_PAD.iterdir() if p.is_dir()}
    assert on_disk == listed
    assert set(PAD_SPECIES) <= on_disk
    assert fold_of("nuaa-train") == fold_of("y45hk1r0l4")
