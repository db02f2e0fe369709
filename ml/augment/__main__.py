"""CLI: ``python -m ml.augment sheet|spoofify``.

``sheet`` renders a contact sheet of every augmentation (from the synthetic test face by
default; from a folder of face images with ``--src``, for local inspection under ``runs/``).
``spoofify`` writes synthetic spoofs of a folder of live faces (``--kind`` picks the species),
to stress-test a model with ``python -m ml.evaluate``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from ml.augment.sheet import contact_sheet, synthetic_face
from ml.augment.synth import SPOOF_KINDS, make_spoof
from ml.datasets.layout import IMAGE_SUFFIXES
from webapp.face import CropSpec, FaceEngine, crop_face, read_image_file


def _faces_from(folder: Path, size: int, limit: int) -> list[np.ndarray]:
    """Service-path crops of the first ``limit`` images under ``folder`` that have a face."""
    faces = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        rgb = read_image_file(str(path))
        boxes = FaceEngine().detect(rgb)
        if boxes:
            faces.append(crop_face(rgb, boxes[0], CropSpec(size, 1.0)))
        if len(faces) >= limit:
            break
    return faces


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")


def sheet(out: Path, src: Path | None, size: int, rows: int, seed: int, tile: int) -> Path:
    """Write a contact sheet PNG and return its path."""
    faces = _faces_from(src, size, rows) if src else [synthetic_face(256, seed=i) for i in range(rows)]
    faces = [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in faces]
    if not faces:
        raise SystemExit(f"no face found under {src}")
    write_rgb(out, contact_sheet(faces, seed=seed, tile=tile, variants=2))
    return out


def spoofify(src: Path, out: Path, kind: str | None, per_image: int, seed: int, crop: int = 0) -> int:
    """Write ``per_image`` synthetic spoofs of every image under ``src``.

    The simulations work at face-crop scale (a halftone dot or a sub-pixel is a fraction of a
    crop pixel), so with ``crop`` > 0 each image is first cut to its face with context (2 x the
    service's face box, ``crop`` px square, the evaluator can detect it again); images without a
    face are skipped. ``crop=0`` spoofs whole images as they are.
    """
    rng = np.random.default_rng(seed)
    n = 0
    for path in sorted(p for p in src.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        rgb = read_image_file(str(path))
        if crop:
            boxes = FaceEngine().detect(rgb)
            if not boxes:
                continue
            rgb = crop_face(rgb, boxes[0], CropSpec(crop, 2.0))
        for i in range(per_image):
            write_rgb(out / f"{path.stem}_{kind or 'mix'}{i}.png", make_spoof(rgb, rng, kind))
            n += 1
    return n


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ml.augment", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_sheet = sub.add_parser("sheet", help="contact sheet of all augmentations")
    p_sheet.add_argument("--out", type=Path, default=Path("runs/augment-sheet.png"))
    p_sheet.add_argument("--src", type=Path, help="folder of face images (default: the synthetic test face)")
    p_sheet.add_argument("--size", type=int, default=112, help="crop size the augmentations run at")
    p_sheet.add_argument("--rows", type=int, default=2)
    p_sheet.add_argument("--tile", type=int, default=160, help="tile side in the sheet (nearest-neighbour enlargement)")
    p_sheet.add_argument("--seed", type=int, default=0)
    p_spoof = sub.add_parser("spoofify", help="synthetic spoofs of a folder of live faces")
    p_spoof.add_argument("--src", type=Path, required=True)
    p_spoof.add_argument("--out", type=Path, required=True)
    p_spoof.add_argument("--kind", choices=sorted(SPOOF_KINDS), help="species (default: the training mix)")
    p_spoof.add_argument("--per-image", type=int, default=1)
    p_spoof.add_argument("--seed", type=int, default=0)
    p_spoof.add_argument("--crop", type=int, default=0, help="cut each image to its face (this many px) before spoofing")
    args = parser.parse_args(argv)
    if args.cmd == "sheet":
        print(sheet(args.out, args.src, args.size, args.rows, args.seed, args.tile))
    else:
        print(f"wrote {spoofify(args.src, args.out, args.kind, args.per_image, args.seed, args.crop)} images to {args.out}")


if __name__ == "__main__":
    main()
