"""Train a liveness model on service-path face crops, validate by SET, plot, export ONNX + card.

    python -m ml.train --model livenessnet --data ../shared/datasets/pad --val-fold sivakumar --val-fold small
    python -m ml.train --model dsnet --data ../shared/datasets/pad --epochs 12 --threshold 0.42 --no-val

Validation is always a set of whole *sets* (sources), never random frames: each crop set is a
few people from one session, so a random split would validate on near-copies of the training
frames. Each epoch draws a class- and set-balanced sample (ml/sampling.py), adds synthetic
spoofs made from live crops and applies the both-class nuisance augmentation; the best epoch by
validation EER is kept (early stopping). The decision threshold is the validation EER point
unless one is given (the shipped models take theirs from leave-one-set-out scores, ml/loso.py).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ml.datasets.arrays import LabelledCrops, load_roots
from ml.metrics import Presentations, eer, point_metrics
from ml.models import ModelSpec, get_spec
from ml.paths import RUNS_DIR
from ml.sampling import AugmentConfig, augmented_epoch, epoch_indices, siamese_pairs
from ml.scoring import calibrated, eer_of, enrollment_distances, enrollment_mask, fit_calibration, live_scores
from webapp.face import CropSpec

# What no model trained on ../shared/datasets/pad has seen; copied into every card.
DATA_LIMITS = [
    "No mask, cut-out, makeup or deepfake attacks in the training data: only prints (mostly NUAA) and screen/phone replays.",
    "Trained on ~25 small webcam sources of a few people each; other ages, skin tones, cameras and lighting are under-represented.",
    "Scores are per frame; the service averages frames and adds active challenges, which no single-frame model replaces.",
]


@dataclass
class TrainConfig:
    """Everything that determines a training run (stored in the run folder and the card)."""

    model: str
    data: tuple[Path, ...]
    out: Path
    val_sets: tuple[str, ...] = ()
    val_folds: tuple[str, ...] = ()
    exclude_sets: tuple[str, ...] = ()  # sets never used (the held-out fold of a LOSO run)
    epochs: int = 20
    epoch_size: int = 4096
    batch_size: int = 64
    lr: float = 2e-3
    patience: int = 6
    seed: int = 1
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    use_fallback: bool = True  # train on HOG-missed tight crops framed by faces.fallback_box
    crop_scale: float | None = None  # override the family's crop framing (x the HOG box)
    threshold: float | None = None  # fixed decision threshold (else the validation EER point)
    calibration: dict[str, float] | None = None  # siamese, when there is no validation set
    enroll_k: int = 5  # siamese: enrollment references per person in validation
    export_dir: Path | None = None  # write <name>.onnx + <name>.json here
    name: str | None = None
    plots: bool = True
    threads: int = 2

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["data"] = [str(p) for p in self.data]
        d["out"] = str(self.out)
        d["export_dir"] = str(self.export_dir) if self.export_dir else None
        return d


@dataclass
class TrainResult:
    model: Any  # the Keras model to export (for siamese: the twin)
    spec: ModelSpec
    history: dict[str, list[float]]
    best_epoch: int
    threshold: float
    calibration: dict[str, float] | None
    val_metrics: dict[str, Any] | None
    minutes: float
    train_sets: list[str]
    val_sets: list[str]
    n_train: dict[str, int]
    onnx_path: Path | None = None


def split(data: LabelledCrops, cfg: TrainConfig) -> tuple[LabelledCrops, LabelledCrops | None]:
    """(train, validation) by whole sets; excluded sets are dropped from both."""
    keep = ~np.isin(data.sets, cfg.exclude_sets)
    val_mask = keep & (np.isin(data.sets, cfg.val_sets) | np.isin(data.folds, cfg.val_folds))
    train_mask = keep & ~val_mask & data.usable
    if not (train_mask & (data.labels == 0)).any() or not (train_mask & (data.labels == 1)).any():
        raise SystemExit("training data needs both live and spoof images")
    val = data.subset(val_mask) if val_mask.any() else None
    return data.subset(train_mask), val


def _val_scores_siamese(twin: Any, val: LabelledCrops, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(min distance to own enrollment, reference mask) on found validation crops."""
    refs = enrollment_mask(val.persons, val.labels, k, seed, eligible=val.found)
    return enrollment_distances(twin, val.crops, val.found, val.persons, refs), refs


