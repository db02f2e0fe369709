"""Evaluate the shipped liveness pipeline (or some of its models) on any live/spoof folder.

    python -m ml.evaluate --data DIR --json OUT.json [--service-pipeline | --model NAME ...]
                          [--models-dir webapp/assets/models] [--enroll 5] [--plots DIR]

Every image goes through the service's own path: ``read_image_file`` -> the face engine's
``detect`` (largest face) -> ``LivenessEnsemble.score_face`` (each model's ``crop_face`` with the
crop spec of its card, ONNX inference, weighted-mean fusion) -> the card's threshold. A picture
where no face is found counts as rejected (see ml/metrics.py); the detected-only figures are
reported beside. DIR holds ``live/`` and ``spoof/`` folders at any depth (``spoof/<species>/``
names attack species); whole frames or face crops both work.

Identity-aware (Siamese) members need the claimed user's enrolled embeddings. With
``--enroll K``, K random live images per person are enrolled exactly as the service enrolls
(``embed_references``) and excluded from the scored presentations. A "person" is an identity
cluster of the service's face encodings within a set (``--persons identity``, the default: a
spoof of someone else would fail the identity check anyway) or a whole set (``--persons set``).
Without ``--enroll`` those members abstain, as they do for a user with no stored embeddings.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml.datasets.faces import DetectionCache, detect_files
from ml.datasets.layout import Sample, scan
from ml.metrics import Presentations, pad_report
from ml.paths import MODELS_DIR
from ml.scoring import enrollment_mask
from webapp.face import read_image_file
from webapp.face.retinaface import RetinaFace, context_box
from webapp.liveness import LivenessEnsemble, load_ensemble
from webapp.liveness.card import EnsembleCard, EnsembleMember


@dataclass
class Scored:
    """Per-image results of one evaluation run."""

    samples: list[Sample]
    fused: np.ndarray  # NaN = no face (or not scored: enrollment reference)
    per_model: dict[str, np.ndarray]
    is_reference: np.ndarray  # used as enrollment, not a test presentation
    ms_per_face: list[float]


def select_models(ensemble: LivenessEnsemble, names: Sequence[str]) -> tuple[LivenessEnsemble, float]:
    """A sub-ensemble of ``names`` (weights as shipped) and its threshold.

    One model alone is judged at its own card's threshold; several at the ensemble threshold.
    """
    missing = [n for n in names if n not in ensemble.models]
    if missing:
        raise SystemExit(f"not in the ensemble: {', '.join(missing)}; have {', '.join(ensemble.models)}")
    members = tuple(EnsembleMember(n, ensemble.weights[n]) for n in names)
    card = EnsembleCard(name="+".join(names), version=ensemble.card.version, members=members, threshold=ensemble.threshold)
    sub = LivenessEnsemble(card, {n: ensemble.models[n] for n in names})
    threshold = ensemble.models[names[0]].card.threshold if len(names) == 1 else ensemble.threshold
    return sub, threshold


def enrollment_persons(samples: Sequence[Sample], by: str) -> np.ndarray:
    """Who enrolls and is scored together: identity clusters of the service's face encodings
    within each set (``"identity"``, see ml/datasets/identity.py) or the coarse person label
    (``"set"``: the set, or NUAA's subject)."""
    base = np.array([s.person for s in samples])
    if by == "set":
        return base
    from ml.datasets.identity import cluster_persons, encode_files

    sets = np.array([s.set_name for s in samples])
    return cluster_persons(encode_files([s.path for s in samples]), sets, base)


def score_samples(
    ensemble: LivenessEnsemble,
    samples: Sequence[Sample],
    enroll_k: int = 0,
    seed: int = 0,
    use_cache: bool = True,
    persons_by: str = "identity",
) -> Scored:
    """Run the service pipeline on every sample (enrolling references first when asked)."""
    paths = [s.path for s in samples]
    # detect_files calls the service engine's detect(); the cache only skips recomputing it.
    dets = detect_files(paths, DetectionCache(persist=use_cache))
    labels = np.array([s.label for s in samples])
    needs_refs = enroll_k > 0 and bool(ensemble.reference_models())
    persons = enrollment_persons(samples, persons_by) if needs_refs else np.array([s.person for s in samples])
    found = np.array([d.box is not None for d in dets])
    refs = np.zeros(len(samples), bool)
    references: dict[str, dict[str, np.ndarray]] = {}
    if needs_refs:
        refs = enrollment_mask(persons, labels, enroll_k, seed, eligible=found)
        for person in np.unique(persons[refs]):
            per_model: dict[str, list[np.ndarray]] = {}
            for j in np.flatnonzero(refs & (persons == person)):
                box = dets[j].box
                assert box is not None  # enrollment_mask only picks found faces
                for name, emb in ensemble.embed_references(read_image_file(str(paths[j])), box).items():
                    per_model.setdefault(name, []).append(emb)
            references[str(person)] = {k: np.stack(v) for k, v in per_model.items()}
    # Members framed on RetinaFace boxes get them as the service gives them (login/frames.py).
    context_detector = RetinaFace.load() if ensemble.needs_context else None
    fused = np.full(len(samples), np.nan)
    model_scores = {name: np.full(len(samples), np.nan) for name in ensemble.models}
    timings: list[float] = []
    for i, (sample, det) in enumerate(zip(samples, dets, strict=True)):
        if det.box is None or refs[i]:
            continue
        rgb = read_image_file(str(sample.path))
        t = time.perf_counter()
        context = context_box(context_detector, rgb, det.box) if context_detector is not None else None
        result = ensemble.score_face(rgb, det.box, references.get(str(persons[i])), context)
        timings.append((time.perf_counter() - t) * 1000.0)
        fused[i] = np.nan if result.live_score is None else result.live_score
        for name, value in result.models.items():
            model_scores[name][i] = value
    return Scored(list(samples), fused, model_scores, refs, timings)


def _presentations(scored: Scored, values: np.ndarray) -> Presentations:
    keep = ~scored.is_reference
    labels = np.array([s.label for s in scored.samples])[keep]
    species = np.array([s.species for s in scored.samples])[keep]
    return Presentations(values[keep], labels, species)


def report(scored: Scored, ensemble: LivenessEnsemble, threshold: float, reps: int = 500) -> dict[str, Any]:
    """The JSON document: fused metrics at top level, then per set and per model."""
    out = pad_report(_presentations(scored, scored.fused), threshold, reps=reps)
    sets = np.array([s.set_name for s in scored.samples])
    out["per_set"] = {}
    for name in sorted(set(sets.tolist())):
        sub = Scored(
            [s for s in scored.samples if s.set_name == name], scored.fused[sets == name], {}, scored.is_reference[sets == name], []
        )
        out["per_set"][name] = pad_report(_presentations(sub, sub.fused), threshold, reps=0)
    out["per_model"] = {}
    for name, values in scored.per_model.items():
        p = _presentations(scored, values)
        detected = np.array([not math.isnan(v) for v in scored.fused])[~scored.is_reference]
        # A model that abstained on a detected face (no references) is not judged on it.
        abstained = detected & np.isnan(p.scores)
        if abstained.all():
            out["per_model"][name] = {"abstained": int(abstained.sum())}
            continue
        out["per_model"][name] = pad_report(p.subset(~abstained), ensemble.models[name].card.threshold, reps=0)
        out["per_model"][name]["abstained"] = int(abstained.sum())
    out["n_enrollment_references"] = int(scored.is_reference.sum())
    if scored.ms_per_face:
        out["ms_per_face_median"] = float(np.median(scored.ms_per_face))
    out["models"] = ensemble.versions()
    out["weights"] = {n: ensemble.weights[n] for n in ensemble.models}
    return out


def write_scores_csv(scored: Scored, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(scored.per_model)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "set", "label", "species", "reference", "fused", *names])
        for i, s in enumerate(scored.samples):
            w.writerow(
                [
                    s.path,
                    s.set_name,
                    s.label,
                    s.species,
                    int(scored.is_reference[i]),
                    scored.fused[i],
                    *(scored.per_model[n][i] for n in names),
                ]
            )


