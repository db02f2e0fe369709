"""Labelled crops as arrays: what training, LOSO and evaluation feed to models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.datasets.faces import crop_files
from ml.datasets.layout import Sample, fold_of, scan
from webapp.face import CropSpec


@dataclass
class LabelledCrops:
    """Parallel arrays over images; ``found`` False + ``fallback`` False means no crop at all."""

    crops: np.ndarray  # (N, S, S, 3) uint8 RGB
    labels: np.ndarray  # (N,) 1 live / 0 spoof
    sets: np.ndarray  # (N,) str
    species: np.ndarray  # (N,) str
    persons: np.ndarray  # (N,) str
    paths: np.ndarray  # (N,) str
    found: np.ndarray  # (N,) bool, the service detector found the face
    fallback: np.ndarray  # (N,) bool, framed by faces.fallback_box instead

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def folds(self) -> np.ndarray:
        return np.array([fold_of(s) for s in self.sets])

    @property
    def usable(self) -> np.ndarray:
        return self.found | self.fallback

    def subset(self, mask: np.ndarray) -> LabelledCrops:
        return LabelledCrops(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))


def load_crops(samples: Sequence[Sample], spec: CropSpec, use_fallback: bool = True, progress: bool = False) -> LabelledCrops:
    """Service-path crops of ``samples`` at ``spec`` (cached under .cache/ml)."""
    cs = crop_files([s.path for s in samples], spec, use_fallback=use_fallback, progress=progress)
    return LabelledCrops(
        crops=cs.crops,
        labels=np.array([s.label for s in samples], np.int64),
        sets=np.array([s.set_name for s in samples]),
        species=np.array([s.species for s in samples]),
        persons=np.array([s.person for s in samples]),
        paths=np.array([str(s.path) for s in samples]),
        found=cs.found,
        fallback=cs.fallback,
    )


def load_roots(
    roots: Sequence[Path], spec: CropSpec, use_fallback: bool = True, progress: bool = False, identity: bool = False
) -> LabelledCrops:
    """Scan every root (``live``/``spoof`` trees) and crop all their images.

    ``identity``: persons are identity clusters (:func:`identity_persons`), not source sets:
    what Siamese pairs and enrollment need."""
    samples: list[Sample] = []
    for root in roots:
        samples.extend(scan(Path(root)))
    if not samples:
        raise SystemExit(f"no live/ or spoof/ images under {', '.join(map(str, roots))}")
    data = load_crops(samples, spec, use_fallback=use_fallback, progress=progress)
    if identity:
        data.persons = identity_persons(data)
    return data


def identity_persons(data: LabelledCrops) -> np.ndarray:
    """Person labels refined by identity clusters of the service's face encodings (ml/datasets/identity.py)."""
    from ml.datasets.identity import cluster_persons, encode_files

    encodings = encode_files([Path(p) for p in data.paths])
    return cluster_persons(encodings, data.sets, data.persons)
