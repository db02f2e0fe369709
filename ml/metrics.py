"""Presentation-attack-detection metrics after ISO/IEC 30107-3, plus the usual classifier figures.

Conventions (every rate is a fraction in [0, 1]):
- A score is P(live); a presentation is *accepted* as bona fide when ``score >= threshold``.
- APCER for PAI species s = attack presentations of species s accepted / attack presentations of s
  (ISO/IEC 30107-3, 12.2.1 "attack presentation classification error rate").
- APCER_max = the worst species' APCER (the standard asks to report the maximum over species).
- BPCER = bona fide presentations rejected / bona fide presentations (12.2.1).
- ACER = (APCER_max + BPCER) / 2 -- not an ISO metric, but the one PAD papers and the anchor
  (../shared/notes/pad-anchor.md) report, so we report it too.
- EER = the rate where pooled APCER equals BPCER when the threshold sweeps.
- BPCER@APCERx = BPCER at the lowest threshold keeping APCER_max <= x (ISO's "BPCERx" uses a
  fixed APCER; we hold the WORST species to it, which is stricter than pooling species).
- accuracy/precision/recall/F1 take "live" as the positive class (recall = 1 - BPCER).
- A presentation where the pipeline finds no face is *rejected*: a BPCER error when live, a
  correct rejection when an attack (``no_face="reject"``); ``no_face="exclude"`` drops them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BONA_FIDE = "bona_fide"


@dataclass(frozen=True)
class Presentations:
    """Scores of a labelled test set. ``scores`` is NaN where no face was found."""

    scores: np.ndarray  # (N,) P(live), NaN = no face
    labels: np.ndarray  # (N,) 1 live, 0 attack
    species: np.ndarray  # (N,) str, "bona_fide" for live

    def __post_init__(self) -> None:
        if not (len(self.scores) == len(self.labels) == len(self.species)):
            raise ValueError("scores, labels and species must have the same length")

    @property
    def no_face(self) -> np.ndarray:
        return np.isnan(self.scores)

    def subset(self, mask: np.ndarray) -> Presentations:
        return Presentations(self.scores[mask], self.labels[mask], self.species[mask])

    def effective_scores(self, no_face: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(scores, labels, species) with no-face handled: reject = score -inf, exclude = dropped."""
        if no_face == "exclude":
            keep = ~self.no_face
            return self.scores[keep], self.labels[keep], self.species[keep]
        if no_face != "reject":
            raise ValueError(f"no_face must be 'reject' or 'exclude', not {no_face!r}")
        return np.where(self.no_face, -np.inf, self.scores), self.labels, self.species


def _rate(errors: np.ndarray) -> float:
    return float(errors.mean()) if errors.size else float("nan")


def apcer_per_species(scores: np.ndarray, labels: np.ndarray, species: np.ndarray, threshold: float) -> dict[str, float]:
    """APCER of each PAI species: attacks of that species scored as live."""
    attacks = labels == 0
    return {str(s): _rate(scores[attacks & (species == s)] >= threshold) for s in sorted(set(species[attacks].tolist()))}