def _pct(v: float) -> str:
    return "  n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:5.1f}"


def print_summary(doc: dict[str, Any]) -> None:
    print(
        f"live {doc['n_live']}  spoof {doc['n_spoof']}  no face {doc['n_no_face']} "
        f"(live {doc['n_no_face_live']}, spoof {doc['n_no_face_spoof']})  threshold {doc['threshold']:.4f}"
    )
    ci = doc.get("ci95", {})
    for key in ("apcer_max", "bpcer", "acer", "eer", "accuracy", "f1"):
        lo_hi = ci.get(key)
        extra = f"  [95% CI {_pct(lo_hi[0])} - {_pct(lo_hi[1])}]" if lo_hi else ""
        print(f"  {key:10s} {_pct(doc[key])} %{extra}")
    print("  APCER per species: " + ", ".join(f"{k} {_pct(v)} %" for k, v in doc["apcer"].items()))
    print(
        f"  BPCER @ APCER 1% {_pct(doc['bpcer_at_apcer_1pct'])} %, @ 5% {_pct(doc['bpcer_at_apcer_5pct'])} %; "
        f"precision {_pct(doc['precision'])} %, recall {_pct(doc['recall'])} %"
    )
    if "detected_only" in doc:
        d = doc["detected_only"]
        print(f"  detected faces only: APCER_max {_pct(d['apcer_max'])} % BPCER {_pct(d['bpcer'])} % ACER {_pct(d['acer'])} %")
    print(f"  {'set':16s} {'live':>5s} {'spoof':>5s} {'noface':>6s} {'BPCER':>6s} {'APCER':>6s} {'ACER':>6s} {'EER':>6s}")
    for name, m in doc["per_set"].items():
        print(
            f"  {name:16s} {m['n_live']:5d} {m['n_spoof']:5d} {m['n_no_face']:6d} {_pct(m['bpcer'])}  {_pct(m['apcer_max'])}  "
            f"{_pct(m['acer'])}  {_pct(m['eer'])}"
        )
    for name, m in doc["per_model"].items():
        if "bpcer" in m:
            print(
                f"  model {name}: APCER_max {_pct(m['apcer_max'])} % BPCER {_pct(m['bpcer'])} % ACER {_pct(m['acer'])} % "
                f"EER {_pct(m['eer'])} % (abstained {m['abstained']})"
            )
        else:
            print(f"  model {name}: abstained on every face (no enrollment references; try --enroll 5)")
    if "ms_per_face_median" in doc:
        print(f"  median {doc['ms_per_face_median']:.2f} ms per face (crop + all models + fusion)")


