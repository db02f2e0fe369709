"""1:1 identity matching of face encodings against a user's enrolled templates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MatchResult:
    """Closest enrolled template and what it means under the configured thresholds."""

    distance: float  # Euclidean distance in dlib's 128-d space; inf when nothing is enrolled
    tolerance: float
    match: bool


def best_distance(encoding: np.ndarray, templates: np.ndarray) -> float:
    """Smallest Euclidean distance from ``encoding`` to any row of ``templates`` (inf if none).

    Taking the minimum over several templates lets one enrollment photo cover glasses, another
    no glasses; it is face_recognition's ``face_distance`` reduced to the best template.
    """
    if templates.size == 0:
        return float("inf")
    dists = np.linalg.norm(templates.reshape(-1, encoding.shape[0]) - encoding[None, :], axis=1)
    return float(dists.min())


def match(encoding: np.ndarray, templates: np.ndarray, tolerance: float) -> MatchResult:
    """Decide whether ``encoding`` is the enrolled person at ``tolerance``."""
    distance = best_distance(encoding, templates)
    return MatchResult(distance=round(distance, 6) if np.isfinite(distance) else distance, tolerance=tolerance, match=distance <= tolerance)
