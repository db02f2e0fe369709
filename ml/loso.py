"""Leave-one-set-out cross-validation: the figure that says how a model does on a source it never saw.

    python -m ml.loso run --model livenessnet --data ../shared/datasets/pad --out runs/loso/livenessnet
    python -m ml.loso report --runs runs/loso/livenessnet runs/loso/dsnet --fuse --markdown runs/loso/table.md

``run`` trains one model per fold of :data:`ml.datasets.layout.PAD_FOLDS` (sets sharing frames
are one fold; tiny sets are pooled), with the held-out fold's sets excluded entirely, for a
fixed number of epochs (no inner validation to early-stop on: on these small sets a single
validation source mostly picks a lucky epoch). It then scores the held-out fold through the
service crop path (HOG face, ``crop_face``; no face = NaN) and writes out-of-fold scores.

``report`` turns out-of-fold scores into per-held-out-set APCER/BPCER/ACER/EER. Nothing is tuned
on the set it is reported for: each fold's threshold (and the Siamese calibration and the fusion
weights) is fitted on the OTHER folds' out-of-fold scores ("leave-fold-out threshold").
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml.datasets.arrays import LabelledCrops, load_roots
from ml.datasets.layout import PAD_FOLDS, session_of
from ml.metrics import Presentations, eer, point_metrics
from ml.models import get_spec
from ml.sampling import AugmentConfig
from ml.scoring import calibrated, enrollment_distances, enrollment_mask, fit_calibration, live_scores, same_session_probes
from webapp.face import CropSpec

ENROLL_K = 5


def run(
    model: str,
    data: list[Path],
    out: Path,
    folds: list[str] | None = None,
    epochs: int = 12,
    epoch_size: int = 4096,
    augment: AugmentConfig | None = None,
    seed: int = 1,
    use_fallback: bool = True,
    threads: int = 2,
    crop_scale: float | None = None,
) -> Path:
    """Train and score every fold; returns the out-of-fold scores CSV."""
    from ml.train import TrainConfig, train  # TensorFlow is needed to train, not to report

    spec = get_spec(model, crop_scale)
    # A Siamese model enrolls and is scored per identity cluster.
    all_data = load_roots(data, CropSpec(spec.input_size, spec.crop_scale), use_fallback=True, identity=spec.kind == "siamese")
    present = set(all_data.folds.tolist())
    fold_names = [f for f in (folds or list(PAD_FOLDS) + sorted(present - set(PAD_FOLDS))) if f in present]
    out.mkdir(parents=True, exist_ok=True)
    rows_path = out / "scores.csv"
    done = _done_folds(rows_path)
    for fold in fold_names:
        if fold in done:
            print(f"[{model}] fold {fold}: already scored, skipping", flush=True)
            continue
        held = all_data.folds == fold
        held_sets = tuple(sorted(set(all_data.sets[held].tolist())))
        t0 = time.time()
        cfg = TrainConfig(
            model=model,
            data=tuple(data),
            out=out / f"fold-{fold}",
            exclude_sets=held_sets,
            epochs=epochs,
            epoch_size=epoch_size,
            patience=epochs,
            seed=seed,
            augment=augment or AugmentConfig(),
            use_fallback=use_fallback,
            crop_scale=crop_scale,
            plots=False,
            threads=threads,
        )
        # The fold's own data never reaches training (exclude_sets); HOG-missed crops of the
        # other folds are kept or dropped as configured.
        train_pool = all_data if use_fallback else all_data.subset(all_data.found | held)
        result = train(cfg, data=train_pool)
        test = all_data.subset(held)
        _append_scores(rows_path, fold, test, result.model, spec.kind, seed)
        print(f"[{model}] fold {fold} ({', '.join(held_sets)}): {(time.time() - t0) / 60:.1f} min", flush=True)
    meta = {
        "model": model,
        "epochs": epochs,
        "epoch_size": epoch_size,
        "augment": (augment or AugmentConfig()).__dict__,
        "seed": seed,
        "use_fallback": use_fallback,
        "crop_scale": spec.crop_scale,
        "kind": spec.kind,
        "folds": fold_names,
    }
    (out / "loso.json").write_text(json.dumps(meta, indent=2))
    return rows_path


def _done_folds(path: Path) -> set[str]:
    if not path.exists():
        return set()
    with open(path) as fh:
        return {row["fold"] for row in csv.DictReader(fh)}


def _append_scores(path: Path, fold: str, test: LabelledCrops, model: Any, kind: str, seed: int) -> None:
    """Out-of-fold rows: classifier P(live), or Siamese distance to own enrollment (``value``)."""
    value = np.full(len(test), np.nan)
    refs = np.zeros(len(test), bool)
    f = test.found
    excluded = np.zeros(len(test), bool)
    if kind == "siamese":
        sessions = np.array([session_of(str(s), Path(p)) for s, p in zip(test.sets, test.paths, strict=True)])
        refs = enrollment_mask(test.persons, test.labels, ENROLL_K, seed, eligible=f, sessions=sessions)
        excluded = same_session_probes(test.persons, test.labels, sessions, refs)
        value = enrollment_distances(model, test.crops, f, test.persons, refs)
    else:
        value = live_scores(model, test.crops, f)
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        w = csv.writer(fh)
        if new:
            w.writerow(["fold", "set", "path", "label", "species", "person", "found", "reference", "value"])
        for i in range(len(test)):
            w.writerow(
                [
                    fold,
                    test.sets[i],
                    test.paths[i],
                    int(test.labels[i]),
                    test.species[i],
                    test.persons[i],
                    int(test.found[i]),
                    2 if excluded[i] else int(refs[i]),
                    value[i],
                ]
            )


# ---------------------------------------------------------------------------------------------
# report


@dataclass
class OOF:
    """Out-of-fold results of one model, aligned by image path across models."""

    name: str
    kind: str
    rows: dict[str, dict[str, str]]  # path -> csv row


def read_oof(run_dir: Path) -> OOF:
    meta = json.loads((run_dir / "loso.json").read_text())
    with open(run_dir / "scores.csv") as fh:
        rows = {r["path"]: r for r in csv.DictReader(fh)}
    return OOF(run_dir.name, meta.get("kind") or get_spec(meta["model"]).kind, rows)


@dataclass
class Table:
    """Aligned out-of-fold arrays for every image scored by all models (references excluded)."""

    paths: np.ndarray
    folds: np.ndarray
    sets: np.ndarray
    labels: np.ndarray
    species: np.ndarray
    found: np.ndarray
    values: dict[str, np.ndarray]  # model -> P(live) (classifier) or distance (siamese), NaN = none
    kinds: dict[str, str]


def align(oofs: list[OOF]) -> Table:
    paths = sorted(set.intersection(*(set(o.rows) for o in oofs)))
    # An enrollment reference of the Siamese model (reference 1) is not a test presentation, and
    # nor is a live frame from the enrollment session when its person has later ones (2).
    paths = [p for p in paths if not any(o.rows[p]["reference"] != "0" for o in oofs)]
    first = oofs[0].rows
    col = lambda key: np.array([first[p][key] for p in paths])  # noqa: E731
    return Table(
        paths=np.array(paths),
        folds=col("fold"),
        sets=col("set"),
        labels=col("label").astype(int),
        species=col("species"),
        found=col("found").astype(int).astype(bool),
        values={o.name: np.array([float(o.rows[p]["value"]) for p in paths]) for o in oofs},
        kinds={o.name: o.kind for o in oofs},
    )


def live_probabilities(t: Table, fit_mask: np.ndarray, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Per model P(live) (of ``names``, default all): classifiers as is, Siamese distances
    calibrated on ``fit_mask`` rows."""
    out = {}
    for name, v in t.values.items():
        if names is not None and name not in names:
            continue
        if t.kinds[name] == "siamese":
            ok = fit_mask & np.isfinite(v)
            out[name] = calibrated(v, fit_calibration(v[ok], t.labels[ok]))
        else:
            out[name] = v
    return out


