"""What one training epoch sees: a class- and set-balanced draw, spoof synthesis and nuisance augmentation.

Why balanced draws: the shared sets range from 11 to 1,771 images and NUAA alone is a fifth of
the data. Each image is drawn with weight 1/sqrt(n of its set and class): large sets still count
more, but cannot drown the small ones, and live and spoof are drawn equally often.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.augment import make_spoof, nuisance
from ml.datasets.arrays import LabelledCrops


@dataclass(frozen=True)
class AugmentConfig:
    synth_spoof: float = 0.25  # synthetic spoofs added per live image drawn (0 = off)
    nuisance: float = 1.0  # strength of the both-class augmentation (0 = off)


def balanced_weights(data: LabelledCrops) -> np.ndarray:
    """Per-image draw probability: 1/sqrt(set-class size), each class summing to 1/2."""
    w = np.zeros(len(data), np.float64)
    keys = np.char.add(data.sets.astype(str), data.labels.astype(str))
    for key in np.unique(keys):
        m = keys == key
        w[m] = 1.0 / np.sqrt(m.sum())
    for label in (0, 1):
        m = data.labels == label
        if m.any():
            w[m] /= 2.0 * w[m].sum()
    return w / w.sum()


def epoch_indices(data: LabelledCrops, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` draws (with replacement when needed) under :func:`balanced_weights`."""
    return rng.choice(len(data), size=size, replace=True, p=balanced_weights(data))


def augmented_epoch(data: LabelledCrops, idx: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> tuple[np.ndarray, np.ndarray]:
    """(float32 images in [0, 1], labels) for one epoch: the drawn crops plus synthetic spoofs."""
    crops = [data.crops[i] for i in idx]
    labels = [int(data.labels[i]) for i in idx]
    if cfg.synth_spoof > 0:
        live = [i for i in idx if data.labels[i] == 1]
        n_synth = round(cfg.synth_spoof * len(live))
        for i in rng.choice(live, size=n_synth, replace=False) if n_synth and live else []:
            crops.append(make_spoof(data.crops[i], rng))
            labels.append(0)
        # Keep the classes balanced: as many extra live draws as synthetic spoofs.
        for i in rng.choice(live, size=n_synth, replace=True) if n_synth and live else []:
            crops.append(data.crops[i])
            labels.append(1)
    if cfg.nuisance > 0:
        crops = [nuisance(c, rng, cfg.nuisance) for c in crops]
    x = np.stack(crops).astype(np.float32) / 255.0
    return x, np.array(labels, np.float32)


def siamese_pairs(
    data: LabelledCrops, n_pairs: int, rng: np.random.Generator, cfg: AugmentConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, y) pairs from one person each: y=1 (live, live), y=0 (live, spoof).

    The spoof side is a real spoof of that person when the data has one, otherwise (and with
    probability ``cfg.synth_spoof``) a synthetic spoof of one of their live crops. People are
    drawn with weight sqrt(their image count), like sets in :func:`balanced_weights`. Images of
    unknown identity (no face encoding, see ml/datasets/identity.py) are never paired.
    """
    from ml.datasets.identity import is_known

    persons = np.unique(data.persons[is_known(data.persons)])
    live_of = {p: np.flatnonzero((data.persons == p) & (data.labels == 1)) for p in persons}
    spoof_of = {p: np.flatnonzero((data.persons == p) & (data.labels == 0)) for p in persons}
    people = [p for p in persons if len(live_of[p]) >= 2]
    if not people:
        raise ValueError("Siamese training needs people with at least two live images")
    pw = np.sqrt([len(live_of[p]) + len(spoof_of[p]) for p in people])
    a_list, b_list, y_list = [], [], []
    for k in range(n_pairs):
        p = people[int(rng.choice(len(people), p=pw / pw.sum()))]
        i, j = rng.choice(live_of[p], size=2, replace=False)
        a = data.crops[i]
        if k % 2 == 0:  # similar pair
            b, y = data.crops[j], 1
        elif len(spoof_of[p]) and rng.random() >= cfg.synth_spoof:
            b, y = data.crops[int(rng.choice(spoof_of[p]))], 0
        else:
            b, y = make_spoof(data.crops[j], rng), 0
        if cfg.nuisance > 0:
            a, b = nuisance(a, rng, cfg.nuisance), nuisance(b, rng, cfg.nuisance)
        a_list.append(a)
        b_list.append(b)
        y_list.append(y)
    to_x = lambda lst: np.stack(lst).astype(np.float32) / 255.0  # noqa: E731
    return to_x(a_list), to_x(b_list), np.array(y_list, np.float32)