def _fit_epochs(
    cfg: TrainConfig, spec: ModelSpec, train: LabelledCrops, val: LabelledCrops | None
) -> tuple[Any, Any, dict[str, list[float]], int]:
    """The epoch loop shared by both kinds; returns (fitted model, exported model, history, best epoch)."""
    import keras

    from ml.models.siamese import contrastive_loss

    rng = np.random.default_rng(cfg.seed)
    # Images per epoch: classifier draws plus synthetic spoofs and their balancing live draws
    # (ml/sampling.py); Siamese: one pair per draw. The LR decays over exactly the run.
    per_epoch = cfg.epoch_size if spec.kind == "siamese" else cfg.epoch_size * (1 + cfg.augment.synth_spoof)
    steps = cfg.epochs * int(np.ceil(per_epoch / cfg.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(cfg.lr, decay_steps=max(1, steps), alpha=0.05)
    if spec.kind == "siamese":
        model, exported = spec.build()  # type: ignore[misc]
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss=contrastive_loss())
    else:
        model = exported = spec.build()
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="binary_crossentropy", metrics=["accuracy"])
    history: dict[str, list[float]] = {}
    best = (np.inf, -1)
    best_weights = None
    for epoch in range(cfg.epochs):
        if spec.kind == "siamese":
            a, b, y = siamese_pairs(train, cfg.epoch_size, rng, cfg.augment)
            h = model.fit([a, b], y, batch_size=cfg.batch_size, epochs=1, verbose=0, shuffle=False)
        else:
            x, y = augmented_epoch(train, epoch_indices(train, cfg.epoch_size, rng), rng, cfg.augment)
            perm = rng.permutation(len(y))
            h = model.fit(x[perm], y[perm], batch_size=cfg.batch_size, epochs=1, verbose=0, shuffle=False)
        for k, v in h.history.items():
            history.setdefault(k, []).append(float(v[-1]))
        line = f"epoch {epoch + 1}/{cfg.epochs} loss {history['loss'][-1]:.4f}"
        if val is not None:
            if spec.kind == "siamese":
                dist, _ = _val_scores_siamese(exported, val, cfg.enroll_k, cfg.seed)
                val_eer = eer_of(-dist, val.labels)
            else:
                val_eer = eer_of(live_scores(exported, val.crops, val.found), val.labels)
            history.setdefault("val_eer", []).append(val_eer)
            line += f" val_eer {val_eer:.4f}"
            if np.isfinite(val_eer) and val_eer < best[0] - 1e-4:
                best = (val_eer, epoch)
                best_weights = model.get_weights()
            elif epoch - best[1] >= cfg.patience:
                print(line + " (early stop)", flush=True)
                break
        print(line, flush=True)
    if best_weights is not None:
        model.set_weights(best_weights)
    best_epoch = best[1] + 1 if best[1] >= 0 else len(history["loss"])
    return model, exported, history, best_epoch


def train(cfg: TrainConfig, data: LabelledCrops | None = None) -> TrainResult:
    """Run one training as configured; export ONNX + card when ``cfg.export_dir`` is set."""
    from ml.tfsetup import setup

    setup(cfg.seed, cfg.threads)
    t0 = time.time()
    spec = get_spec(cfg.model, cfg.crop_scale)
    crop_spec = CropSpec(spec.input_size, spec.crop_scale)
    if data is None:
        # Siamese pairs and enrollment need real identities, not source sets (callers passing
        # their own data for a Siamese model load it with identity=True too).
        data = load_roots(cfg.data, crop_spec, use_fallback=cfg.use_fallback, identity=spec.kind == "siamese")
    if data.crops.shape[1] != spec.input_size:
        raise ValueError(f"{spec.name} needs {spec.input_size}px crops, got {data.crops.shape[1]}px")
    train_data, val = split(data, cfg)
    print(
        f"{spec.name}: train {len(train_data)} crops from {len(set(train_data.sets.tolist()))} sets; "
        f"validation {0 if val is None else len(val)} from {sorted(set(val.sets.tolist())) if val is not None else []}",
        flush=True,
    )
    _, exported, history, best_epoch = _fit_epochs(cfg, spec, train_data, val)

    calibration = cfg.calibration
    threshold = cfg.threshold
    val_metrics = None
    scores = None
    if val is not None:
        if spec.kind == "siamese":
            dist, refs = _val_scores_siamese(exported, val, cfg.enroll_k, cfg.seed)
            calibration = calibration or fit_calibration(dist, val.labels)
            scores = calibrated(dist, calibration)
            # References are enrollment, not test presentations; people with too few live
            # images have no references, so nothing to compare with (found but NaN).
            probe = ~refs & ~(np.isnan(dist) & val.found)
            p = Presentations(scores[probe], val.labels[probe], val.species[probe])
        else:
            scores = live_scores(exported, val.crops, val.found)
            p = Presentations(scores, val.labels, val.species)
        if threshold is None:
            ok = ~p.no_face
            threshold = eer(p.scores[ok], p.labels[ok])[1]
        val_metrics = point_metrics(p, threshold, "reject")
        val_metrics["n_no_face"] = int(p.no_face.sum())
        val_metrics["sets"] = sorted(set(val.sets.tolist()))
    if threshold is None:
        threshold = 0.5
    minutes = (time.time() - t0) / 60.0
    n_train = {"live": int((train_data.labels == 1).sum()), "spoof": int((train_data.labels == 0).sum())}
    result = TrainResult(
        exported,
        spec,
        history,
        best_epoch,
        float(threshold),
        calibration,
        val_metrics,
        minutes,
        sorted(set(train_data.sets.tolist())),
        sorted(set(val.sets.tolist())) if val is not None else [],
        n_train,
    )
    _write_outputs(cfg, result, val, scores)
    return result