def fuse(probs: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """The service's fusion (LivenessEnsemble.fuse): weighted mean over the models that scored."""
    num = np.zeros(len(next(iter(probs.values()))))
    den = np.zeros_like(num)
    for name, w in weights.items():
        v = probs[name]
        ok = np.isfinite(v)
        num[ok] += w * v[ok]
        den[ok] += w
    with np.errstate(invalid="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1e-12), np.nan)


def weight_grid(names: list[str], step: float = 0.1) -> list[dict[str, float]]:
    """All weightings on the simplex with the given step (each model's weight a multiple of it)."""
    n = round(1 / step)
    grids: list[dict[str, float]] = []

    def rec(i: int, left: int, acc: list[int]) -> None:
        if i == len(names) - 1:
            grids.append({k: round(v * step, 4) for k, v in zip(names, [*acc, left], strict=True)})
            return
        for k in range(left + 1):
            rec(i + 1, left - k, [*acc, k])

    rec(0, n, [])
    return [g for g in grids if sum(g.values()) > 0]


def choose_fusion(
    probs: dict[str, np.ndarray], labels: np.ndarray, fit_mask: np.ndarray, names: list[str], fixed: dict[str, float] | None = None
) -> tuple[dict[str, float], float]:
    """Weights minimising the pooled EER on ``fit_mask`` rows (or ``fixed`` ones), and their EER threshold."""
    best: tuple[float, dict[str, float], float] = (np.inf, {}, 0.5)
    candidates = [fixed] if fixed else (weight_grid(names) if len(names) > 1 else [{names[0]: 1.0}])
    for w in candidates:
        fused = fuse(probs, {k: v for k, v in w.items() if v > 0})
        ok = fit_mask & np.isfinite(fused)
        e, thr = eer(fused[ok], labels[ok])
        if e < best[0] - 1e-9 or not best[1]:
            best = (e, w, thr)
    return best[1], best[2]


def leave_fold_out_scores(
    t: Table, names: list[str], fixed_weights: dict[str, float] | None = None
) -> tuple[np.ndarray, dict[str, float], dict[str, dict[str, float]]]:
    """Fused scores where every fold's calibration, weights and threshold come from the other folds.

    Returns (fused scores, threshold per fold, weights per fold). The per-fold threshold is what
    the held-out fold is judged at.
    """
    fused = np.full(len(t.paths), np.nan)
    thresholds: dict[str, float] = {}
    weights: dict[str, dict[str, float]] = {}
    for fold in sorted(set(t.folds.tolist())):
        test = t.folds == fold
        fit = ~test & t.found
        probs = live_probabilities(t, fit, names)  # only the fused models need calibrating
        w, thr = choose_fusion(probs, t.labels, fit, names, fixed_weights)
        fused[test] = fuse(probs, {k: v for k, v in w.items() if v > 0})[test]
        thresholds[fold], weights[fold] = thr, w
    fused[~t.found] = np.nan
    return fused, thresholds, weights


def per_set_table(t: Table, fused: np.ndarray, thresholds: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Per held-out set metrics at the fold's leave-fold-out threshold (no face = rejected).

    A found face without a score (the Siamese model alone, for a person with too few live
    images to enroll) is not a presentation of that model: it is left out, not rejected.
    """
    keep = ~(t.found & np.isnan(fused))
    out: dict[str, dict[str, Any]] = {}
    for s in sorted(set(t.sets.tolist())):
        m = (t.sets == s) & keep
        if not m.any():
            continue
        fold = str(t.folds[m][0])
        p = Presentations(fused[m], t.labels[m], t.species[m])
        r = point_metrics(p, thresholds[fold], "reject")
        r["fold"] = fold
        r["n_no_face"] = int(p.no_face.sum())
        r["eer_detected"] = _detected_eer(p)
        out[s] = r
    # Pooled: every image judged at its own fold's threshold (equivalent to shifting scores).
    shifted = fused - np.array([thresholds[f] for f in t.folds]) + 0.5
    for name, m in (("all (pooled)", keep), ("all, detected faces only", keep & t.found)):
        p = Presentations(shifted[m], t.labels[m], t.species[m])
        r = point_metrics(p, 0.5, "reject")
        r["fold"] = "all"
        r["n_no_face"] = int(np.isnan(shifted[m]).sum())
        r["eer_detected"] = _detected_eer(p)
        r.pop("threshold")
        r.pop("eer_threshold")
        out[name] = r
    return out


def _detected_eer(p: Presentations) -> float:
    """EER over the faces the detector found: what the model separates, whatever HOG misses.

    With no face counted as a rejection, a set where HOG misses most crops has an "EER" fixed by
    its miss rates, the same for every model; this one is the model's own.
    """
    return eer(p.scores[~p.no_face], p.labels[~p.no_face])[0]


def markdown(table: dict[str, dict[str, Any]], title: str) -> str:
    pct = lambda v: "n/a" if v is None or np.isnan(v) else f"{100 * v:.1f}"  # noqa: E731
    lines = [
        f"**{title}**",
        "",
        "| held-out set | fold | n live | n spoof | no face | BPCER | APCER max | ACER | EER | EER detected |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s, r in table.items():
        lines.append(
            f"| {s} | {r['fold']} | {r['n_live']} | {r['n_spoof']} | {r['n_no_face']} | {pct(r['bpcer'])} | "
            f"{pct(r['apcer_max'])} | {pct(r['acer'])} | {pct(r['eer'])} | {pct(r['eer_detected'])} |"
        )
    return "\n".join(lines) + "\n"


def report(run_dirs: list[Path], fuse_models: bool, weights: dict[str, float] | None = None) -> dict[str, Any]:
    """Per-set tables for each model alone and (optionally) for the fusion of all of them."""
    oofs = [read_oof(d) for d in run_dirs]
    t = align(oofs)
    out: dict[str, Any] = {"models": {}, "n_images": len(t.paths)}
    probs_all = live_probabilities(t, t.found)
    for o in oofs:
        fused, thr, _ = leave_fold_out_scores(t, [o.name], {o.name: 1.0})
        entry: dict[str, Any] = {"per_set": per_set_table(t, fused, thr), "thresholds": thr}
        # What the shipped model (trained on every fold) takes: the EER threshold over all
        # out-of-fold scores, and for a Siamese model the calibration fitted on them.
        entry["threshold_all_folds"] = choose_fusion(probs_all, t.labels, t.found, [o.name], {o.name: 1.0})[1]
        if o.kind == "siamese":
            v = t.values[o.name]
            ok = t.found & np.isfinite(v)
            entry["calibration_all_folds"] = fit_calibration(v[ok], t.labels[ok])
        out["models"][o.name] = entry
    if fuse_models and len(oofs) > 1:
        names = [o.name for o in oofs]
        fused, thr, w = leave_fold_out_scores(t, names, weights)
        out["fusion"] = {"per_set": per_set_table(t, fused, thr), "thresholds": thr, "weights_per_fold": w}
        full_w, full_thr = choose_fusion(probs_all, t.labels, t.found, names, weights)
        out["fusion"]["weights_all_folds"] = full_w
        out["fusion"]["threshold_all_folds"] = full_thr
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ml.loso", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_run = sub.add_parser("run")
    p_run.add_argument("--model", required=True)
    p_run.add_argument("--data", type=Path, action="append", required=True)
    p_run.add_argument("--out", type=Path, required=True)
    p_run.add_argument("--fold", action="append", help="only these folds")
    p_run.add_argument("--epochs", type=int, default=12)
    p_run.add_argument("--epoch-size", type=int, default=4096)
    p_run.add_argument("--synth-spoof", type=float, default=0.25)
    p_run.add_argument("--nuisance", type=float, default=1.0)
    p_run.add_argument("--no-fallback", action="store_true")
    p_run.add_argument("--crop-scale", type=float, help="crop framing x the HOG box (default: the family's)")
    p_run.add_argument("--threads", type=int, default=2)
    p_run.add_argument("--seed", type=int, default=1)
    p_rep = sub.add_parser("report")
    p_rep.add_argument("--runs", type=Path, nargs="+", required=True)
    p_rep.add_argument("--fuse", action="store_true", help="also the fusion of all given runs")
    p_rep.add_argument("--json", type=Path)
    p_rep.add_argument("--markdown", type=Path)
    args = parser.parse_args(argv)
    if args.cmd == "run":
        path = run(
            args.model,
            args.data,
            args.out,
            args.fold,
            args.epochs,
            args.epoch_size,
            AugmentConfig(args.synth_spoof, args.nuisance),
            args.seed,
            not args.no_fallback,
            args.threads,
            args.crop_scale,
        )
        print(f"out-of-fold scores: {path}")
        return
    doc = report(args.runs, args.fuse)
    md = [markdown(r["per_set"], f"{name} alone") for name, r in doc["models"].items()]
    if "fusion" in doc:
        md.append(markdown(doc["fusion"]["per_set"], f"fusion, weights {doc['fusion']['weights_all_folds']}"))
    text = "\n".join(md)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2, default=float))
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
