"""Scores of trained Keras models on crops, and the enrollment simulation for the Siamese model.

The Siamese model scores a face against the claimed user's enrolled live faces. Offline, a
"user" is a person label (ml.datasets.layout.person_of): ``enroll_k`` of their live crops play
the enrollment photos and every other crop of theirs is scored against them. Those references
come from the same session as the probes, so offline Siamese figures are optimistic for a
login days after enrollment (stated in the card's limits).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ml.metrics import eer


def predict_live(model: object, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """P(live) of a Keras classifier for uint8 crops (the card's preprocessing: x / 255)."""
    x = crops.astype(np.float32) / 255.0
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), np.float64).reshape(-1)  # type: ignore[attr-defined]


def embed(twin: object, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
    x = crops.astype(np.float32) / 255.0
    return np.asarray(twin.predict(x, batch_size=batch_size, verbose=0), np.float64)  # type: ignore[attr-defined]


def enrollment_mask(
    persons: np.ndarray,
    labels: np.ndarray,
    k: int,
    seed: int = 0,
    eligible: np.ndarray | None = None,
    sessions: np.ndarray | None = None,
) -> np.ndarray:
    """Mark ``k`` random live images per person as their enrollment references.

    With ``sessions`` (capture session per image, "" = unknown), a person filmed in several
    sessions enrolls from their first session only, so that :func:`same_session_probes` can
    keep the scored live probes to LATER sessions: a login is rarely the enrollment session.
    """
    from ml.datasets.identity import is_known

    rng = np.random.default_rng(seed)
    eligible = (np.ones(len(labels), bool) if eligible is None else eligible) & is_known(persons)
    refs = np.zeros(len(labels), bool)
    for p in np.unique(persons):
        live = (persons == p) & (labels == 1) & eligible
        if sessions is not None and len(set(sessions[live].tolist()) - {""}) >= 2:
            live &= sessions == min(set(sessions[live].tolist()) - {""})
        idx = np.flatnonzero(live)
        all_live = int(((persons == p) & (labels == 1) & eligible).sum())
        if len(idx) >= k and all_live > k:  # at least one live probe per person remains
            refs[rng.choice(idx, size=k, replace=False)] = True
    return refs


def same_session_probes(persons: np.ndarray, labels: np.ndarray, sessions: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """Live non-reference images taken in the session their person enrolled from, for people
    who also have live images from another session (those are then the only live probes)."""
    out = np.zeros(len(labels), bool)
    for p in np.unique(persons[refs]):
        ref_sessions = set(sessions[refs & (persons == p)].tolist()) - {""}
        live = (persons == p) & (labels == 1) & ~refs
        if ref_sessions and (live & ~np.isin(sessions, list(ref_sessions))).any():
            out |= live & np.isin(sessions, list(ref_sessions))
    return out


def live_scores(model: Any, crops: np.ndarray, found: np.ndarray) -> np.ndarray:
    """A classifier's P(live) on the crops the service's detector finds; NaN where it finds no
    face (the service rejects those)."""
    scores = np.full(len(crops), np.nan)
    if found.any():
        scores[found] = predict_live(model, crops[found])
    return scores


def enrollment_distances(twin: Any, crops: np.ndarray, found: np.ndarray, persons: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """A Siamese twin's distance from each found non-reference crop to its own person's nearest
    reference crop (the login comparison); NaN for references, unknown people and no-face crops."""
    dist = np.full(len(crops), np.nan)
    if found.any():
        e = embed(twin, crops[found])
        emb = np.zeros((len(crops), e.shape[1]))
        emb[found] = e
        dist[found] = min_distances(emb, persons, refs)[found]
    return dist


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
    """EER over the scored presentations (NaN: no face or an abstaining model); NaN if none."""
    ok = np.isfinite(scores)
    return eer(scores[ok], labels[ok])[0] if ok.any() else float("nan")
