"""Train/validation splits by whole source set or by person, never by frame.

Frames of one session are near-copies of each other; a random-frame split validates on the
training frames and reports a number that means nothing (datasets README, "Known traps").
Sets that share frames stay together through :func:`ml.datasets.layout.fold_of`.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ml.datasets.layout import SHARED_FRAME_SETS, Sample, fold_of


def group_key(sample: Sample, by: str) -> str:
    """The unit that must not be cut: the set's fold (``by="set"``) or the person (``by="person"``).

    Splitting by person keeps sets that share frames together too: a person of such a set is
    keyed by the set's fold, since the same tutorial frames appear under several set names.
    """
    if by == "set":
        return fold_of(sample.set_name)
    if by == "person":
        return fold_of(sample.set_name) if sample.set_name in SHARED_FRAME_SETS else sample.person
    raise ValueError(f"split by 'set' or 'person', not {by!r}")


def split_groups(samples: list[Sample], by: str, val_fraction: float, seed: int = 0) -> dict[str, str]:
    """Map each group to "train" or "val": groups in random order fill validation to ~``val_fraction``.

    Groups with only one class go to training unless validation would otherwise lack them: a
    validation set needs both live and spoof to measure anything.
    """
    counts = Counter(group_key(s, by) for s in samples)
    classes: dict[str, set[int]] = {}
    for s in samples:
        classes.setdefault(group_key(s, by), set()).add(s.label)
    rng = np.random.default_rng(seed)
    groups = sorted(counts)
    order = [groups[i] for i in rng.permutation(len(groups))]
    target = val_fraction * len(samples)
    assignment: dict[str, str] = {}
    in_val = 0
    for g in order:
        both = len(classes[g]) == 2
        if both and in_val + counts[g] <= target * 1.25 and in_val < target:
            assignment[g] = "val"
            in_val += counts[g]
        else:
            assignment[g] = "train"
    if "val" not in assignment.values():  # every group too big: take the smallest two-class one
        two_class = [g for g in groups if len(classes[g]) == 2]
        if two_class:
            assignment[min(two_class, key=lambda g: counts[g])] = "val"
    return assignment


def write_split(
    samples: list[Sample], root: Path, out: Path, by: str, val_fraction: float, seed: int = 0, link: bool = False
) -> dict[str, Any]:
    """Write ``split.json`` (groups and files per part); with ``link``, symlink trees out/{train,val}/..."""
    assignment = split_groups(samples, by, val_fraction, seed)
    parts: dict[str, list[str]] = {"train": [], "val": []}
    for s in samples:
        part = assignment[group_key(s, by)]
        rel = s.path.relative_to(root).as_posix()
        parts[part].append(rel)
        if link:
            dst = out / part / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists():
                os.symlink(s.path.resolve(), dst)
    doc = {
        "root": str(root),
        "by": by,
        "seed": seed,
        "groups": {p: sorted(g for g, a in assignment.items() if a == p) for p in ("train", "val")},
        "counts": {p: len(f) for p, f in parts.items()},
        "files": parts,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "split.json").write_text(json.dumps(doc, indent=2))
    return doc
