"""CLI: ``python -m ml.pretrained {convert,detect-report,evaluate}`` (see ml/README.md).

convert        Silent-Face .pth -> ONNX + cards (+ detector copy), parity-checked, no PyTorch.
parity-fixture reference outputs on real crops for the ONNX parity test.
detect-report  face found rate and CPU ms of the service's HOG vs RetinaFace, per set and class.
evaluate       frozen MiniFASNet pair on the shared sets (per set, pooled) + attempt-level videos/NUAA.
finetune       frozen vs calibrated vs fused vs retrained heads, leave-one-group-out, frame and attempt level.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ml.paths import REPO_ROOT, SHARED_PAD

SHARED_PRETRAINED = REPO_ROOT.parent / "shared" / "pretrained" / "silent-face"
SHARED_VIDEOS = SHARED_PAD.parent / "videos"


def _convert(args: argparse.Namespace) -> None:
    from ml.pretrained.convert import convert_all

    card_metrics = None
    if args.metrics:
        from ml.pretrained.study import card_metrics as to_card_metrics

        card_metrics = to_card_metrics([json.loads(p.read_text()) for p in args.metrics])
    cards = convert_all(args.src, args.out, card_metrics, None if args.no_detector else args.detector_out)
    for card in cards:
        conv = card["training"]["converted"]
        print(
            f"{card['name']}: {card['file']} {card['size_bytes']} bytes, {conv['parameters']} parameters, "
            f"parity {conv['onnx_parity_max_abs_diff']:.1e}, sha256 {card['sha256'][:16]}"
        )


def _parity_fixture(args: argparse.Namespace) -> None:
    from ml.pretrained.convert import write_parity_fixture

    doc = write_parity_fixture(args.src, args.photos, args.out)
    print(f"{args.out}: {len(doc['photos'])} photos")


def _detect_report(args: argparse.Namespace) -> None:
    from ml.pretrained.study import detect_report

    detect_report(args.data, args.json, videos=args.videos, limit=args.limit)


def _evaluate(args: argparse.Namespace) -> None:
    from ml.pretrained.study import evaluate

    evaluate(args.data, args.json, videos=args.videos, limit=args.limit, min_confidence=args.min_confidence)


def _finetune(args: argparse.Namespace) -> None:
    from ml.pretrained.finetune import study, summarize
    from ml.strict_json import finite

    doc = study(args.src, args.data, args.videos, args.folds)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(finite(doc), indent=1, default=str))
    summarize(doc)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ml.pretrained", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("convert", help="convert the Silent-Face weights to ONNX + cards")
    p.add_argument("--src", type=Path, default=SHARED_PRETRAINED)
    p.add_argument("--out", type=Path, default=REPO_ROOT / "webapp" / "assets" / "models")
    p.add_argument("--detector-out", type=Path, default=REPO_ROOT / "webapp" / "assets" / "detector")
    p.add_argument("--no-detector", action="store_true", help="do not copy the RetinaFace files")
    p.add_argument("--metrics", type=Path, nargs="+", help="JSON written by `evaluate` and `detect-report`, put into the cards")
    p.set_defaults(func=_convert)

    p = sub.add_parser("parity-fixture", help="reference outputs on real crops for tests/ml/test_pretrained_parity.py")
    p.add_argument("--src", type=Path, default=SHARED_PRETRAINED)
    p.add_argument("--photos", type=Path, default=REPO_ROOT / ".cache" / "test-data" / "face_recognition-1.3.0-test_images")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "tests" / "fixtures" / "minifasnet_parity.json")
    p.set_defaults(func=_parity_fixture)

    for name, func, default_json in (
        ("detect-report", _detect_report, "runs/detector.json"),
        ("evaluate", _evaluate, "runs/minifasnet-frozen.json"),
    ):
        p = sub.add_parser(name)
        p.add_argument("--data", type=Path, default=SHARED_PAD)
        p.add_argument("--json", type=Path, default=REPO_ROOT / default_json)
        p.add_argument("--videos", type=Path, default=SHARED_VIDEOS)
        p.add_argument("--limit", type=int, default=0, help="at most this many images per set and class (0 = all)")
        if name == "evaluate":
            p.add_argument("--min-confidence", type=float, default=None, help="RetinaFace floor (default: the detector card's)")
        p.set_defaults(func=func)

    p = sub.add_parser("finetune", help="LOSO comparison of frozen, calibrated, fused and fine-tuned heads")
    p.add_argument("--src", type=Path, default=SHARED_PRETRAINED)
    p.add_argument("--data", type=Path, default=SHARED_PAD)
    p.add_argument("--videos", type=Path, default=SHARED_VIDEOS)
    p.add_argument("--json", type=Path, default=REPO_ROOT / "runs" / "minifasnet-finetune.json")
    p.add_argument("--folds", nargs="+", help="only these held-out folds (quick runs)")
    p.set_defaults(func=_finetune)

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
