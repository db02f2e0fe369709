"""Data tools: harvest faces, split by set/person, report a dataset.

    python -m ml.collect faces --src ../shared/datasets/videos/sivakumar --out data/siva/live --every 5
    python -m ml.collect faces --src photos/ --out data/mine/spoof/print
    python -m ml.collect split --data data --out runs/split --by set --val 0.2 [--link]
    python -m ml.collect report --data ../shared/datasets/pad [--detect] [--json runs/data-report.json]

``faces`` runs the service's detector and crop policy on every Nth video frame and on image
files, keeps single, sharp, well-lit faces, and writes crops with context into a live/ or spoof/
folder (see ml/datasets/harvest.py). ``split`` never cuts a source set (or a person) in two.
``report`` shows counts, sizes, compression and detector rates per set and flags leaks.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ml.datasets.harvest import HarvestConfig, harvest
from ml.datasets.layout import scan
from ml.datasets.report import data_report, format_report
from ml.datasets.split import write_split


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ml.collect", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_f = sub.add_parser("faces", help="face crops from videos and images")
    p_f.add_argument("--src", type=Path, nargs="+", required=True, help="video/image files or folders")
    p_f.add_argument("--out", type=Path, required=True, help="target folder, e.g. data/<set>/live")
    p_f.add_argument("--every", type=int, default=HarvestConfig.every, help="keep every Nth video frame")
    p_f.add_argument("--min-score", type=float, default=HarvestConfig.min_score, help="HOG detection score floor")
    p_f.add_argument("--min-face", type=int, default=HarvestConfig.min_face_px)
    p_f.add_argument("--min-sharpness", type=float, default=HarvestConfig.min_sharpness)
    p_f.add_argument("--size", type=int, default=HarvestConfig.size)
    p_f.add_argument("--scale", type=float, default=HarvestConfig.scale)
    p_f.add_argument("--max-per-source", type=int, default=HarvestConfig.max_per_source)
    p_s = sub.add_parser("split", help="train/val split by set or person")
    p_s.add_argument("--data", type=Path, required=True)
    p_s.add_argument("--out", type=Path, required=True)
    p_s.add_argument("--by", choices=("set", "person"), default="set")
    p_s.add_argument("--val", type=float, default=0.2, help="target validation fraction")
    p_s.add_argument("--seed", type=int, default=0)
    p_s.add_argument("--link", action="store_true", help="also build symlinked train/ and val/ trees")
    p_r = sub.add_parser("report", help="counts, sizes and leak flags per set")
    p_r.add_argument("--data", type=Path, required=True)
    p_r.add_argument("--detect", action="store_true", help="also run the service detector (cached)")
    p_r.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    if args.cmd == "faces":
        cfg = HarvestConfig(
            every=args.every,
            min_score=args.min_score,
            min_face_px=args.min_face,
            min_sharpness=args.min_sharpness,
            size=args.size,
            scale=args.scale,
            max_per_source=args.max_per_source,
        )
        stats = harvest(args.src, args.out, cfg)
        print(
            f"saved {stats.saved} of {stats.seen} frames/images to {args.out} (no face {stats.no_face}, "
            f"several faces {stats.several_faces}, low quality {stats.low_quality})"
        )
    elif args.cmd == "split":
        doc = write_split(scan(args.data), args.data, args.out, args.by, args.val, args.seed, args.link)
        print(f"train {doc['counts']['train']} images ({', '.join(doc['groups']['train'])})")
        print(f"val   {doc['counts']['val']} images ({', '.join(doc['groups']['val'])})")
        print(f"wrote {args.out / 'split.json'}")
    else:
        doc = data_report(scan(args.data), detect=args.detect)
        print(format_report(doc))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