def _write_outputs(cfg: TrainConfig, result: TrainResult, val: LabelledCrops | None, scores: np.ndarray | None) -> None:
    """Run folder: config, history, metrics, plots, Keras model; then ONNX + card if asked."""
    from ml import plots

    out = cfg.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(cfg.to_json(), indent=2))
    (out / "history.json").write_text(json.dumps(result.history, indent=2))
    summary = {
        "threshold": result.threshold,
        "best_epoch": result.best_epoch,
        "minutes": result.minutes,
        "calibration": result.calibration,
        "validation": result.val_metrics,
    }
    (out / "metrics.json").write_text(json.dumps(summary, indent=2, default=float))
    result.model.save(out / "model.keras")
    if cfg.plots:
        plots.learning_curves(result.history, out / "curves.png")
        if val is not None and scores is not None:
            ok = np.isfinite(scores)
            plots.confusion(scores[ok], val.labels[ok], result.threshold, out / "confusion.png")
            plots.roc_det({"validation": (scores[ok], val.labels[ok])}, out / "roc.png", out / "det.png")
    if cfg.export_dir is not None:
        from ml.export import export_model

        parity = val.crops[val.found][:64] if val is not None else None
        training = {
            "data": [Path(p).name for p in cfg.data],
            "train_sets": result.train_sets,
            "validation_sets": result.val_sets,
            "n_train_images": result.n_train,
            "epochs_run": len(result.history["loss"]),
            "best_epoch": result.best_epoch,
            "minutes_on_2_cores": round(result.minutes, 2),
            "seed": cfg.seed,
            "augment": asdict(cfg.augment),
            "split": "by set (whole sources), never by frame",
        }
        metrics = {"validation": result.val_metrics} if result.val_metrics else {}
        onnx_path, _, _ = export_model(
            result.model,
            result.spec,
            cfg.export_dir,
            cfg.name or result.spec.name,
            result.threshold,
            parity,
            metrics=metrics,
            training=training,
            limits=list(DATA_LIMITS),
            calibration=result.calibration,
        )
        result.onnx_path = onnx_path


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    parser = argparse.ArgumentParser(prog="python -m ml.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="livenessnet | dsnet | siamese")
    parser.add_argument("--data", type=Path, action="append", required=True, help="root(s) of live/ spoof/ trees")
    parser.add_argument("--out", type=Path, help="run folder (default runs/<model>-<time>)")
    parser.add_argument("--val-set", action="append", default=[], help="set held out for validation (repeatable)")
    parser.add_argument("--val-fold", action="append", default=[], help="LOSO fold held out for validation (ml.datasets.layout.PAD_FOLDS)")
    parser.add_argument("--no-val", action="store_true", help="train on everything (needs --threshold; fixed --epochs)")
    parser.add_argument("--exclude-set", action="append", default=[])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--epoch-size", type=int, default=4096, help="balanced draws per epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--patience", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--synth-spoof", type=float, default=0.25, help="synthetic spoofs per live draw (0 = off)")
    parser.add_argument("--nuisance", type=float, default=1.0, help="both-class augmentation strength (0 = off)")
    parser.add_argument("--no-fallback", action="store_true", help="train only on crops the HOG detector finds")
    parser.add_argument("--crop-scale", type=float, help="crop framing x the HOG box (default: the family's)")
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--calibration", nargs=2, type=float, metavar=("A", "B"))
    parser.add_argument("--export", type=Path, help="write ONNX + model card into this folder")
    parser.add_argument("--name", help="model name in the card (default: the model family)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if not args.no_val and not args.val_set and not args.val_fold:
        parser.error("give --val-set/--val-fold (validation by set) or --no-val")
    if args.no_val and args.threshold is None:
        parser.error("--no-val needs --threshold (e.g. from python -m ml.loso)")
    out = args.out or RUNS_DIR / f"{args.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    return TrainConfig(
        model=args.model,
        data=tuple(args.data),
        out=out,
        val_sets=tuple(args.val_set),
        val_folds=tuple(args.val_fold),
        exclude_sets=tuple(args.exclude_set),
        epochs=args.epochs,
        epoch_size=args.epoch_size,
        batch_size=args.batch_size,
        lr=args.lr,
        patience=args.patience if not args.no_val else args.epochs,
        seed=args.seed,
        augment=AugmentConfig(args.synth_spoof, args.nuisance),
        use_fallback=not args.no_fallback,
        crop_scale=args.crop_scale,
        threshold=args.threshold,
        calibration=dict(zip("ab", args.calibration, strict=True)) if args.calibration else None,
        export_dir=args.export,
        name=args.name,
        threads=args.threads,
    )


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    result = train(cfg)
    print(f"done in {result.minutes:.1f} min; best epoch {result.best_epoch}; threshold {result.threshold:.4f}; run folder {cfg.out}")
    if result.val_metrics:
        m = result.val_metrics
        print(
            f"validation ({', '.join(result.val_sets)}): APCER_max {m['apcer_max']:.3f} BPCER {m['bpcer']:.3f} "
            f"ACER {m['acer']:.3f} EER {m['eer']:.3f} accuracy {m['accuracy']:.3f} F1 {m['f1']:.3f}"
        )
    if result.onnx_path:
        print(f"exported {result.onnx_path}")


if __name__ == "__main__":
    main()
