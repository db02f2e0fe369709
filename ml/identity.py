"""How well 1:1 identity matching separates people at a given tolerance.

    python -m ml.identity --data ../shared/datasets/identity --json runs/identity.json

DIR holds ``<set>/<person>/<image>`` folders. Every face goes through the service's own
detector and encoder (webapp.face), then every pair of images is a genuine pair (same person)
or an impostor pair (two people of the same set: the hard case of look-alike conditions).
Reported per tolerance: FNMR (genuine pairs rejected) and FMR (impostor pairs accepted),
the ISO/IEC 19795-1 verification error rates, plus the EER. A pair compares one image with
one other image; at login the service takes the nearest of several templates, which lowers
FNMR further, so these are conservative figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml.datasets.layout import IMAGE_SUFFIXES
from webapp.face import FaceEngine, ImageError, read_image_file

DEFAULT_TOLERANCES = (0.4, 0.45, 0.5, 0.55, 0.6)


@dataclass(frozen=True)
class Face:
    group: str  # set name: impostor pairs stay within one set
    person: str
    path: Path
    encoding: np.ndarray


def encode_folder(root: Path, engine: FaceEngine) -> tuple[list[Face], int]:
    """Encode the largest face of every image; count the images without a usable face."""
    faces, missed = [], 0
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        rel = path.relative_to(root).parts
        if len(rel) < 3:
            continue
        try:
            rgb = read_image_file(str(path))
        except ImageError:
            missed += 1
            continue
        boxes = engine.detect(rgb)
        if not boxes:
            missed += 1
            continue
        enc = engine.observe(rgb, boxes[0], encode=True).encoding
        assert enc is not None
        faces.append(Face(rel[0], rel[1], path, enc))
    return faces, missed


def pair_distances(faces: Sequence[Face]) -> tuple[np.ndarray, np.ndarray]:
    genuine: list[float] = []
    impostor: list[float] = []
    for a, b in itertools.combinations(faces, 2):
        if a.group != b.group:
            continue
        d = float(np.linalg.norm(a.encoding - b.encoding))
        (genuine if a.person == b.person else impostor).append(d)
    return np.asarray(genuine), np.asarray(impostor)


def rates(genuine: np.ndarray, impostor: np.ndarray, tolerances: Sequence[float]) -> dict[str, Any]:
    table = {f"{t:.2f}": {"fnmr": float((genuine > t).mean()), "fmr": float((impostor <= t).mean())} for t in tolerances}
    grid = np.linspace(0.2, 0.9, 701)
    fnmr = np.array([(genuine > t).mean() for t in grid])
    fmr = np.array([(impostor <= t).mean() for t in grid])
    i = int(np.argmin(np.abs(fnmr - fmr)))
    return {
        "by_tolerance": table,
        "eer": float((fnmr[i] + fmr[i]) / 2),
        "eer_tolerance": float(grid[i]),
        "genuine_pairs": len(genuine),
        "impostor_pairs": len(impostor),
        "genuine_distance_median": float(np.median(genuine)) if len(genuine) else None,
        "impostor_distance_median": float(np.median(impostor)) if len(impostor) else None,
    }


def evaluate(root: Path, tolerances: Sequence[float] = DEFAULT_TOLERANCES) -> dict[str, Any]:
    faces, missed = encode_folder(root, FaceEngine())
    genuine, impostor = pair_distances(faces)
    report: dict[str, Any] = {"images_with_face": len(faces), "images_without_face": missed, "all": rates(genuine, impostor, tolerances)}
    for group in sorted({f.group for f in faces}):
        g, i = pair_distances([f for f in faces if f.group == group])
        report[group] = rates(g, i, tolerances)
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    report = evaluate(args.data)
    print(f"images with a face: {report['images_with_face']}, without: {report['images_without_face']}")
    print(f"{'set':12s} {'pairs g/i':>12s}  " + "  ".join(f"t={t:.2f} FNMR/FMR" for t in DEFAULT_TOLERANCES) + "   EER@t")
    for name, r in report.items():
        if not isinstance(r, dict):
            continue
        cells = "  ".join(
            f"{r['by_tolerance'][f'{t:.2f}']['fnmr']:6.3f}/{r['by_tolerance'][f'{t:.2f}']['fmr']:.3f}" for t in DEFAULT_TOLERANCES
        )
        print(f"{name:12s} {r['genuine_pairs']:>5d}/{r['impostor_pairs']:<6d}  {cells}   {r['eer']:.3f}@{r['eer_tolerance']:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
