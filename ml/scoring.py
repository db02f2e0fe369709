"""Scores of trained Keras models on crops, and the enrollment simulation for the Siamese model.

The Siamese model scores a face against the claimed user's enrolled live faces. Offline, a
"user" is a person label (ml.datasets.layout.person_of): ``enroll_k`` of their live crops play
the enrollment photos and every other crop of theirs is scored against them. Those references
come from the same session as the probes, so offline Siamese figures are optimistic for a
login days after enrollment (stated in the card's limits).
"""

from __future__ import annotations

import numpy as np

from ml.metrics import eer


def predict_live(model: object, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """P(live) of a Keras classifier for uint8 crops (the card's preprocessing: x / 255)."""
    x = crops.astype(np.float32) / 255.0
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), np.float64).reshape(-1)  # type: ignore[attr-defined]


def embed(twin: object, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
    x = crops.astype(np.float32) / 255.0
    return np.asarray(twin.predict(x, batch_size=batch_size, verbose=0), np.float64)  # type: ignore[attr-defined]


def enrollment_mask(persons: np.ndarray, labels: np.ndarray, k: int, seed: int = 0, eligible: np.ndarray | None = None) -> np.ndarray:
    """Mark ``k`` random live images per person as their enrollment references."""
    from ml.datasets.identity import is_known

    rng = np.random.default_rng(seed)
    eligible = (np.ones(len(labels), bool) if eligible is None else eligible) & is_known(persons)
    refs = np.zeros(len(labels), bool)
    for p in np.unique(persons):
        live = np.flatnonzero((persons == p) & (labels == 1) & eligible)
        if len(live) > k:  # keep at least one live probe per person
            refs[rng.choice(live, size=k, replace=False)] = True
    return refs


def min_distances(emb: np.ndarray, persons: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """Distance of each non-reference image to its own person's nearest reference (NaN otherwise).

    Images of unknown identity stay NaN: nobody's enrollment can be said to be theirs.
    """
    from ml.datasets.identity import is_known

    known = is_known(persons)
    out = np.full(len(emb), np.nan)
    for p in np.unique(persons):
        ref_idx = np.flatnonzero((persons == p) & refs)
        probe_idx = np.flatnonzero((persons == p) & ~refs & known)
        if len(ref_idx) == 0 or len(probe_idx) == 0:
            continue
        d = np.linalg.norm(emb[probe_idx, None, :] - emb[None, ref_idx, :], axis=2).min(axis=1)
        out[probe_idx] = d
    return out


def fit_calibration(dist: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Logistic P(live) = sigmoid(a * distance + b) fitted on labelled distances (a < 0).

    Classes are weighted equally so the fitted 0.5 point sits between the two distance
    distributions rather than following the live/spoof ratio of the validation data.
    """
    from sklearn.linear_model import LogisticRegression

    ok = np.isfinite(dist)
    if len(np.unique(labels[ok])) < 2:
        return {"a": -10.0, "b": 5.0}
    lr = LogisticRegression(class_weight="balanced", C=10.0)
    lr.fit(dist[ok, None], labels[ok])
    return {"a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}


def calibrated(dist: np.ndarray, calibration: dict[str, float]) -> np.ndarray:
    """The service's formula (webapp.liveness.models.OnnxSiamese): sigmoid(a * d + b)."""
    return 1.0 / (1.0 + np.exp(-(calibration["a"] * dist + calibration["b"])))


def eer_of(scores: np.ndarray, labels: np.ndarray) -> float:
    ok = np.isfinite(scores)
    return eer(scores[ok], labels[ok])[0]
