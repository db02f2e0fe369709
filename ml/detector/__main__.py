"""CLI: ``python -m ml.detector {export,parity,time}`` (see ml/detector/__init__.py, ml/README.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from webapp.face.retinaface import CARD_FILE, DEFAULT_DIR


def _export(args: argparse.Namespace) -> int:
    from ml.detector.export import export

    section = export(args.dir)
    print(json.dumps(section, indent=1))
    return 0


def _parity(args: argparse.Namespace) -> int:
    from ml.detector.export import write_card
    from ml.detector.parity import SHARED, accepted, card_summary, run
    from webapp.runtime.files import load_json

    report = run(args.videos or SHARED / "videos", args.pad or SHARED / "pad", args.pad_every, args.limit)
    report["accepted"] = accepted(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    if args.card:
        if args.limit is not None or args.pad_every != 1:
            raise SystemExit("--card needs the whole run (no --limit, --pad-every 1)")
        card = load_json(DEFAULT_DIR / CARD_FILE)
        card["onnx"]["parity"] = card_summary(report)
        write_card(DEFAULT_DIR / CARD_FILE, card)
    print(f"accepted: {report['accepted']}")
    return 0 if report["accepted"] else 1


def _time(args: argparse.Namespace) -> int:
    from ml.detector.timing import timings

    out = timings(args.repeat)
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ml.detector", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export", help="write retinaface.onnx and extend its card")
    ex.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    ex.set_defaults(fn=_export)
    pa = sub.add_parser("parity", help="cv2.dnn vs onnxruntime on every login frame of ../shared")
    pa.add_argument("--videos", type=Path)
    pa.add_argument("--pad", type=Path)
    pa.add_argument("--pad-every", type=int, default=1)
    pa.add_argument("--limit", type=int, help="at most this many frames per set (a quick look)")
    pa.add_argument("--json", type=Path)
    pa.add_argument("--card", action="store_true", help="write the summary into the detector card")
    pa.set_defaults(fn=_parity)
    ti = sub.add_parser("time", help="CPU per detection, cv2.dnn vs onnxruntime")
    ti.add_argument("--repeat", type=int, default=200)
    ti.add_argument("--json", type=Path)
    ti.set_defaults(fn=_time)
    args = ap.parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    raise SystemExit(main())