def bpcer(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    """Bona fide presentations rejected."""
    return _rate(scores[labels == 1] < threshold)


def _max_or_nan(values: Sequence[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return max(finite) if finite else float("nan")


def _curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pooled APCER and BPCER at every distinct threshold (ascending thresholds)."""
    finite = scores[np.isfinite(scores)]
    thresholds = np.unique(np.concatenate([finite, [np.inf]])) if finite.size else np.array([np.inf])
    live = np.sort(scores[labels == 1])
    spoof = np.sort(scores[labels == 0])
    # BPCER(t) = share of live scores < t; APCER(t) = share of spoof scores >= t.
    bp = np.searchsorted(live, thresholds, side="left") / max(1, live.size)
    ap = 1.0 - np.searchsorted(spoof, thresholds, side="left") / max(1, spoof.size)
    return thresholds, ap, bp


def eer(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(EER, threshold at EER) over pooled attacks; NaN when one class is missing."""
    if not (labels == 1).any() or not (labels == 0).any():
        return float("nan"), float("nan")
    thresholds, ap, bp = _curve(scores, labels)
    i = int(np.argmin(np.abs(ap - bp)))
    return float((ap[i] + bp[i]) / 2.0), float(thresholds[i])


def bpcer_at_apcer(scores: np.ndarray, labels: np.ndarray, species: np.ndarray, target: float) -> float:
    """BPCER at the lowest threshold where every species' APCER is <= ``target``."""
    if not (labels == 1).any() or not (labels == 0).any():
        return float("nan")
    attacks = labels == 0
    # Per species, the threshold needed: above the ceil((1-target)*n)-th smallest attack score.
    needed = -np.inf
    for s in set(species[attacks].tolist()):
        sc = np.sort(scores[attacks & (species == s)])
        allowed = int(np.floor(target * sc.size + 1e-9))  # attacks of s we may accept
        k = sc.size - allowed  # this many must be rejected: threshold above the k-th smallest
        if k > 0:
            needed = max(needed, float(np.nextafter(sc[k - 1], np.inf)))
    return bpcer(scores, labels, needed)


def threshold_for_bpcer(scores: np.ndarray, labels: np.ndarray, target: float) -> float:
    """Highest threshold whose BPCER stays <= ``target`` (security as tight as usability allows)."""
    live = np.sort(scores[labels == 1])
    if not live.size:
        return 0.5
    k = int(np.floor(target * live.size + 1e-9))  # live presentations we may reject
    return float(live[min(k, live.size - 1)])


def classification(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, precision, recall and F1 with live as the positive class."""
    pred = scores >= threshold
    tp = float(np.sum(pred & (labels == 1)))
    fp = float(np.sum(pred & (labels == 0)))
    fn = float(np.sum(~pred & (labels == 1)))
    tn = float(np.sum(~pred & (labels == 0)))
    n = tp + fp + fn + tn
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall and not np.isnan(precision + recall) else float("nan")
    return {
        "accuracy": (tp + tn) / n if n else float("nan"),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def point_metrics(p: Presentations, threshold: float, no_face: str = "reject") -> dict[str, Any]:
    """All figures at one threshold (no bootstrap)."""
    scores, labels, species = p.effective_scores(no_face)
    per_species = apcer_per_species(scores, labels, species, threshold)
    ap_max = _max_or_nan(list(per_species.values()))
    bp = bpcer(scores, labels, threshold)
    e, e_thr = eer(scores, labels)
    out: dict[str, Any] = {
        "threshold": threshold,
        "apcer": per_species,
        "apcer_max": ap_max,
        "apcer_pooled": _rate(scores[labels == 0] >= threshold),
        "bpcer": bp,
        "acer": (ap_max + bp) / 2.0,
        "eer": e,
        "eer_threshold": e_thr,
        "bpcer_at_apcer_1pct": bpcer_at_apcer(scores, labels, species, 0.01),
        "bpcer_at_apcer_5pct": bpcer_at_apcer(scores, labels, species, 0.05),
        "n_live": int(np.sum(labels == 1)),
        "n_spoof": int(np.sum(labels == 0)),
    }
    out.update(classification(scores, labels, threshold))
    return out


BOOTSTRAP_KEYS = ("apcer_max", "bpcer", "acer", "eer", "accuracy", "f1")


def bootstrap_ci(
    p: Presentations, threshold: float, no_face: str = "reject", reps: int = 500, seed: int = 0, level: float = 0.95
) -> dict[str, list[float]]:
    """Percentile bootstrap intervals, resampling live and attack presentations separately.

    Stratified by class (and by species within attacks) so every replicate keeps the test set's
    class mix; the interval reflects sampling noise of the presentations only. With a few sets of
    a few people, presentations are not independent: read the intervals as lower bounds of the
    real uncertainty.
    """
    scores, labels, species = p.effective_scores(no_face)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(labels == 1)] + [
        np.flatnonzero((labels == 0) & (species == s)) for s in sorted(set(species[labels == 0].tolist()))
    ]
    groups = [g for g in groups if g.size]
    draws: dict[str, list[float]] = {k: [] for k in BOOTSTRAP_KEYS}
    for _ in range(reps):
        idx = np.concatenate([rng.choice(g, size=g.size, replace=True) for g in groups])
        m = point_metrics(Presentations(scores[idx], labels[idx], species[idx]), threshold, no_face="exclude")
        for k in BOOTSTRAP_KEYS:
            draws[k].append(m[k])
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return {k: [float(np.nanpercentile(v, lo)), float(np.nanpercentile(v, hi))] for k, v in draws.items() if not np.all(np.isnan(v))}


def pad_report(p: Presentations, threshold: float, reps: int = 500, seed: int = 0) -> dict[str, Any]:
    """The evaluator's JSON body: no-face as rejection at top level, the detected-only view beside it."""
    out = point_metrics(p, threshold, "reject")
    out["n_no_face"] = int(p.no_face.sum())
    out["n_no_face_live"] = int((p.no_face & (p.labels == 1)).sum())
    out["n_no_face_spoof"] = int((p.no_face & (p.labels == 0)).sum())
    out["no_face_policy"] = "reject (live without a face = BPCER error; attack without a face = correct rejection)"
    out["positive_class"] = "live"
    if reps:
        out["ci95"] = bootstrap_ci(p, threshold, "reject", reps, seed)
    if out["n_no_face"] and (~p.no_face).any():
        out["detected_only"] = point_metrics(p, threshold, "exclude")
    return out