def evaluate(
    data: Path,
    models_dir: Path = MODELS_DIR,
    model_names: Sequence[str] = (),
    enroll_k: int = 0,
    threshold: float | None = None,
    reps: int = 500,
    seed: int = 0,
    plots_dir: Path | None = None,
    scores_csv: Path | None = None,
    persons_by: str = "identity",
) -> dict[str, Any]:
    """Score ``data`` with the pipeline in ``models_dir`` and return the metrics document."""
    samples = scan(data)
    if not samples:
        raise SystemExit(f"no live/ or spoof/ images under {data}")
    ensemble = load_ensemble(models_dir)
    thr = ensemble.threshold
    if model_names:
        ensemble, thr = select_models(ensemble, model_names)
    if threshold is not None:
        thr = threshold
    scored = score_samples(ensemble, samples, enroll_k=enroll_k, seed=seed, persons_by=persons_by)
    doc = report(scored, ensemble, thr, reps=reps)
    doc["data"] = str(data)
    doc["pipeline"] = "service: read_image_file -> FaceEngine.detect -> LivenessEnsemble.score_face -> threshold"
    doc["enroll_k"] = enroll_k
    doc["enroll_persons"] = persons_by if enroll_k else None
    if scores_csv:
        write_scores_csv(scored, scores_csv)
    if plots_dir:
        from ml import plots

        plots_dir.mkdir(parents=True, exist_ok=True)
        p = _presentations(scored, scored.fused)
        sc, lab, _ = p.effective_scores("reject")
        curves = {"fused (no face = reject)": (sc, lab)}
        for name, values in scored.per_model.items():
            pm = _presentations(scored, values)
            ok = ~np.isnan(pm.scores)
            if ok.any() and len(set(pm.labels[ok].tolist())) == 2:
                curves[name] = (pm.scores[ok], pm.labels[ok])
        plots.roc_det(curves, plots_dir / "roc.png", plots_dir / "det.png")
        plots.confusion(sc, lab, thr, plots_dir / "confusion.png")
    return doc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ml.evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--json", type=Path, required=True, help="write the metrics here")
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--model", action="append", default=[], help="evaluate only these ensemble members (repeatable)")
    group.add_argument("--service-pipeline", action="store_true", help="the whole shipped ensemble (the default)")
    parser.add_argument("--enroll", type=int, default=0, help="enroll K live images per person for Siamese members")
    parser.add_argument(
        "--persons",
        choices=("identity", "set"),
        default="identity",
        help="enrollment groups: identity clusters of face encodings within a set (default) or whole sets",
    )
    parser.add_argument("--threshold", type=float, help="override the card threshold")
    parser.add_argument("--bootstrap", type=int, default=500, help="bootstrap replicates for the 95%% CIs (0 = off)")
    parser.add_argument("--plots", type=Path, help="write ROC/DET/confusion PNGs here")
    parser.add_argument("--scores", type=Path, help="write per-image scores (CSV) here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    doc = evaluate(
        args.data,
        args.models_dir,
        args.model,
        args.enroll,
        args.threshold,
        args.bootstrap,
        args.seed,
        args.plots,
        args.scores,
        args.persons,
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=2, default=float) + "\n")
    print_summary(doc)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
