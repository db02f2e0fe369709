"""Dense landmark tracks of photo attacks: stills with sensor noise, hand-held and tilted photos.

    python -m ml.blink.stills [--per-person 2] [--frames 75] [--force]

Sources (nothing is committed; tracks are cached under ``.cache/ml/blink/stills/``):

* ``frtest``: face_recognition 1.3.0's own test photos (obama, obama2, obama3, biden), fetched
  by ``tests/support/faces.py`` from the PyPI sdist;
* ``5celeb``, ``deepface``, ``sivakumar``, ``willydev``: the shared identity photos.

``TRAIN_SOURCES`` may be used as negatives in training; ``EVAL_SOURCES`` are held out for the
false-blink figures. Every photo gets a ``still``, a ``handheld`` and a ``tilt`` track (rocked
+-30/35 degrees: the photo trick for fake turns, which also squashes the eyes).
"""

from __future__ import annotations

import argparse
import zlib
from pathlib import Path

import numpy as np

from ml.blink.paths import SHARED_IDENTITY, TRACKS_DIR
from ml.blink.synth import list_photos, photo_track
from ml.blink.tracks import Track, cached, load
from webapp.face import FaceEngine, read_image_file

STILLS_DIR = TRACKS_DIR.parent / "stills"
TRAIN_SOURCES = ("5celeb", "deepface", "willydev")
EVAL_SOURCES = ("frtest", "sivakumar")
FRTEST = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")


def photos(source: str, per_person: int) -> list[Path]:
    if source == "frtest":
        from tests.support.faces import face_photo  # fetches the sdist's photos into .cache once

        return [face_photo(n) for n in FRTEST]
    return list_photos(SHARED_IDENTITY / source, per_person)


# How a photo is held in front of the camera; every source gets every kind (tilted photos are
# negatives in training too).
PHOTO_KINDS = ("still", "handheld", "tilt")


def build(sources: tuple[str, ...], per_person: int, frames: int, force: bool = False, out: Path = STILLS_DIR) -> list[Track]:
    engine = FaceEngine()
    tracks: list[Track] = []
    for source in sources:
        for photo in photos(source, per_person):
            for kind in PHOTO_KINDS:
                name = f"{source}/{photo.parent.name}_{photo.stem}/{kind}"

                def build(name: str = name, photo: Path = photo, kind: str = kind) -> Track:
                    rng = np.random.default_rng(zlib.crc32(name.encode()))
                    return photo_track(read_image_file(str(photo)), name, kind, rng, engine, n=frames)

                tracks.append(cached(name, build, out, force))
    return tracks


def load_all(sources: tuple[str, ...], out: Path = STILLS_DIR) -> list[Track]:
    """Every cached still track of ``sources`` (build them first with the CLI)."""
    found = []
    for src in sources:
        for path in sorted(out.glob(f"{src}__*.npz")):
            found.append(load(path.stem.replace("__", "/"), out))
    return found


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-person", type=int, default=2)
    ap.add_argument("--frames", type=int, default=75)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--sources", nargs="*", default=[*TRAIN_SOURCES, *EVAL_SOURCES])
    args = ap.parse_args(argv)
    tracks = build(tuple(args.sources), args.per_person, args.frames, args.force)
    for kind in PHOTO_KINDS:
        sel = [t for t in tracks if t.name.endswith(kind)]
        if sel:
            face = np.mean([t.has_face.mean() for t in sel])
            print(f"{kind:9s} {len(sel):3d} tracks, face found in {face:.0%} of frames")


if __name__ == "__main__":
    main()
