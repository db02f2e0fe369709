"""The fine-tuning study's fitting code (ml/pretrained/finetune.py) on synthetic embeddings.

No network is run: embeddings are drawn so that the truth is known, which is what lets these
tests fail when a fit ignores its data, leaks the held-out fold or drifts from its prior.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ml.datasets.layout import LIVE, PAD_FOLDS, SPOOF, Sample
from ml.pretrained import finetune
from ml.pretrained.features import ImageFeatures, Members, live_probability


def _sample(set_name: str, label: int, i: int) -> Sample:
    species = "bona_fide" if label == LIVE else "replay"
    return Sample(Path(f"/x/{set_name}/{label}/{i}.jpg"), label, set_name, species, set_name)


def _members(rng: np.random.Generator, dim: int = 8) -> Members:
    heads = rng.normal(0, 0.1, (2, dim, 3))
    return Members(("a", "b"), (2.7, 4.0), (None, None), heads)


def test_balance_weights_give_every_set_and_class_the_same_total() -> None:
    samples = [_sample("big", LIVE, i) for i in range(90)] + [_sample("big", SPOOF, i) for i in range(10)]
    samples += [_sample("small", LIVE, i) for i in range(3)]
    w = finetune.balance_weights(samples)
    assert w.sum() == pytest.approx(1.0)
    assert w[:90].sum() == pytest.approx(w[90:100].sum()) == pytest.approx(w[100:].sum()) == pytest.approx(1 / 3)


def test_logistic_fit_follows_the_weights() -> None:
    x = np.array([[-1.0], [1.0], [1.0]])
    y = np.array([0, 1, 0])
    # The two points at x=1 disagree; the weight decides which side wins.
    towards_live = finetune.fit_logistic(x, y, np.array([1.0, 10.0, 1.0]) / 12)
    towards_spoof = finetune.fit_logistic(x, y, np.array([1.0, 1.0, 10.0]) / 12)
    assert towards_live @ [1.0, 1.0] > 0 > towards_spoof @ [1.0, 1.0]


def test_head_learns_the_data_when_the_prior_is_wrong_and_stays_put_when_pulled_hard() -> None:
    rng = np.random.default_rng(0)
    n, dim = 400, 8
    y = rng.integers(0, 2, n)
    emb = rng.normal(0, 1, (n, dim))
    emb[:, 0] += np.where(y == LIVE, 2.0, -2.0)  # the truth lives on dimension 0
    prior = np.zeros((dim, 3))
    prior[0] = [1.0, -1.0, 1.0]  # the prior head calls dimension 0 spoof: exactly wrong
    w = np.full(n, 1.0 / n)

    def accuracy(head: np.ndarray) -> float:
        return float(((live_probability(emb @ head) >= 0.5) == (y == LIVE)).mean())

    assert accuracy(prior) < 0.1
    assert accuracy(finetune.fit_head(emb, y, w, prior, lam=1e-3)) > 0.95
    pulled = finetune.fit_head(emb, y, w, prior, lam=1e4)
    assert np.abs(pulled - prior).max() < 1e-2


def test_head_gradient_matches_finite_differences() -> None:
    from scipy.optimize import approx_fprime

    rng = np.random.default_rng(1)
    n, dim = 30, 4
    emb, y = rng.normal(0, 1, (n, dim)), rng.integers(0, 2, n)
    w, prior, lam = np.full(n, 1.0 / n), rng.normal(0, 0.5, (dim, 3)), 0.3
    captured: dict[str, object] = {}

    def spy(fun, x0, jac, method, options):  # type: ignore[no-untyped-def]
        captured["fun"] = fun

        class Result:
            x = x0

        return Result()

    import scipy.optimize

    original = scipy.optimize.minimize
    scipy.optimize.minimize = spy
    try:
        finetune.fit_head(emb, y, w, prior, lam)
    finally:
        scipy.optimize.minimize = original
    fun = captured["fun"]
    point = rng.normal(0, 0.5, dim * 3)
    analytic = fun(point)[1]  # type: ignore[operator]
    numeric = approx_fprime(point, lambda p: fun(p)[0], 1e-6)  # type: ignore[operator]
    assert np.abs(analytic - numeric).max() < 1e-4


def test_loso_never_fits_on_the_held_out_fold(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    sets = ["aksultan", "sivakumar", "tranvanluyt", "krzysiek"]
    samples = [_sample(s, label, i) for s in sets for label in (LIVE, SPOOF) for i in range(12)]
    feats = ImageFeatures(samples, np.ones(len(samples), bool), rng.normal(0, 1, (len(samples), 2, 8)).astype(np.float32))
    seen: list[tuple[str, set[str]]] = []
    real = finetune.fit_candidates

    def spy(members, feats_, train, folds):  # type: ignore[no-untyped-def]
        seen.append(("fit", {feats_.samples[i].set_name for i in train}))
        return real(members, feats_, train, None)  # no inner search: speed

    monkeypatch.setattr(finetune, "fit_candidates", spy)
    result = finetune.run_loso(_members(rng), feats, only_folds=sets)
    assert [s for _, s in seen] == [set(sets) - {held} for held in sets]
    for c in finetune.CANDIDATES:
        assert not np.isnan(result.oof[c]).any()
    assert set(PAD_FOLDS) >= set(sets)


def test_no_face_images_are_never_scored_and_count_as_rejections() -> None:
    sets = ["aksultan", "sivakumar"]
    samples = [_sample(s, label, i) for s in sets for label in (LIVE, SPOOF) for i in range(10)]
    result = finetune.LosoResult({c: np.full(len(samples), 0.9) for c in finetune.CANDIDATES}, {}, np.array([s.set_name for s in samples]))
    result.oof["frozen"][0] = np.nan  # one live image of aksultan without a face
    report = finetune.frame_report(result, samples)
    assert report["per_set"]["aksultan"]["frozen"]["bpcer"] == pytest.approx(0.1)
    assert report["per_set"]["aksultan"]["frozen"]["n_no_face"] == 1
    assert report["per_set"]["aksultan"]["head"]["bpcer"] == 0.0
